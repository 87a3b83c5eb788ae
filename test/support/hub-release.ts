import type { DisclosurePolicy } from '../../src/core/index.js';
import { isHealthmeshError } from '../../src/core/index.js';
import type { ReleasedCount, ReleasedHistogram, ReleasedSummary, ReleasedTable } from '../../src/privacy/index.js';
import {
  gridCell,
  type ReleaseLog,
  releaseCount,
  releaseHistogram,
  releaseSummary,
  releaseTable,
} from '../../src/privacy/index.js';

/** One person of a random population: age band 0–4, sex 0–1, and a measurement value (one decimal) or none. */
export interface Person {
  key: string;
  band: number;
  sex: number;
  value?: number;
}

/** What a hub releases about one cohort: the statistics of every kind `releaseCohort` publishes. */
export interface HubRelease {
  persons: ReleasedCount;
  ageSex: ReleasedTable;
  summary: ReleasedSummary;
  histogram: ReleasedHistogram | null;
}

/** PERCENTILE_CONT: linear interpolation between order statistics. */
function quantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return sorted[lo]! + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? 0) - sorted[lo]!);
}

/**
 * A cohort released the way the hub's `releaseCohort` (src/cohort/federated-cohort.ts) releases one: the person
 * count, the age band × sex table, the latest-measurement summary and its histogram, each through its disclosure
 * function, the whole result admitted through the release log with the person count as its cell and the members as
 * its population. Returns the published result (an earlier one when the log answers it again), or `refused`.
 * Keep this in step with `releaseCohort`: it is the hub's path, replayed without SQL so properties run fast.
 */
export async function releaseLikeHub(
  log: ReleaseLog,
  policy: DisclosurePolicy,
  terms: readonly string[],
  members: readonly Person[],
): Promise<HubRelease | 'refused'> {
  const cells = [0, 1, 2, 3, 4].map((b) =>
    [0, 1].map((s) => members.filter((p) => p.band === b && p.sex === s).length),
  );
  const values = members.flatMap((p) => (p.value === undefined ? [] : [p.value])).sort((a, b) => a - b);
  const n = values.length;
  const mean = n > 0 ? values.reduce((s, v) => s + v, 0) / n : Number.NaN;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  const grid = new Map<number | null, number>();
  for (const v of values) grid.set(gridCell(v), (grid.get(gridCell(v)) ?? 0) + 1);
  const released: HubRelease = {
    persons: releaseCount(members.length, policy),
    ageSex: releaseTable({ rows: ['0', '1', '2', '3', '4'], columns: ['f', 'm'], cells }, policy),
    summary: releaseSummary(
      {
        n,
        mean,
        sd,
        ...(n > 0 && {
          quantiles: { 0.25: quantile(values, 0.25), 0.5: quantile(values, 0.5), 0.75: quantile(values, 0.75) },
        }),
      },
      policy,
    ),
    histogram: releaseHistogram(
      [...grid].map(([cell, count]) => ({ cell, count })),
      policy,
    ),
  };
  try {
    const admitted = await log.admitResult(
      {
        requester: 'user:attacker',
        family: 'cohort.run/attrition',
        terms,
        cells: { 'attrition|0': { count: members.length, released: released.persons } },
        population: members.map((p) => p.key),
      },
      released,
    );
    return admitted.result;
  } catch (e) {
    if (isHealthmeshError(e) && e.code === 'DISCLOSURE_DIFFERENCING') return 'refused';
    throw e;
  }
}

/** The true counts a released count can stand for under `policy` (rounded to the nearest multiple, never under t). */
export function countsBehind(released: number, policy: DisclosurePolicy): number[] {
  const out: number[] = [];
  for (let n = Math.max(policy.threshold, released - policy.rounding); n <= released + policy.rounding; n++) {
    if (releaseCount(n, policy) === released) out.push(n);
  }
  return out;
}
