import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { runCohort } from '../src/cohort/index.js';
import { createLogger, silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import type { ClusterStatus } from '../src/store/index.js';
import { PostgresDatabase } from '../src/store/index.js';
import { generateRegion } from '../src/synth/index.js';
import { CITUS_NODE_SETTINGS } from './support/citus-setup.js';
import { captureIo } from './support/cli-capture.js';
import { asyncCodeOf } from './support/error-code.js';
import { startPostgres, type ThrowawayPostgres } from './support/postgres-server.js';
import { ingestOptions } from './support/temp-hub.js';
import { registerCitusNodes } from './support/test-engine.js';

/**
 * Operating a hub on Citus (issue 21): a worker added to a serving hub takes shards at a rebalance and every answer
 * stays the same; a worker that is down fails queries with STORE_NODE_UNAVAILABLE, never a partial count, and its
 * return restores them. Its own coordinator and workers, since it adds and stops nodes.
 */
const COHORT_FILE = new URL('./fixtures/cohorts/htn-older-women.json', import.meta.url);
const COHORT = JSON.parse(readFileSync(COHORT_FILE, 'utf8')) as unknown;

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

describe('a hub on a Citus cluster: adding a worker, rebalancing, a worker down', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-citus-ops-'));
  const nodes: ThrowawayPostgres[] = [];
  let coordinator: ThrowawayPostgres;
  let late: ThrowawayPostgres;
  let hub: Hub;
  let dir: string;
  let before: { persons: number; events: number };
  /** What the hub logged, one JSON line each. */
  const logged: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });

  const cli = async (...args: string[]) => {
    const c = captureIo();
    const code = await main([...args, '--dir', dir], c.io as never);
    return { code, out: c.out, err: c.err };
  };
  const answers = async () => {
    const run = await runCohort(hub.db, COHORT, hub.clock);
    const [e] = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM cohort_event');
    return { persons: run.attrition.at(-1)!.persons, events: Number(e?.n) };
  };

  beforeAll(async () => {
    const bin = inject('citusBin');
    for (const prefix of ['hm-pg-citus-ops-c-', 'hm-pg-citus-ops-w1-', 'hm-pg-citus-ops-w2-']) {
      nodes.push((await startPostgres({ settings: CITUS_NODE_SETTINGS, prefix, ...(bin ? { bin } : {}) }))!);
    }
    [coordinator] = nodes as [ThrowawayPostgres];
    late = nodes[2]!;
    for (const n of nodes) {
      const db = await PostgresDatabase.open(n.url, { maxConnections: 1 });
      await db.run('CREATE DATABASE hub');
      await db.close();
    }
    // One worker to start with; the second gets the database and the extension, and joins in a test.
    await registerCitusNodes(withDatabase(coordinator.url, 'hub'), [withDatabase(nodes[1]!.url, 'hub')]);
    const ext = await PostgresDatabase.open(withDatabase(late.url, 'hub'), { maxConnections: 1 });
    await ext.run('CREATE EXTENSION citus');
    await ext.close();

    const input = join(root, 'input');
    generateRegion({ region: 'gwangju', people: 150, seed: 'citus-ops', out: input });
    dir = join(root, 'hub');
    await initHub(dir, {
      name: 'citus-ops',
      config: { store: { engine: 'postgres', memoryLimit: '1GB', url: withDatabase(coordinator.url, 'hub') } },
      logger: silentLogger(),
    });
    hub = await openHub(dir, { logger: createLogger({ level: 'error', destination: logStream }) });
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: 'synth-gwangju' }));
    before = await answers();
  }, 240_000);

  afterAll(async () => {
    await hub?.close().catch(() => undefined);
    for (const n of nodes.reverse()) {
      try {
        n.stop();
      } catch {
        // a node already stopped
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  it('spreads the person-level tables and the resource store by the patient and keeps the rest on the coordinator', async () => {
    expect(before.persons).toBeGreaterThan(0);
    const shown = await cli('cluster', 'show', '--json');
    expect(shown.code).toBe(0);
    const status = JSON.parse(shown.out) as ClusterStatus;
    const kind = (t: string) => status.tables.find((x) => x.table === t);
    expect(kind('cohort_event')).toMatchObject({ kind: 'distributed', column: 'patient_key', shards: 8 });
    expect(kind('consent_decision')).toMatchObject({ kind: 'distributed', column: 'patient_key' });
    expect(kind('cohort_vocabulary')).toMatchObject({ kind: 'reference' });
    expect(kind('resource_version')).toMatchObject({ kind: 'distributed', column: 'shard_key', shards: 8 });
    expect(kind('view_source')).toMatchObject({ kind: 'distributed', column: 'shard_key', shards: 8 });
    expect(kind('audit_log')).toMatchObject({ kind: 'local' });
    expect(status.nodes.map((n) => n.role)).toEqual(['coordinator', 'worker']);
    expect(status.nodes[1]!.shards).toBeGreaterThan(0);
  });

  it('gives a worker added to the serving hub its share of shards at a rebalance, with the same answers', async () => {
    expect((await cli('cluster', 'add-worker', `127.0.0.1:${late.port}`)).code).toBe(0);
    // The open hub keeps answering between the two commands.
    expect(await answers()).toEqual(before);
    const rebalanced = await cli('cluster', 'rebalance');
    expect(rebalanced.err).toBe('');
    expect(rebalanced.code).toBe(0);
    const status = JSON.parse((await cli('cluster', 'show', '--json')).out) as ClusterStatus;
    const added = status.nodes.find((n) => n.port === late.port);
    expect(added?.shards).toBeGreaterThan(0);
    expect(await answers()).toEqual(before);
  });

  it('fails a query with STORE_NODE_UNAVAILABLE while a worker is down, and answers again once it is back', async () => {
    const app = await buildServer(hub);
    const token = await hub.tokens.create('citus-ops-researcher', 'researcher');
    late.halt();
    try {
      expect(await asyncCodeOf(() => answers())).toBe('STORE_NODE_UNAVAILABLE');
      // An API client learns the fault, not where the hub's workers listen; the hub's log names the node.
      const res = await app.inject({
        method: 'POST',
        url: '/cohort/$run',
        headers: { authorization: `Bearer ${token}` },
        payload: { definition: COHORT },
      });
      expect(res.statusCode).toBe(503);
      expect(
        res.json<{ issue: { details: { coding: { code: string }[] } }[] }>().issue[0]!.details.coding[0]!.code,
      ).toBe('STORE_NODE_UNAVAILABLE');
      expect(res.body).not.toContain(String(late.port));
      expect(res.body).not.toContain('127.0.0.1');
      expect(logged.some((l) => l.includes('STORE_NODE_UNAVAILABLE') && l.includes(String(late.port)))).toBe(true);
      // The operator's own CLI names it.
      const cohort = await cli('cohort', 'run', fileURLToPath(COHORT_FILE));
      expect(cohort.code).toBe(3);
      expect(cohort.err).toMatch(/STORE_NODE_UNAVAILABLE/);
      expect(cohort.err).toContain(String(late.port));
    } finally {
      await app.close();
      late.start();
    }
    expect(await answers()).toEqual(before);
  });

  it('refuses a malformed worker address', async () => {
    const r = await cli('cluster', 'add-worker', 'no-port');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/CLUSTER_INVALID_ARGUMENT/);
  });
});
