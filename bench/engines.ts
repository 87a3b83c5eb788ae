import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCohort } from '../src/cohort/index.js';
import type { HubConfig } from '../src/core/index.js';
import { silentLogger } from '../src/core/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { PostgresDatabase } from '../src/store/index.js';
import { generateRegion } from '../src/synth/index.js';
import { startPostgres } from '../test/support/postgres-server.js';

/**
 * DuckDB and PostgreSQL side by side on the same synthetic region: ingest, its after-commit pipeline (analytic tables,
 * event index), a rebuild of every analytic table, and one cohort. No floor for PostgreSQL (issue 2/7); DuckDB keeps its floors in the
 * ingest, views and cohort benches. Each row prints PostgreSQL's time as a ratio of DuckDB's in this run.
 */
const PEOPLE = Number(process.env.BENCH_ENGINES_PEOPLE ?? 3000);
const DEFINITION = JSON.parse(
  readFileSync(new URL('../test/fixtures/cohorts/htn-older-women.json', import.meta.url), 'utf8'),
) as unknown;

interface Timings {
  resources: number;
  /** The store's part of the ingest: the run less its after-commit pipeline. */
  ingest: number;
  /** The after-commit pipeline of that ingest: analytic tables, event index, consent decisions. */
  derived: number;
  /** Every analytic table rebuilt from the store. */
  views: number;
  cohort: number;
  persons: number;
}

async function timeEngine(work: string, name: string, store: HubConfig['store'], files: string[]): Promise<Timings> {
  const dir = join(work, name);
  await initHub(dir, { name: 'gyeonggi', config: { store }, logger: silentLogger() });
  const hub = await openHub(dir, { logger: silentLogger() });
  try {
    const secondsOf = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
      const t0 = performance.now();
      const r = await fn();
      return [(performance.now() - t0) / 1000, r];
    };
    const [ingest, summary] = await secondsOf(() =>
      hub.ingest.ingestPaths(files, { source: 'bench', actor: 'bench', rejectsPath: join(dir, 'rejects.ndjson') }),
    );
    const derived = summary.derived?.seconds ?? 0;
    const [views] = await secondsOf(() => hub.tables.refresh({ rebuild: true }));
    await hub.derived.bringCurrent({ force: true });
    await runCohort(hub.db, DEFINITION, hub.clock); // warm once: steady states are compared
    const [cohort, run] = await secondsOf(() => runCohort(hub.db, DEFINITION, hub.clock));
    return {
      resources: summary.totals.created,
      ingest: ingest - derived,
      derived,
      views,
      cohort,
      persons: run.attrition.at(-1)?.persons ?? -1,
    };
  } finally {
    await hub.close();
  }
}

export async function runEnginesBench(): Promise<boolean> {
  const cluster = await startPostgres();
  if (cluster === undefined) {
    console.log('engines: skipped, no PostgreSQL binaries (apt-get install postgresql-15)');
    return process.env.CI !== 'true';
  }
  const work = mkdtempSync(join(tmpdir(), 'hm-bench-engines-'));
  try {
    const synth = join(work, 'synth');
    generateRegion({ region: 'gyeonggi', people: PEOPLE, seed: 'bench-engines', out: synth });
    const files = readdirSync(synth)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(synth, f));
    const admin = await PostgresDatabase.open(cluster.url, { maxConnections: 1 });
    await admin.run('CREATE DATABASE bench_engines');
    await admin.close();
    const pgUrl = cluster.url.replace(/\/postgres$/, '/bench_engines');
    const duck = await timeEngine(work, 'duckdb', { engine: 'duckdb', memoryLimit: '2GB' }, files);
    const pg = await timeEngine(work, 'postgres', { engine: 'postgres', memoryLimit: '2GB', url: pgUrl }, files);
    console.log(`engines data: ${duck.resources} resources of ${PEOPLE} synthetic residents`);
    const row = (what: string, d: number, p: number, unit = 's') =>
      console.log(
        `engines ${what}: duckdb ${d.toFixed(2)} ${unit}, postgres ${p.toFixed(2)} ${unit} (${(p / d).toFixed(2)}x of duckdb)`,
      );
    row('ingest (store)', duck.ingest, pg.ingest);
    row('ingest (after-commit pipeline)', duck.derived, pg.derived);
    row('views rebuild', duck.views, pg.views);
    row('cohort run', duck.cohort, pg.cohort);
    // Same data, same answers: the engines must agree before their times mean anything.
    const same = duck.resources === pg.resources && duck.persons === pg.persons;
    console.log(
      `engines agree: ${same ? 'yes' : 'NO'} (resources ${duck.resources}/${pg.resources}, cohort ${duck.persons}/${pg.persons})`,
    );
    return same;
  } finally {
    cluster.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
