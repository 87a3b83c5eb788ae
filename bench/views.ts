import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { AnalyticTables, BUILT_IN_VIEWS } from '../src/views/index.js';

const RATIO_FLOOR = 5;
const RATE_FLOOR = 50_000;
const TARGET_RESOURCES = Number(process.env.BENCH_VIEWS_RESOURCES ?? 1_000_000);
/** Copies of the sample the naive engine flattens: enough for a stable rate, few enough to finish in seconds. */
const NAIVE_COPIES = 2;
const SYNTHEA = fileURLToPath(new URL('../../shared/data/synthea-fhir-r4/bundles-gz/', import.meta.url));
const VIEWED_TYPES = [...new Set(BUILT_IN_VIEWS.map((v) => String(v.definition.resource)))];

/** Ingest the Synthea sample once; returns how many resources of the viewed types it holds. */
async function ingestSample(hub: Hub): Promise<number> {
  await hub.ingest.ingestPaths([SYNTHEA], {
    source: 'bench',
    actor: 'bench',
    rejectsPath: join(hub.paths.rejectsDir, 'bench.ndjson'),
  });
  const [row] = await hub.db.all<{ n: number }>(
    `SELECT COUNT(*) AS n FROM resource_head WHERE ${hub.db.inList('type', '$1')}`,
    [VIEWED_TYPES],
  );
  return Number(row?.n ?? 0);
}

/**
 * The store is filled directly, not through ingest (which has its own bench): the ingested sample is copied
 * inside DuckDB `copies - 1` times with every stored id (a resource's own and those its references point to)
 * suffixed by the copy number, so each copy is a fresh, consistent population.
 */
async function replicate(hub: Hub, copies: number): Promise<void> {
  await hub.db.run('CREATE TABLE copy_number AS SELECT range AS k FROM range(1, $1)', [copies]);
  await hub.db.run(
    `INSERT INTO resource_version SELECT v.type, v.id || '-' || c.k, v.version, v.last_updated, v.patient_key || '-' || c.k,
       v.hash, v.source,
       regexp_replace(v.content, '"(id|reference)":"([A-Za-z]+/)?([0-9a-f]{32,64})"', '"\\1":"\\2\\3-' || c.k || '"', 'g'),
       COALESCE(v.patient_key || '-' || c.k, '')
     FROM resource_version v, copy_number c`,
  );
  await hub.db.run(
    `INSERT INTO resource_head SELECT h.type, h.id || '-' || c.k, h.version, h.hash, h.last_updated, h.patient_key || '-' || c.k,
       COALESCE(h.patient_key || '-' || c.k, '')
     FROM resource_head h, copy_number c`,
  );
  await hub.db.run('DROP TABLE copy_number');
}

async function withHub<T>(name: string, fn: (hub: Hub) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), `hm-bench-views-${name}-`));
  try {
    await initHub(dir, { name: 'bench', logger: silentLogger() });
    const hub = await openHub(dir, { logger: silentLogger(), parallelIngest: false });
    try {
      return await fn(hub);
    } finally {
      await hub.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function timedRefresh(
  hub: Hub,
  engine: 'compiled' | 'fhirpath',
): Promise<{ seconds: number; cpuSeconds: number; resources: number }> {
  const tables = await AnalyticTables.open(hub.db, { region: 'bench', clock: hub.clock, engine });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const summary = await tables.refresh();
  const cpu = process.cpuUsage(cpu0);
  return {
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    resources: summary.resources,
  };
}

export async function runViewsBench(): Promise<boolean> {
  if (!existsSync(SYNTHEA)) {
    console.log(`views: skipped, ${SYNTHEA} is absent`);
    return process.env.CI !== 'true';
  }
  const naive = await withHub('naive', async (hub) => {
    await ingestSample(hub);
    await replicate(hub, NAIVE_COPIES);
    return timedRefresh(hub, 'fhirpath');
  });
  const naiveRate = naive.resources / naive.seconds;
  console.log(
    `views naive (fhirpath package, same views and pipeline): ${naiveRate.toFixed(0)} resources/s over ${naive.resources} resources`,
  );

  return withHub('compiled', async (hub) => {
    const perCopy = await ingestSample(hub);
    // The ingest's own refresh has flattened the first copy already: the refresh timed below reads the others.
    const copies = Math.ceil(TARGET_RESOURCES / perCopy) + 1;
    await replicate(hub, copies);
    const [all] = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM resource_head');
    const full = await timedRefresh(hub, 'compiled');
    const rate = full.resources / full.seconds;
    const ratio = rate / naiveRate;
    console.log(
      `views input: ${full.resources} resources of the viewed types (${VIEWED_TYPES.length} types, ${copies - 1} copies of the Synthea sample added after its ingest; ${Number(all?.n)} in the store)`,
    );
    console.log(
      `views materialise: ${rate.toFixed(0)} resources/s (${ratio.toFixed(1)}x vs naive fhirpath evaluation ${naiveRate.toFixed(0)} resources/s measured in this run; floors ${RATIO_FLOOR}x and ${RATE_FLOOR} resources/s)`,
    );
    // CPU seconds of every thread (workers, DuckDB's own), which a shared machine inflates less than wall time.
    console.log(
      `views materialise CPU: ${full.cpuSeconds.toFixed(1)} CPU-s over ${full.seconds.toFixed(1)} s (${(full.resources / full.cpuSeconds).toFixed(0)} resources per CPU-s; naive ${(naive.resources / naive.cpuSeconds).toFixed(0)})`,
    );
    const tables = await AnalyticTables.open(hub.db, { region: 'bench', clock: hub.clock });
    const t0 = performance.now();
    const noop = await tables.refresh();
    const noopSeconds = (performance.now() - t0) / 1000;
    console.log(
      `views incremental refresh with nothing changed: ${noopSeconds.toFixed(2)} s (${noop.resources} resources flattened; ${(full.seconds / noopSeconds).toFixed(0)}x vs the full build ${full.seconds.toFixed(1)} s)`,
    );
    const ok = full.resources >= TARGET_RESOURCES && ratio >= RATIO_FLOOR && rate >= RATE_FLOOR;
    if (!ok) console.log('views: FLOOR MISSED');
    return ok;
  });
}
