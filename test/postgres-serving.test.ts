import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/core/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { generateRegion } from '../src/synth/index.js';
import { freePort, serveProcess } from './support/serve-process.js';
import { ingestOptions } from './support/temp-hub.js';
import { testHubConfig } from './support/test-engine.js';

/** A hub on PostgreSQL served by two processes at once, with the CLI working beside them (issue 15). */
const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const run = promisify(execFile);
const AMB = {
  name: 'People with an outpatient visit',
  conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
  entry: { domain: 'encounter', conceptSet: 'amb' },
};

const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', CLI, ...args], { encoding: 'utf8' });

describe('a hub on PostgreSQL served by two processes', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-pg-serve-'));
  const dir = join(root, 'hub');
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  let admin = '';

  beforeAll(async () => {
    const out = join(root, 'synth');
    generateRegion({ region: 'busan', people: 150, seed: 'postgres-serving', out });
    ({ adminToken: admin } = await initHub(dir, {
      name: 'busan',
      config: { ...(await testHubConfig()) },
      logger: silentLogger(),
    }));
    const hub = await openHub(dir, { logger: silentLogger() });
    const files = readdirSync(out)
      .filter((f) => f.endsWith('.ndjson') && !f.startsWith('Observation'))
      .map((f) => join(out, f));
    await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: 'synth-busan' }));
    await hub.close();
    for (let i = 0; i < 2; i++) {
      ports.push(await freePort());
      children.push((await serveProcess(dir, ports[i]!)).child);
    }
  }, 300_000);

  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  const get = (i: number, path: string, token = admin) =>
    fetch(`http://127.0.0.1:${ports[i]}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const cohort = async (i: number) => {
    const res = await fetch(`http://127.0.0.1:${ports[i]}/cohort/$run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ definition: AMB }),
    });
    expect(res.status).toBe(200);
    return res.json() as Promise<{ count: unknown; attrition?: unknown }>;
  };

  it('answers the same searches and cohorts from either process', async () => {
    const searches = ['/fhir/Patient?_count=500', '/fhir/Encounter?class=AMB&_count=20', '/fhir/Condition?_count=50'];
    for (const s of searches) {
      const [a, b] = await Promise.all([get(0, s), get(1, s)]);
      expect(a.status).toBe(200);
      type Page = { total?: number; entry?: { resource: unknown }[] };
      const [ja, jb] = [(await a.json()) as Page, (await b.json()) as Page];
      expect(ja.entry?.length ?? 0).toBeGreaterThan(0);
      // The same resources in the same order (fullUrl names the process's own port).
      expect(jb.entry?.map((e) => e.resource)).toEqual(ja.entry?.map((e) => e.resource));
      expect(jb.total).toEqual(ja.total);
    }
    const [ca, cb] = await Promise.all([cohort(0), cohort(1)]);
    expect(JSON.stringify(ca)).toMatch(/\d/);
    expect(cb.count).toEqual(ca.count);
  }, 120_000);

  it('creates and revokes a token from the CLI while both serve; the revoked token gets 401 at once', async () => {
    const created = await cli('token', 'create', 'kim.steward', '--role', 'steward', '--dir', dir);
    const token = created.stdout.trim().split('\n').at(-1)!.trim();
    expect(token.length).toBeGreaterThan(20);
    expect((await get(0, '/fhir/Patient?_count=1', token)).status).toBe(200);
    expect((await get(1, '/fhir/Patient?_count=1', token)).status).toBe(200);
    await cli('token', 'revoke', 'kim.steward', '--dir', dir);
    expect((await get(0, '/fhir/Patient?_count=1', token)).status).toBe(401);
    expect((await get(1, '/fhir/Patient?_count=1', token)).status).toBe(401);
  }, 120_000);

  it('ingests from the CLI while both serve, and both processes see the new records', async () => {
    const before = (await (await get(0, '/fhir/Observation?_count=1&_total=accurate')).json()) as { total?: number };
    const obs = readdirSync(join(root, 'synth')).filter((f) => f.startsWith('Observation'));
    expect(obs.length).toBeGreaterThan(0);
    await cli('ingest', '--dir', dir, '--source', 'synth-busan', ...obs.map((f) => join(root, 'synth', f)));
    const after = await Promise.all(
      [0, 1].map(
        async (i) => ((await (await get(i, '/fhir/Observation?_count=1')).json()) as { total?: number }).total,
      ),
    );
    expect(after[0]).toBeGreaterThan(before.total ?? 0);
    expect(after[1]).toBe(after[0]);
    const verify = await cli('audit', 'verify', '--dir', dir);
    expect(verify.stdout + verify.stderr).toMatch(/intact|verified/i);
  }, 300_000);
});
