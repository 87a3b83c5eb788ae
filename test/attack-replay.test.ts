import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import { OperationRegistry } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { hubPaths, openHub } from '../src/hub/index.js';
import { rewriteUnkeyed } from './support/audit-rewrite.js';
import { captureIo } from './support/cli-capture.js';
import { exportFinished } from './support/export-status.js';
import { serveFederated } from './support/peer-servers.js';
import { streamBody } from './support/stream-body.js';

/**
 * Issue 19's attacks, each replayed once on one fresh hub made as an operator makes it (`healthmesh init` into a
 * directory that already exists): each is refused or harmless. The per-fault tests named beside each case hold the
 * thorough versions; this file shows the list holds together on one hub.
 */
const RRN = '900101-1234567';
const NAME = '홍길동';
const modeOf = (path: string) => statSync(path).mode & 0o777;
// biome-ignore lint/suspicious/noExplicitAny: OperationOutcome JSON read back in assertions
type Json = Record<string, any>;
const codeOf = (body: Json): string | undefined => body.issue?.[0]?.details?.coding?.[0]?.code;

describe('the attacks of issue 19, replayed on a fresh hub', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-replay-'));
  const dir = join(root, 'hub');
  let hub: Hub;
  let app: FastifyInstance;
  let base = '';
  const tokens: Record<string, string> = {};
  const auditRows = async () => Number((await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log'))[0]?.n);
  /** The row count once the audit entries of earlier requests (appended after their responses) have landed. */
  const settledAuditRows = async () => {
    for (let n = await auditRows(), i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const again = await auditRows();
      if (again === n) return n;
      n = again;
    }
    throw new Error('the audit log kept growing');
  };
  const call = async (method: 'GET' | 'POST', url: string, token: string | undefined, payload?: unknown) => {
    const res = await app.inject({
      method,
      url,
      headers: { ...(token && { authorization: `Bearer ${token}` }), 'content-type': 'application/fhir+json' },
      ...(payload !== undefined && { payload: JSON.stringify(payload) }),
    });
    return { status: res.statusCode, code: codeOf(res.json<Json>()), body: res.body };
  };
  const patientBundle = (id: string, gender: string) => ({
    resourceType: 'Bundle',
    type: 'batch',
    entry: [{ resource: { resourceType: 'Patient', id, gender }, request: { method: 'PUT', url: `Patient/${id}` } }],
  });

  beforeAll(async () => {
    // init into a directory and a secrets/ an earlier attempt left world-readable
    mkdirSync(join(dir, 'secrets'), { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'secrets'), 0o755);
    expect(await main(['init', '--dir', dir, '--name', 'replay'], captureIo().io)).toBe(0);
    // the CLI reading a file whose name holds a person's name and RRN
    const input = join(root, `${NAME}-${RRN}.ndjson`);
    writeFileSync(input, `${JSON.stringify({ resourceType: 'Patient', id: 'a', gender: 'female' })}\n`);
    expect(await main(['ingest', '--dir', dir, '--source', 'clinic', input], captureIo().io)).toBe(0);

    hub = await openHub(dir, { logger: silentLogger() });
    tokens.admin = readFileSync(hubPaths(dir).adminToken, 'utf8').trim();
    tokens.feed = await hub.tokens.create('cnuh-feed', 'service', { sources: ['cnuh'] });
    tokens.alice = await hub.tokens.create('alice', 'steward');
    tokens.bob = await hub.tokens.create('bob', 'steward');
    ({ app } = await serveFederated(hub, new OperationRegistry()));
    base = app.listeningOrigin;
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('init into an existing 0755 directory leaves it, its secrets and its store owner-only (hub-permissions)', () => {
    const paths = hubPaths(dir);
    expect([modeOf(dir), modeOf(paths.secretsDir), modeOf(paths.store)]).toEqual([0o700, 0o700, 0o600]);
    for (const f of readdirSync(paths.secretsDir)) expect(modeOf(join(paths.secretsDir, f)), f).toBe(0o600);
  });

  it('the CLI writes no raw file path to the audit log (cli-audit-paths)', async () => {
    const text = JSON.stringify(await hub.db.all('SELECT target, CAST(detail AS VARCHAR) AS d FROM audit_log'));
    for (const needle of [NAME, '900101', '1234567', root]) expect(text, needle).not.toContain(needle);
  });

  it('a service token cannot write under another source, nor overwrite its Patient (ingest-source)', async () => {
    expect((await call('POST', '/fhir?source=other-hosp', tokens.admin, patientBundle('p1', 'female'))).status).toBe(
      200,
    );
    const other = hub.pseudonymiser.patientKey('other-hosp', 'p1');
    const before = await hub.store.read('Patient', other);
    const refused = await call('POST', '/fhir?source=other-hosp', tokens.feed, patientBundle('p1', 'male'));
    expect([refused.status, refused.code]).toEqual([403, 'AUTH_SOURCE_FORBIDDEN']);
    expect(await hub.store.read('Patient', other)).toEqual(before);
  });

  it('an RRN or a name as a source is refused and reaches neither the audit log nor the answer (ingest-source)', async () => {
    for (const source of [RRN, NAME]) {
      const r = await call(
        'POST',
        `/fhir?source=${encodeURIComponent(source)}`,
        tokens.admin,
        patientBundle('x', 'male'),
      );
      expect([r.status, r.code]).toEqual([400, 'INGEST_INVALID_SOURCE']);
      expect(r.body).not.toContain('1234567');
    }
    const text = JSON.stringify(await hub.db.all('SELECT target, CAST(detail AS VARCHAR) AS d FROM audit_log'));
    expect(text).not.toContain('1234567');
    expect(text).not.toContain(NAME);
  });

  it('four unsigned 200 MB federation bodies are refused before they are read (federation)', async () => {
    const total = 200 * 1024 * 1024;
    const before = process.memoryUsage().arrayBuffers;
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => streamBody(`${base}/federation/hub.ping`, total)),
    );
    for (const r of answers) {
      expect([r.status, r.code]).toEqual([401, 'FEDERATION_MISSING_SIGNATURE']);
      expect(r.written).toBeLessThan(total / 2);
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(total / 2);
  });

  it('a batch Bundle of 100,000 entries is refused by its count, storing nothing (request-limits)', async () => {
    const before = await hub.store.count('Observation');
    const entry = Array.from({ length: 100_000 }, (_, i) => ({
      resource: { resourceType: 'Observation', id: `o${i}`, status: 'final', code: { text: 'x' } },
      request: { method: 'PUT', url: `Observation/o${i}` },
    }));
    const t0 = performance.now();
    const r = await call('POST', '/fhir', tokens.admin, { resourceType: 'Bundle', type: 'batch', entry });
    console.log(`100,000-entry Bundle refused in ${Math.round(performance.now() - t0)} ms`);
    expect([r.status, r.code]).toEqual([413, 'INGEST_BUNDLE_TOO_LARGE']);
    expect(await hub.store.count('Observation')).toBe(before);
  });

  it('a deeply nested FHIRPath, a cohort integer of 1e20 and date=2015-13-45 are clear 400s (request-limits, fhir-api)', async () => {
    const view = {
      resourceType: 'Parameters',
      parameter: [
        {
          name: 'viewResource',
          resource: {
            resourceType: 'ViewDefinition',
            resource: 'Patient',
            select: [{ column: [{ name: 'a', path: `${'('.repeat(5000)}id${')'.repeat(5000)}` }] }],
          },
        },
      ],
    };
    const cohort = {
      definition: {
        name: 'big',
        conceptSets: {
          amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] },
        },
        entry: { domain: 'encounter', conceptSet: 'amb' },
        priorObservationDays: 1e20,
      },
    };
    const answers = [
      await call('POST', '/fhir/ViewDefinition/$run', tokens.admin, view),
      await call('POST', '/cohort/$run', tokens.admin, cohort),
      await call('GET', '/fhir/Observation?date=2015-13-45', tokens.admin),
    ];
    expect(answers.map((a) => [a.status, a.code])).toEqual([
      [400, 'VIEW_INVALID_PATH'],
      [400, 'COHORT_INVALID_DEFINITION'],
      [400, 'API_BAD_REQUEST'],
    ]);
  });

  it("another user's export is unknown to a row-level role: no status, no files, no cancel (export-ownership)", async () => {
    const alice = { authorization: `Bearer ${tokens.alice}` };
    const bob = { authorization: `Bearer ${tokens.bob}` };
    const kick = await fetch(`${base}/fhir/$export?_type=Patient`, { headers: { ...alice, prefer: 'respond-async' } });
    expect(kick.status).toBe(202);
    const status = kick.headers.get('content-location')!;
    const done = await exportFinished(status, alice);
    expect(done.status).toBe(200);
    expect(done.headers.get('expires')).toBeTruthy(); // it expires
    const file = ((await done.json()) as { output: { url: string }[] }).output[0]!.url;
    for (const [url, method] of [
      [status, 'GET'],
      [file, 'GET'],
      [status, 'DELETE'],
    ] as const)
      expect((await fetch(url, { method, headers: bob })).status).toBe(404);
    expect((await fetch(file, { headers: alice })).status).toBe(200);
  });

  it('requests without a valid token do not grow the audit log (audit-requests)', async () => {
    const [{ last } = { last: 0 }] = await hub.db.all<{ last: number }>('SELECT MAX(seq) AS last FROM audit_log');
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(`${base}/fhir/Patient`, {
          headers: i % 2 === 0 ? {} : { authorization: `Bearer hm_${'x'.repeat(43)}` },
        }).then((r) => r.status),
      ),
    );
    expect(new Set(answers)).toEqual(new Set([401]));
    await settledAuditRows(); // the entries of earlier requests land after their responses: wait for them
    const anonymous = await hub.db.all('SELECT seq FROM audit_log WHERE seq > $1 AND actor = $2', [
      Number(last),
      'anonymous',
    ]);
    expect(anonymous).toEqual([]);
  });

  // Last: it leaves the chain broken on purpose.
  it('an audit entry rewritten with the chain recomputed is detected (audit-tamper)', async () => {
    expect(await hub.audit.verify()).toMatchObject({ ok: true });
    await rewriteUnkeyed(hub, (r) => (Number(r.seq) === 2 ? { ...r, actor: 'mallory' } : r));
    expect(await hub.audit.verify()).toMatchObject({ ok: false });
  });
});
