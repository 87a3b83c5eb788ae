import type { CohortStatistics } from '../../src/cohort/index.js';
import { releaseCohortStatistics } from '../../src/cohort/index.js';
import type { DisclosurePolicy } from '../../src/core/index.js';
import { isHealthmeshError } from '../../src/core/index.js';
import type { ReleasedCount, ReleasedHistogram, ReleasedSummary, ReleasedTable } from '../../src/privacy/index.js';
import { gridCell, ReleaseGate, type ReleaseLog, releaseCount } from '../../src/privacy/index.js';

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
 * A cohort of `members` released through the hub's own release step (`releaseCohortStatistics` in
 * src/cohort/cohort-release.ts, which `releaseCohort` calls after its SQL): the person count, the age band × sex table,
 * the latest-measurement summary and its histogram, each through the release gate, admitted by the release log with
 * its members and every published count, and the measurement as a part with its contributors. Only the statistics
 * are computed here, as the hub's SQL would compute them, so properties run fast. Returns the published result (an
 * earlier one when the log answers it again, a withheld measurement as nulls), or `refused`.
 */
export async function releaseLikeHub(
  log: ReleaseLog,
  policy: DisclosurePolicy,
  terms: readonly string[],
  members: readonly Person[],
): Promise<HubRelease | 'refused'> {
  const ageSex = [0, 1, 2, 3, 4].map((b) =>
    [0, 1, 2, 3].map((s) => members.filter((p) => p.band === b && p.sex === s).length),
  );
  const measured = members.filter((p) => p.value !== undefined);
  const values = measured.map((p) => p.value!).sort((a, b) => a - b);
  const n = values.length;
  const mean = n > 0 ? values.reduce((s, v) => s + v, 0) / n : Number.NaN;
  const sd = n > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  const grid = new Map<number | null, number>();
  for (const v of values) grid.set(gridCell(v), (grid.get(gridCell(v)) ?? 0) + 1);
  const absolute = values.map(Math.abs).sort((a, b) => b - a);
  const stats: CohortStatistics = {
    persons: members.length,
    attrition: [{ step: 'entry', persons: members.length }],
    leftOut: 0,
    ageSex,
    members: members.map((p) => p.key),
    measurements:
      n === 0
        ? []
        : [
            {
              system: 'http://loinc.org',
              code: 'lab',
              unit: null,
              n,
              mean,
              sd,
              p25: quantile(values, 0.25),
              median: quantile(values, 0.5),
              p75: quantile(values, 0.75),
              dominance: {
                largestTwo: (absolute[0] ?? 0) + (absolute[1] ?? 0),
                absoluteTotal: absolute.reduce((s, v) => s + v, 0),
              },
              gridCells: [...grid].map(([cell, count]) => ({ cell, count })),
              contributors: measured.map((p) => p.key),
            },
          ],
  };
  try {
    const released = (
      await releaseCohortStatistics(
        { gate: new ReleaseGate(policy), releases: log, hub: 'attacked', linkage: false },
        { requester: 'user:attacker', name: 'attack', purpose: 'research', terms },
        stats,
      )
    ).value;
    const m = released.measurements[0];
    return {
      persons: released.persons,
      ageSex: released.ageSex,
      summary: m?.summary ?? { n: null, withheld: ['n'] },
      histogram: m?.histogram ?? null,
    };
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
