import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import { hubPaths, openHub } from '../src/hub/index.js';
import { captureIo } from './support/cli-capture.js';
import { cliProcess, freePort, serveProcess, stopProcess } from './support/serve-process.js';

const PATIENT = { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1970-03-04' };
const OBSERVATION = {
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] },
  subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2021-05-01',
  valueQuantity: { value: 161, unit: 'cm' },
};

/** Runs `main` as the CLI does and keeps what it printed. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main(args, c.io);
  return { code, out: c.out, err: c.err };
}

/** Whether another user (nobody) can connect to the socket at `path`: its error code, or 'connected'. */
function connectAsNobody(path: string): Promise<string> {
  const script = `require('node:net').connect(${JSON.stringify(path)})
    .on('connect', () => { console.log('connected'); process.exit(0); })
    .on('error', (e) => { console.log(e.code); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => resolve(out.trim()));
  });
}

describe('CLI commands while `healthmesh serve` holds the store (admin socket)', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-admin-'));
  const dir = join(root, 'hub');
  const paths = hubPaths(dir);
  let server: ChildProcess;
  let base = '';
  let adminToken = '';

  const fhir = (path: string, token: string) =>
    fetch(`${base}/fhir/${path}`, { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    expect((await cli(['init', '--dir', dir, '--name', 'admin-test'])).code).toBe(0);
    adminToken = readFileSync(paths.adminToken, 'utf8').trim();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const served = await serveProcess(dir, port);
    server = served.child;
    expect(served.output()).toContain(`admin socket for the CLI: ${paths.adminSocket}`);
  }, 120_000);

  afterAll(async () => {
    if (server) await stopProcess(server, 'SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('listens on an owner-only socket: the socket 0600 in a 0700 directory', () => {
    expect(statSync(paths.adminSocket).isSocket()).toBe(true);
    expect(statSync(paths.adminSocket).mode & 0o777).toBe(0o600);
    expect(statSync(paths.runDir).mode & 0o777).toBe(0o700);
  });

  // Needs root to act as a second user; as root, each layer is opened up in turn to test the other alone.
  it.runIf(process.getuid?.() === 0)('refuses another user: by the directory, and by the socket itself', async () => {
    chmodSync(root, 0o711);
    chmodSync(dir, 0o711);
    try {
      expect(await connectAsNobody(paths.adminSocket)).toBe('EACCES');
      chmodSync(paths.runDir, 0o711);
      expect(await connectAsNobody(paths.adminSocket)).toBe('EACCES');
    } finally {
      chmodSync(paths.runDir, 0o700);
      chmodSync(dir, 0o700);
      chmodSync(root, 0o700);
    }
  });

  it('creates a token that works at once, and revokes it so its very next request gets 401', async () => {
    const created = await cli(['token', 'create', 'kim.steward', '--role', 'steward', '--dir', dir]);
    expect(created.err).toContain('created: shown once');
    expect(created.code).toBe(0);
    const token = created.out.trim();
    expect(token).toMatch(/^hm_/);
    // Twice: the second answer comes from the server's token cache, which revocation must empty.
    expect((await fhir('Patient', token)).status).toBe(200);
    expect((await fhir('Patient', token)).status).toBe(200);

    // Revoked from a CLI process of its own, as an operator would.
    const revoked = await cliProcess(['token', 'revoke', 'kim.steward', '--dir', dir]);
    expect(revoked.err).toBe('');
    expect(revoked.out).toBe('1 token of kim.steward revoked\n');
    expect(revoked.code).toBe(0);
    expect((await fhir('Patient', token)).status).toBe(401);
    expect((await fhir('Patient', adminToken)).status).toBe(200);
  }, 60_000);

  it('answers with the same exit codes as a stopped hub: 1 for nothing to revoke and for a bad role', async () => {
    const none = await cli(['token', 'revoke', 'kim.steward', '--dir', dir]);
    expect(none.out).toBe('0 tokens of kim.steward revoked\n');
    expect(none.code).toBe(1);
    const badRole = await cli(['token', 'create', 'lee', '--role', 'overlord', '--dir', dir]);
    expect(badRole.err).toContain('error AUTH_INVALID_ROLE:');
    expect(badRole.code).toBe(1);
    const boundSteward = await cli(['token', 'create', 'lee', '--role', 'steward', '--source', 'x', '--dir', dir]);
    expect(boundSteward.err).toContain('error AUTH_INVALID_ROLE:');
    expect(boundSteward.code).toBe(1);
  });

  it('manages accounts while serving: one made by the CLI signs in at once, and disabling it ends its session', async () => {
    const passwordFile = join(root, 'password.txt');
    writeFileSync(passwordFile, 'a long enough password\n', { mode: 0o600 });
    const made = await cli([
      'account',
      'create',
      'kim.researcher',
      '--role',
      'researcher',
      '--sign-in-name',
      'kim@cnuh.example.kr',
      '--password-file',
      passwordFile,
      '--dir',
      dir,
    ]);
    expect(made.err).toBe('account kim.researcher (researcher) created\n');
    expect(made.code).toBe(0);
    const signIn = () =>
      fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'kim@cnuh.example.kr', password: 'a long enough password' }),
      });
    const session = (await (await signIn()).json()) as { accessToken: string };
    const me = () => fetch(`${base}/auth/me`, { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(((await (await me()).json()) as { role: string }).role).toBe('researcher');
    expect((await cli(['account', 'set-role', 'kim.researcher', 'steward', '--dir', dir])).code).toBe(0);
    expect(((await (await me()).json()) as { role: string }).role).toBe('steward');
    const disabled = await cli(['account', 'disable', 'kim.researcher', '--dir', dir]);
    expect(disabled.out).toBe('kim.researcher: disabled\n');
    expect((await me()).status).toBe(401);
    expect((await signIn()).status).toBe(401);
    const list = await cli(['account', 'list', '--dir', dir, '--json']);
    expect(JSON.parse(list.out)).toMatchObject([{ handle: 'kim.researcher', role: 'steward', status: 'disabled' }]);
    const unknown = await cli(['account', 'unlock', 'nobody', '--dir', dir]);
    expect(unknown.err).toContain('error ACCOUNT_UNKNOWN:');
    expect(unknown.code).toBe(1);
  });

  it('lists tokens with their bound sources', async () => {
    expect((await cli(['token', 'create', 'feed', '--role', 'service', '--source', 'clinic', '--dir', dir])).code).toBe(
      0,
    );
    const list = await cli(['token', 'list', '--dir', dir, '--json']);
    expect(list.code).toBe(0);
    const holders = JSON.parse(list.out) as { name: string; role: string; sources: string[]; createdAt: string }[];
    expect(holders.map((h) => h.name)).toEqual(['admin', 'feed']);
    expect(holders[1]).toMatchObject({ role: 'service', sources: ['clinic'] });
    expect(Number.isNaN(Date.parse(holders[1]!.createdAt))).toBe(false);
  });

  it('ingests a file the serving process reads itself; the records are searchable through the running server', async () => {
    const file = join(root, 'small.ndjson');
    writeFileSync(file, `${JSON.stringify(PATIENT)}\n${JSON.stringify(OBSERVATION)}\n`);
    const run = await cli(['ingest', '--dir', dir, '--source', 'clinic', file]);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^Patient\s+1\s+0\s+0$/m);
    expect(run.out).toMatch(/^Observation\s+1\s+0\s+0$/m);
    expect(run.out).toMatch(/analytic tables refreshed: \d+ resources flattened/);

    const search = await fhir('Observation?code=http://loinc.org|8302-2', adminToken);
    expect(search.status).toBe(200);
    const bundle = (await search.json()) as { total: number; entry: { resource: { valueQuantity: unknown } }[] };
    expect(bundle.total).toBe(1);
    expect(bundle.entry[0]?.resource.valueQuantity).toEqual({ value: 161, unit: 'cm' });
  }, 60_000);

  it('exits 1 when the serving process rejected a record, and 1 for a path it cannot read', async () => {
    const file = join(root, 'bad.ndjson');
    writeFileSync(file, '{"resourceType":"Patient","gender":42}\n');
    const run = await cli(['ingest', '--dir', dir, '--source', 'clinic', '--json', file]);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.out).totals.rejected).toBe(1);
    const missing = await cli(['ingest', '--dir', dir, join(root, 'missing.ndjson')]);
    expect(missing.err).toContain('error INGEST_UNREADABLE:');
    expect(missing.code).toBe(1);
  });

  it('prints stats and verifies the audit log', async () => {
    const stats = await cli(['stats', '--dir', dir, '--json']);
    expect(stats.code).toBe(0);
    expect(JSON.parse(stats.out)).toMatchObject({ hub: 'admin-test', resources: 2, patients: 1, versions: 2 });
    const text = await cli(['stats', '--dir', dir]);
    expect(text.out).toMatch(/^hub admin-test \(data\): 2 resources, 2 versions, 1 patients, \d+ audit entries\n/);
    const audit = await cli(['audit', 'verify', '--dir', dir]);
    expect(audit.out).toMatch(/^audit log intact: \d+ entries, \d+ signed checkpoints\n$/);
    expect(audit.code).toBe(0);
  });

  it('removes its socket on a clean stop, and the audit log names the socket and labels the file', async () => {
    expect(await stopProcess(server, 'SIGTERM')).toBe(0);
    expect(existsSync(paths.adminSocket)).toBe(false);
    // The server signed a checkpoint of what it appended as it shut down.
    const checkpoints = readFileSync(paths.auditCheckpoints, 'utf8').trim().split('\n');
    expect(checkpoints.length).toBeGreaterThan(1);
    const hub = await openHub(dir, { logger: silentLogger() });
    try {
      const rows = await hub.db.all<{ actor: string; action: string; target: string; outcome: string }>(
        'SELECT actor, action, target, outcome FROM audit_log ORDER BY seq',
      );
      const byCli = rows.filter((r) => r.actor.startsWith('cli') && r.action !== 'init');
      expect(byCli.length).toBeGreaterThan(0);
      expect(byCli.every((r) => r.actor === 'cli:admin-socket')).toBe(true);
      expect(byCli).toContainEqual({
        actor: 'cli:admin-socket',
        action: 'token-revoke',
        target: 'token:kim.steward',
        outcome: 'success',
      });
      expect(byCli).toContainEqual({
        actor: 'cli:admin-socket',
        action: 'ingest',
        target: `file:${hub.pseudonymiser.pathLabel(join(root, 'small.ndjson'))}`,
        outcome: 'success',
      });
      expect(JSON.stringify(rows)).not.toContain(root);
      const last = JSON.parse(checkpoints.at(-1) ?? '{}') as { seq: number };
      expect(rows.at(last.seq)).toMatchObject({ action: 'audit-checkpoint' });
    } finally {
      await hub.close();
    }
  });

  it('without a serving hub the same commands open the store themselves', async () => {
    const created = await cli(['token', 'create', 'park', '--role', 'researcher', '--dir', dir]);
    expect(created.code).toBe(0);
    expect((await cli(['token', 'revoke', 'park', '--dir', dir])).out).toBe('1 token of park revoked\n');
    expect(JSON.parse((await cli(['stats', '--dir', dir, '--json'])).out)).toMatchObject({ resources: 2 });
    expect((await cli(['audit', 'verify', '--dir', dir])).code).toBe(0);
    const hub = await openHub(dir, { logger: silentLogger() });
    try {
      const [last] = await hub.db.all<{ actor: string }>(
        "SELECT actor FROM audit_log WHERE action = 'token-revoke' ORDER BY seq DESC LIMIT 1",
      );
      expect(last?.actor).toBe('cli');
    } finally {
      await hub.close();
    }
  });

  it('after a crash, works directly past the stale socket, and a new serve replaces it', async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = (await serveProcess(dir, port)).child;
    await stopProcess(server, 'SIGKILL');
    expect(statSync(paths.adminSocket).isSocket()).toBe(true); // left behind, nobody answers on it
    expect((await cli(['stats', '--dir', dir])).code).toBe(0);

    server = (await serveProcess(dir, port)).child;
    const created = await cli(['token', 'create', 'choi', '--role', 'steward', '--dir', dir]);
    expect(created.code).toBe(0);
    expect((await fhir('Patient', created.out.trim())).status).toBe(200);
  }, 120_000);
});
