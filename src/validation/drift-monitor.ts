/**
 * The drift monitor of served models: each validation run keeps its population's binned distribution of every
 * model input and of the score; each served prediction adds its inputs and score to per-day bin counts (never rows,
 * never an identifier); the population stability index (PSI) compares the served window with the validation
 * population. Guide: docs/validation.md, "Drift".
 */
import type { HubServices as Hub } from '../context/index.js';
import type { FeatureMatrix } from '../models/index.js';
import type { Database, Migration } from '../store/index.js';

/** The monitor's tables: step 3 of the validation module's migrations (after the submission tables' 1 and 2). */
export const driftMigrations: readonly Migration[] = [
  {
    module: 'validation',
    version: 3,
    name: "validation populations' binned inputs and scores, and served predictions' bin counts per day",
    statements: [
      `CREATE TABLE validation_drift_baseline (
        submission_id VARCHAR NOT NULL,
        run INTEGER NOT NULL,
        baseline VARCHAR NOT NULL,
        PRIMARY KEY (submission_id, run)
      )`,
      `CREATE TABLE validation_drift_bin (
        submission_id VARCHAR NOT NULL,
        day DATE NOT NULL,
        series VARCHAR NOT NULL,
        bin INTEGER NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (submission_id, day, series, bin)
      )`,
    ],
  },
];

/** The score's series name: model inputs are named as the feature plan names its columns, never with a dot. */
export const SCORE_SERIES = '.score';

/** One series' bins: value ≤ edges[0] is bin 0, …, above the last edge bin edges.length; missing (NaN) the one after. */
interface SeriesBins {
  edges: number[];
  counts: number[];
}

/** A validation run's binned population: each input column and the score. */
interface Baseline {
  n: number;
  series: Record<string, SeriesBins>;
}

/** Tenths: the usual PSI binning (Yurdakul 2018), on the validation population's own deciles. */
const QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
/** A share below this counts as this in the PSI, so an empty bin on either side adds a large finite term. */
const MIN_SHARE = 1e-4;

function binOf(edges: readonly number[], v: number): number {
  if (Number.isNaN(v)) return edges.length + 1;
  let i = 0;
  while (i < edges.length && v > edges[i]!) i++;
  return i;
}

function binned(values: ArrayLike<number>): SeriesBins {
  // A typed array's own numeric sort: several times faster than a comparator on a plain array at a hub's size.
  const sorted = Float64Array.from(values)
    .filter((v) => !Number.isNaN(v))
    .sort();
  const edges =
    sorted.length === 0
      ? []
      : [...new Set(QUANTILES.map((q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!))];
  const counts = new Array<number>(edges.length + 2).fill(0);
  for (let i = 0; i < values.length; i++) counts[binOf(edges, values[i]!)]!++;
  return { edges, counts };
}

function column(x: FeatureMatrix, j: number): Float64Array {
  const p = x.names.length;
  return Float64Array.from({ length: x.rows }, (_, i) => x.values[i * p + j]!);
}

/**
 * Keep the validation population's distribution of run `run` of `submissionId`: `x` the model's input as scored
 * (after filling), `risks` the scores. Bin edges and counts stay in the hub; nothing of them is answered.
 */
export async function recordDriftBaseline(
  db: Database,
  submissionId: string,
  run: number,
  x: FeatureMatrix,
  risks: ArrayLike<number>,
): Promise<void> {
  const series: Record<string, SeriesBins> = {};
  x.names.forEach((name, j) => {
    series[name] = binned(column(x, j));
  });
  series[SCORE_SERIES] = binned(risks);
  const baseline: Baseline = { n: x.rows, series };
  await db.transaction((tx) =>
    tx.run('INSERT INTO validation_drift_baseline (submission_id, run, baseline) VALUES ($1, $2, $3)', [
      submissionId,
      run,
      JSON.stringify(baseline),
    ]),
  );
}

async function latestBaseline(db: Database, submissionId: string): Promise<{ run: number; baseline: Baseline } | null> {
  const [r] = await db.all<{ run: number; baseline: string }>(
    'SELECT run, baseline FROM validation_drift_baseline WHERE submission_id = $1 ORDER BY run DESC LIMIT 1',
    [submissionId],
  );
  return r ? { run: Number(r.run), baseline: JSON.parse(r.baseline) as Baseline } : null;
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Add served predictions to today's bin counts (on the latest validation run's edges): one count per input column
 * and one for the score per person, summed per bin, so no row can be told from the table. A submission validated
 * without a kept baseline records nothing.
 */
export async function recordServedPredictions(
  hub: Pick<Hub, 'db' | 'clock'>,
  submissionId: string,
  x: FeatureMatrix,
  risks: ArrayLike<number>,
): Promise<void> {
  const kept = await latestBaseline(hub.db, submissionId);
  if (!kept) return;
  const adds: [string, number, number][] = [];
  const add = (series: string, values: ArrayLike<number>) => {
    const edges = kept.baseline.series[series]?.edges;
    if (!edges) return;
    const counts = new Map<number, number>();
    for (let i = 0; i < values.length; i++) {
      const b = binOf(edges, values[i]!);
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    for (const [b, n] of counts) adds.push([series, b, n]);
  };
  x.names.forEach((name, j) => {
    add(name, column(x, j));
  });
  add(SCORE_SERIES, risks);
  const day = dayOf(hub.clock.now());
  await hub.db.transaction(async (tx) => {
    for (const [series, bin, n] of adds) {
      await tx.run(
        `INSERT INTO validation_drift_bin (submission_id, day, series, bin, n) VALUES ($1, CAST($2 AS DATE), $3, $4, $5)
         ON CONFLICT (submission_id, day, series, bin) DO UPDATE SET n = validation_drift_bin.n + excluded.n`,
        [submissionId, day, series, bin, n],
      );
    }
  });
}

/** The population stability index Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ) over bins of shares `expected` (validation) and `actual`. */
export function populationStabilityIndex(expected: readonly number[], actual: readonly number[]): number {
  const te = expected.reduce((s, v) => s + v, 0);
  const ta = actual.reduce((s, v) => s + v, 0);
  let psi = 0;
  for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
    const e = Math.max(MIN_SHARE, (expected[i] ?? 0) / te);
    const a = Math.max(MIN_SHARE, (actual[i] ?? 0) / ta);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/** Exact drift of one submission's served window against its validation population: for the route to gate. */
export interface DriftMeasure {
  /** The validation run whose population is the reference; null when none was kept. */
  run: number | null;
  from: string;
  to: string;
  /** Predictions served in the window. */
  served: number;
  /** PSI per input column and for the score (`SCORE_SERIES`), over the window's counts. */
  psi: Record<string, number>;
}

/** The served window's drift for `submissionId`: the last `days` days up to today (UTC) against the latest baseline. */
export async function measureDrift(
  hub: Pick<Hub, 'db' | 'clock'>,
  submissionId: string,
  days: number,
): Promise<DriftMeasure> {
  const now = hub.clock.now();
  const to = dayOf(now);
  const from = dayOf(new Date(now.getTime() - (days - 1) * 86_400_000));
  const kept = await latestBaseline(hub.db, submissionId);
  if (!kept) return { run: null, from, to, served: 0, psi: {} };
  const rows = await hub.db.all<{ series: string; bin: number; n: number }>(
    `SELECT series, bin, SUM(n) AS n FROM validation_drift_bin
     WHERE submission_id = $1 AND day BETWEEN CAST($2 AS DATE) AND CAST($3 AS DATE) GROUP BY series, bin`,
    [submissionId, from, to],
  );
  const actual = new Map<string, number[]>();
  for (const r of rows) {
    const counts =
      actual.get(r.series) ?? new Array<number>(kept.baseline.series[r.series]?.counts.length ?? 0).fill(0);
    counts[Number(r.bin)] = Number(r.n);
    actual.set(r.series, counts);
  }
  const served = (actual.get(SCORE_SERIES) ?? []).reduce((s, v) => s + v, 0);
  const psi: Record<string, number> = {};
  if (served > 0) {
    for (const [series, bins] of Object.entries(kept.baseline.series)) {
      psi[series] = populationStabilityIndex(bins.counts, actual.get(series) ?? []);
    }
  }
  return { run: kept.run, from, to, served, psi };
}
