import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCohort } from '../src/cohort/index.js';
import type { HubConfig } from '../src/core/index.js';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import type { ClusterStatus } from '../src/store/index.js';
import { clusterStatus, PostgresDatabase } from '../src/store/index.js';
import { generateRegion } from '../src/synth/index.js';
import { startPostgres, type ThrowawayPostgres } from '../test/support/postgres-server.js';

/**
 * One PostgreSQL node against a Citus coordinator with two workers, on the same synthetic region (issue 21): ingest,
 * its after-commit pipeline, a rebuild of the analytic tables, a rebuild of the derived tables (event index,
 * consent), one cohort, and two probes of the coordinator's own cost (a one-person query routed to one shard, a count
 * fanned out to every shard). Every node runs on this host, so the cluster's figures are its overhead at this size,
 * not scale-out. No floor: the figures feed docs/scale.md.
 *
 * BENCH_CITUS_PEOPLE (default 300: about four minutes on a loaded 2-core machine) sets the region's size, BENCH_CITUS_SHARDS (default 32, Citus's own default) the
 * shards of each distributed table. BENCH_CITUS_PROFILE=1 loads `pg_stat_statements` on every node and prints, per
 * step of each hub, the statements that took the most server time on the coordinator (or the single node) and the
 * statements and time the workers ran for it: where the cluster's time goes (docs/scale.md).
 */
const PEOPLE = Number(process.env.BENCH_CITUS_PEOPLE ?? 300);
const SHARDS = Number(process.env.BENCH_CITUS_SHARDS ?? 32);
const PROFILE = process.env.BENCH_CITUS_PROFILE === '1';
/** Statements printed per step when profiling. */
const PROFILE_TOP = 8;
const DEFINITION = JSON.parse(
  readFileSync(new URL('../test/fixtures/cohorts/htn-older-women.json', import.meta.url), 'utf8'),
) as unknown;

/** The same memory on every node, so the single node and each Citus node differ only by Citus. */
const NODE_SETTINGS = [
  '-c shared_buffers=128MB',
  '-c work_mem=16MB',
  ...(PROFILE ? ["-c shared_preload_libraries='pg_stat_statements'"] : []),
];
const CITUS_SETTINGS = [
  ...NODE_SETTINGS.filter((s) => !s.includes('shared_preload_libraries')),
  `-c shared_preload_libraries='citus${PROFILE ? ',pg_stat_statements' : ''}'`,
  `-c citus.shard_count=${SHARDS}`,
  // The coordinator's own connection cache is left at Citus's defaults: what an operator would run.
];

interface Timings {
  resources: number;
  /** The store's part of the ingest: the run less its after-commit pipeline. */
  ingest: number;
  /** The after-commit pipeline of that ingest: analytic tables, event index, consent decisions. */
  derived: number;
  /** Every analytic table rebuilt from the store. */
  views: number;
  /** Every derived table (event index, consent decisions, ...) rebuilt from the analytic tables. */
  rebuild: number;
  /** Median of three cohort runs, after one to warm. */
  cohort: number;
  persons: number;
  events: number;
  /** Median of 50 one-person counts of the event index (one shard on Citus). */
  router: number;
  /** Median of 5 whole counts of the event index (every shard on Citus). */
  fanout: number;
  /** Bytes of the hub's tables: all of them, and those distributed (0 on one node). */
  bytes: number;
  distributedBytes: number;
  status?: ClusterStatus;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function secondsOf<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await fn();
  return [(performance.now() - t0) / 1000, r];
}

/**
 * Runs `fn` as one profiled step: the statements' server time is counted from zero before it and printed after it,
 * grouped by their text (staged tables' numbered names made one), the coordinator's own and the workers' summed.
 */
async function profiled<T>(hub: Hub, name: string, step: string, fn: () => Promise<T>): Promise<T> {
  if (!PROFILE) return fn();
  const distributed = (hub.db as PostgresDatabase).distributed;
  await hub.db.run('SELECT pg_stat_statements_reset()');
  if (distributed) await hub.db.run(`SELECT run_command_on_workers('SELECT pg_stat_statements_reset()')`);
  const result = await fn();
  const rows = await hub.db.all<{ query: string; calls: number; ms: number }>(
    `SELECT query, calls, total_exec_time AS ms FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  const byText = new Map<string, { calls: number; ms: number }>();
  for (const r of rows) {
    const text = r.query
      .replace(/hm_staged_\d+/g, 'hm_staged_N')
      .replace(/\s+/g, ' ')
      .slice(0, 140);
    const t = byText.get(text) ?? { calls: 0, ms: 0 };
    t.calls += Number(r.calls);
    t.ms += Number(r.ms);
    byText.set(text, t);
  }
  const all = [...byText.values()].reduce((a, t) => ({ calls: a.calls + t.calls, ms: a.ms + t.ms }), {
    calls: 0,
    ms: 0,
  });
  console.log(`profile ${name} ${step}: ${all.calls} statements, ${all.ms.toFixed(0)} ms server time`);
  for (const [text, t] of [...byText].sort((a, b) => b[1].ms - a[1].ms).slice(0, PROFILE_TOP)) {
    console.log(
      `profile ${name} ${step}:   ${t.ms.toFixed(0).padStart(7)} ms ${String(t.calls).padStart(6)}x  ${text}`,
    );
  }
  if (distributed) {
    const workers = await hub.db.all<{ result: string }>(
      `SELECT result FROM run_command_on_workers($$SELECT COALESCE(SUM(calls), 0) || ' ' || COALESCE(ROUND(SUM(total_exec_time)), 0) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())$$)`,
    );
    console.log(
      `profile ${name} ${step}: workers ran ${workers.map((w) => `${w.result.replace(' ', ' statements, ')} ms`).join('; ')}`,
    );
  }
  return result;
}

async function timeHub(work: string, name: string, store: HubConfig['store'], files: string[]): Promise<Timings> {
  const dir = join(work, name);
  await initHub(dir, { name: 'gyeonggi', config: { store }, logger: silentLogger() });
  const hub = await openHub(dir, { logger: silentLogger() });
  try {
    if (PROFILE) await hub.db.run('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const [ingest, summary] = await secondsOf(() =>
      profiled(hub, name, 'ingest', () =>
        hub.ingest.ingestPaths(files, { source: 'bench', actor: 'bench', rejectsPath: join(dir, 'rejects.ndjson') }),
      ),
    );
    const derived = summary.derived?.seconds ?? 0;
    const [views] = await secondsOf(() => profiled(hub, name, 'views', () => hub.tables.refresh({ rebuild: true })));
    const [rebuild] = await secondsOf(() =>
      profiled(hub, name, 'derived', () => hub.derived.bringCurrent({ force: true })),
    );
    await runCohort(hub.db, DEFINITION, hub.clock); // warm once: steady states are compared
    const cohortRuns: number[] = [];
    let persons = -1;
    for (let i = 0; i < 3; i++) {
      const [s, run] = await secondsOf(() => runCohort(hub.db, DEFINITION, hub.clock));
      cohortRuns.push(s);
      persons = run.attrition.at(-1)?.persons ?? -1;
    }
    const [e] = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM cohort_event');
    const keys = await hub.db.all<{ k: string }>('SELECT DISTINCT patient_key AS k FROM cohort_event LIMIT 50');
    const router: number[] = [];
    for (const { k } of keys) {
      const [s] = await secondsOf(() =>
        hub.db.all('SELECT COUNT(*) AS n FROM cohort_event WHERE patient_key = $1', [k]),
      );
      router.push(s);
    }
    const fanout: number[] = [];
    for (let i = 0; i < 5; i++)
      fanout.push((await secondsOf(() => hub.db.all('SELECT COUNT(*) FROM cohort_event')))[0]);
    const distributed = (hub.db as PostgresDatabase).distributed;
    const status = distributed ? await clusterStatus(hub.db) : undefined;
    const [local] = await hub.db.all<{ b: number }>(
      `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint AS b FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'`,
    );
    const distributedBytes = (status?.tables ?? [])
      .filter((t) => t.kind !== 'local')
      .reduce((sum, t) => sum + t.bytes, 0);
    // On Citus the coordinator's `public` relations include the empty shells of distributed tables; their bytes
    // are on the workers, counted by `citus_shards` instead.
    const localBytes = status
      ? status.tables.filter((t) => t.kind === 'local').reduce((sum, t) => sum + t.bytes, 0)
      : Number(local?.b ?? 0);
    return {
      resources: summary.totals.created,
      ingest: ingest - derived,
      derived,
      views,
      rebuild,
      cohort: median(cohortRuns),
      persons,
      events: Number(e?.n ?? 0),
      router: median(router),
      fanout: median(fanout),
      bytes: localBytes + distributedBytes,
      distributedBytes,
      ...(status && { status }),
    };
  } finally {
    await hub.close();
  }
}

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

async function run(url: string, sql: string, params: (string | number)[] = []): Promise<void> {
  const db = await PostgresDatabase.open(url, { maxConnections: 1 });
  try {
    await db.run(sql, params);
  } finally {
    await db.close();
  }
}

/** The hub's database on every node, the extension in each, and the coordinator told where it and its workers are. */
async function makeCitusDatabase(coordinator: ThrowawayPostgres, workers: ThrowawayPostgres[]): Promise<string> {
  for (const n of [coordinator, ...workers]) {
    await run(n.url, 'CREATE DATABASE bench_citus');
    await run(withDatabase(n.url, 'bench_citus'), 'CREATE EXTENSION citus');
    if (PROFILE) await run(withDatabase(n.url, 'bench_citus'), 'CREATE EXTENSION pg_stat_statements');
  }
  const url = withDatabase(coordinator.url, 'bench_citus');
  const db = await PostgresDatabase.open(url, { maxConnections: 1 });
  try {
    await db.run('SELECT citus_set_coordinator_host($1, $2)', ['127.0.0.1', coordinator.port]);
    for (const w of workers) await db.run('SELECT citus_add_node($1, $2)', ['127.0.0.1', w.port]);
  } finally {
    await db.close();
  }
  return url;
}

/** Where Debian's PostgreSQL 15 keeps extension libraries; the vendored build unpacks `citus.so` there. */
const CITUS_LIBRARY = '/usr/lib/postgresql/15/lib/citus.so';

export async function runCitusBench(): Promise<boolean> {
  if (!existsSync(CITUS_LIBRARY)) {
    console.log(`citus: skipped, no ${CITUS_LIBRARY} (unpack ../shared/vendor's build: see docs/citus.md)`);
    return process.env.CI !== 'true';
  }
  const nodes: ThrowawayPostgres[] = [];
  const stopAll = () => {
    for (const n of nodes.splice(0).reverse()) {
      try {
        n.stop();
      } catch {
        // already down; its directory is removed all the same
      }
    }
  };
  // An interrupted run leaves no server behind.
  const onSignal = () => {
    stopAll();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const work = mkdtempSync(join(tmpdir(), 'hm-bench-citus-'));
  try {
    const single = await startPostgres({ settings: NODE_SETTINGS, prefix: 'hm-pg-bench-single-' });
    if (single === undefined) {
      console.log('citus: skipped, no PostgreSQL binaries (apt-get install postgresql-15)');
      return process.env.CI !== 'true';
    }
    nodes.push(single);
    for (const prefix of ['hm-pg-bench-citus-c-', 'hm-pg-bench-citus-w1-', 'hm-pg-bench-citus-w2-']) {
      const node = await startPostgres({ settings: CITUS_SETTINGS, prefix });
      if (node === undefined) throw new Error('no PostgreSQL binaries for the Citus nodes');
      nodes.push(node);
    }
    const [, coordinator, ...workers] = nodes as [ThrowawayPostgres, ThrowawayPostgres, ...ThrowawayPostgres[]];

    const synth = join(work, 'synth');
    generateRegion({ region: 'gyeonggi', people: PEOPLE, seed: 'bench-citus', out: synth });
    const files = readdirSync(synth)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(synth, f));
    await run(single.url, 'CREATE DATABASE bench_single');
    const singleUrl = withDatabase(single.url, 'bench_single');
    const citusUrl = await makeCitusDatabase(coordinator, workers);

    const one = await timeHub(work, 'single', { engine: 'postgres', memoryLimit: '2GB', url: singleUrl }, files);
    const cl = await timeHub(work, 'citus', { engine: 'postgres', memoryLimit: '2GB', url: citusUrl }, files);

    console.log(
      `citus data: ${one.resources} resources of ${PEOPLE} synthetic residents, ${one.events} event-index rows; ` +
        `cluster: coordinator + ${workers.length} workers on one host, ${SHARDS} shards per distributed table`,
    );
    const row = (what: string, s: number, c: number) =>
      console.log(
        `citus ${what}: single ${(s * 1000).toFixed(1)} ms, cluster ${(c * 1000).toFixed(1)} ms (${(c / s).toFixed(2)}x of single; ` +
          `coordinator overhead ${((c - s) * 1000).toFixed(1)} ms)`,
      );
    row('ingest (store)', one.ingest, cl.ingest);
    row('ingest (after-commit pipeline)', one.derived, cl.derived);
    row('views rebuild', one.views, cl.views);
    row('derived rebuild (event index, consent)', one.rebuild, cl.rebuild);
    row('cohort run', one.cohort, cl.cohort);
    row('one-person query (router)', one.router, cl.router);
    row('event-index count (fan-out)', one.fanout, cl.fanout);
    const rate = (n: number, s: number) => `${Math.round(n / s).toLocaleString('en-US')}/s`;
    console.log(
      `citus ingest rate: single ${rate(one.resources, one.ingest)}, cluster ${rate(cl.resources, cl.ingest)} resources ` +
        `(${(one.ingest / cl.ingest).toFixed(2)}x of single)`,
    );
    // Per shard: the distributed event index's rows each shard handled per second of the step.
    const perShard = cl.events / SHARDS;
    console.log(
      `citus per-shard rates: ${Math.round(perShard)} event rows per shard; derived rebuild ${rate(perShard, cl.rebuild)}, ` +
        `cohort ${rate(perShard, cl.cohort)}, fan-out count ${rate(perShard, cl.fanout)} rows per shard`,
    );
    const perPerson = (b: number) => `${(b / PEOPLE / 1024).toFixed(1)} KiB/person`;
    console.log(
      `citus bytes: single ${(one.bytes / 2 ** 20).toFixed(1)} MiB (${perPerson(one.bytes)}); cluster ` +
        `${(cl.bytes / 2 ** 20).toFixed(1)} MiB, of which distributed ${(cl.distributedBytes / 2 ** 20).toFixed(1)} MiB ` +
        `(${perPerson(cl.distributedBytes)}) and on the coordinator ${((cl.bytes - cl.distributedBytes) / 2 ** 20).toFixed(1)} MiB ` +
        `(${perPerson(cl.bytes - cl.distributedBytes)})`,
    );
    for (const n of cl.status?.nodes ?? []) {
      console.log(`citus node ${n.role}: ${n.shards} shard placements, ${(n.bytes / 2 ** 20).toFixed(1)} MiB`);
    }
    // Same data, same answers: the two stores must agree before their times mean anything.
    const same = one.resources === cl.resources && one.persons === cl.persons && one.events === cl.events;
    console.log(
      `citus agree: ${same ? 'yes' : 'NO'} (resources ${one.resources}/${cl.resources}, cohort ${one.persons}/${cl.persons}, ` +
        `events ${one.events}/${cl.events})`,
    );
    return same;
  } finally {
    stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    rmSync(work, { recursive: true, force: true });
  }
}
