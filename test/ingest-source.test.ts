import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { destination } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import { createLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { hubPaths, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { captureIo } from './support/cli-capture.js';

const RRN = '900101-1234567';
const NAME = '홍길동';
/** Sources that are a person's identifiers, not a system's name: each must be refused everywhere. */
const BAD_SOURCES = [RRN, NAME, `${NAME}-${RRN}`, `hong${RRN.replace('-', '')}`];

const bundle = (gender: string) => ({
  resourceType: 'Bundle',
  type: 'batch',
  entry: [{ resource: { resourceType: 'Patient', id: 'p1', gender }, request: { method: 'PUT', url: 'Patient/p1' } }],
});

const codeOf = (body: string): string => JSON.parse(body).issue[0].details.coding[0].code;

describe('the source a write names', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-source-'));
  const dir = join(root, 'hub');
  const tokens: Record<string, string> = {};
  let hub: Hub;
  let app: FastifyInstance;

  const openWithLog = () =>
    openHub(dir, {
      // The hub's own log file, written synchronously so the test reads everything the hub logged.
      logger: createLogger({ destination: destination({ dest: hubPaths(dir).log, sync: true, mkdir: true }) }),
    });

  beforeAll(async () => {
    expect(await main(['init', '--dir', dir, '--name', 'sources'], captureIo().io)).toBe(0);
    tokens.admin = readFileSync(hubPaths(dir).adminToken, 'utf8').trim();
    const make = async (name: string, ...args: string[]) => {
      const c = captureIo();
      expect(await main(['token', 'create', name, '--dir', dir, ...args], c.io)).toBe(0);
      return c.out.trim();
    };
    tokens.cnuh = await make('cnuh-feed', '--role', 'service', '--source', 'chonnam-uh');
    tokens.unbound = await make('plain-feed', '--role', 'service');
    tokens.steward = await make('curator', '--role', 'steward');
    hub = await openWithLog();
    app = await buildServer(hub);
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const post = (token: string, url: string, payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', ...headers },
      payload: JSON.stringify(payload),
    });

  it('lets a service token write only under its bound source, and refuses others with an audit entry', async () => {
    expect((await post(tokens.admin!, '/fhir?source=other-hosp', bundle('female'))).statusCode).toBe(200);
    const other = hub.pseudonymiser.patientKey('other-hosp', 'p1');
    const before = await hub.store.read('Patient', other);
    expect(before?.version).toBe(1);

    const refused = await post(tokens.cnuh!, '/fhir?source=other-hosp', bundle('male'));
    expect(refused.statusCode).toBe(403);
    expect(codeOf(refused.body)).toBe('AUTH_SOURCE_FORBIDDEN');
    const byHeader = await post(tokens.cnuh!, '/fhir', bundle('male'), { 'x-healthmesh-source': 'other-hosp' });
    expect(codeOf(byHeader.body)).toBe('AUTH_SOURCE_FORBIDDEN');
    // Unbound, a service token writes only the hub's defaultSource.
    const unbound = await post(tokens.unbound!, '/fhir?source=other-hosp', bundle('male'));
    expect(codeOf(unbound.body)).toBe('AUTH_SOURCE_FORBIDDEN');
    expect(await hub.store.read('Patient', other)).toEqual(before);

    // The audit entry is appended once the response has gone (an onResponse hook).
    await vi.waitFor(async () => {
      const denied = (await hub.audit.recent(10)).filter((e) => e.outcome === 'denied');
      expect(denied.map((e) => [e.actor, e.detail?.source])).toEqual(
        expect.arrayContaining([
          ['cnuh-feed', 'other-hosp'],
          ['plain-feed', 'other-hosp'],
        ]),
      );
    });

    expect((await post(tokens.cnuh!, '/fhir?source=chonnam-uh', bundle('male'))).statusCode).toBe(200);
    expect((await post(tokens.unbound!, '/fhir', bundle('male'))).statusCode).toBe(200);
    expect((await post(tokens.steward!, '/fhir?source=another-one', bundle('male'))).statusCode).toBe(200);
  });

  it('refuses a console upload under a source its service token is not bound to', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/console/ingest?name=feed.ndjson&source=other-hosp',
      headers: { authorization: `Bearer ${tokens.cnuh}`, 'content-type': 'application/octet-stream' },
      payload: Buffer.from(`${JSON.stringify({ resourceType: 'Patient', id: 'p1', gender: 'other' })}\n`),
    });
    expect(res.statusCode).toBe(403);
    expect(codeOf(res.body)).toBe('AUTH_SOURCE_FORBIDDEN');
    expect((await hub.store.read('Patient', hub.pseudonymiser.patientKey('other-hosp', 'p1')))?.version).toBe(1);
  });

  it('refuses a registration number or a name as a source on every write path, and keeps it out of every record', async () => {
    for (const source of BAD_SOURCES) {
      for (const token of [tokens.admin!, tokens.cnuh!]) {
        const q = await post(token, `/fhir?source=${encodeURIComponent(source)}`, bundle('female'));
        expect(q.statusCode, source).toBe(400);
        expect(codeOf(q.body)).toBe('INGEST_INVALID_SOURCE');
        const upload = await app.inject({
          method: 'POST',
          url: `/console/ingest?name=feed.ndjson&source=${encodeURIComponent(source)}`,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
          payload: Buffer.from(`${JSON.stringify({ resourceType: 'Patient', id: 'p2', gender: 'other' })}\n`),
        });
        expect(upload.statusCode, source).toBe(400);
        expect(codeOf(upload.body)).toBe('INGEST_INVALID_SOURCE');
      }
    }
    const header = await post(tokens.admin!, '/fhir', bundle('female'), { 'x-healthmesh-source': RRN });
    expect(codeOf(header.body)).toBe('INGEST_INVALID_SOURCE');

    await app.close();
    await hub.close();
    const input = join(root, 'in.ndjson');
    writeFileSync(input, `${JSON.stringify({ resourceType: 'Patient', id: 'p3', gender: 'male' })}\n`);
    for (const source of BAD_SOURCES) {
      const c = captureIo();
      expect(await main(['ingest', '--dir', dir, '--source', source, input], c.io)).toBe(1);
      expect(c.err).toContain('INGEST_INVALID_SOURCE');
      expect(c.err).not.toContain(source);
    }
    // Sanity: a valid source through the same command is logged, so the log scan below can see what ingest logs.
    expect(await main(['ingest', '--dir', dir, '--source', 'chonnam-uh', input], captureIo().io)).toBe(0);

    hub = await openWithLog();
    app = await buildServer(hub);
    const tables = await hub.db.all<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'",
    );
    let stored = '';
    for (const t of tables) {
      const rows = await hub.db.all<Record<string, unknown>>(`SELECT * FROM "${t.table_name}"`);
      stored += JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
    }
    expect(stored).toContain('chonnam-uh'); // the scan reads the audit log's details
    const log = existsSync(hubPaths(dir).log) ? readFileSync(hubPaths(dir).log, 'utf8') : '';
    for (const needle of [RRN, RRN.replace('-', ''), NAME]) {
      expect(stored, needle).not.toContain(needle);
      expect(log, needle).not.toContain(needle);
    }
  });

  it('binds only service tokens to sources, and only to well-formed ones', async () => {
    await app.close();
    await hub.close();
    const steward = captureIo();
    expect(await main(['token', 'create', 'x', '--role', 'steward', '--source', 'a', '--dir', dir], steward.io)).toBe(
      1,
    );
    expect(steward.err).toContain('AUTH_INVALID_ROLE');
    const bad = captureIo();
    expect(await main(['token', 'create', 'y', '--role', 'service', '--source', RRN, '--dir', dir], bad.io)).toBe(1);
    expect(bad.err).toContain('INGEST_INVALID_SOURCE');
    const list = captureIo();
    expect(await main(['token', 'list', '--json', '--dir', dir], list.io)).toBe(0);
    const listed = JSON.parse(list.out) as { name: string; sources: string[] }[];
    expect(listed.find((t) => t.name === 'cnuh-feed')?.sources).toEqual(['chonnam-uh']);
    expect(listed.map((t) => t.name)).not.toContain('y');
    hub = await openWithLog();
    app = await buildServer(hub);
  });
});
