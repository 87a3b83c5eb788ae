/**
 * The coordinator's pooling of the hubs' released measurement statistics: means and SDs from the released n,
 * means and SDs only, quartiles from the released histograms. Nothing exact goes in, so nothing exact comes out.
 */
import type { PooledQuantile, ReleasedHistogram } from '../privacy/index.js';
import { poolQuantiles } from '../privacy/index.js';
import type { ReleasedCohort } from './federated-cohort.js';

/** A measurement pooled across hubs from their released summaries. */
export interface PooledMeasurement {
  system: string;
  code: string;
  unit: string | null;
  /** Sum of the released (rounded) person counts of the hubs whose mean was released. */
  n: number;
  hubs: number;
  mean: number;
  /** Pooled standard deviation (within- and between-hub), when every pooled hub released its SD. */
  sd?: number;
  /**
   * Quartiles of the union from the hubs' released histograms, with bounds; null for a quartile that falls in
   * an open outer bin. Absent when no hub released a histogram.
   */
  quantiles?: Record<string, PooledQuantile | null>;
  /** Hubs whose histogram went into `quantiles`. */
  quantileHubs?: number;
}

/**
 * Pooled mean and variance from per-hub (n, mean, SD): total sum of squares = within-hub + between-hub parts.
 * Quartiles are pooled from the hubs' histograms (privacy/quantile-histogram.ts), not from their released
 * quartiles, which do not combine into the quartiles of the union.
 */
export function poolMeasurements(hubs: readonly ReleasedCohort[]): PooledMeasurement[] {
  const groups = new Map<
    string,
    {
      system: string;
      code: string;
      unit: string | null;
      parts: { n: number; mean: number; sd?: number }[];
      histograms: ReleasedHistogram[];
    }
  >();
  for (const h of hubs) {
    for (const m of h.measurements) {
      const { n, mean, sd } = m.summary;
      if (n === null || mean === undefined) continue;
      const key = `${m.system}|${m.code}`;
      let g = groups.get(key);
      if (g === undefined) {
        g = { system: m.system, code: m.code, unit: m.unit, parts: [], histograms: [] };
        groups.set(key, g);
      }
      g.parts.push({ n, mean, ...(sd !== undefined && { sd }) });
      if (m.histogram) g.histograms.push(m.histogram);
    }
  }
  return [...groups.values()].map((g) => {
    const n = g.parts.reduce((s, p) => s + p.n, 0);
    const mean = g.parts.reduce((s, p) => s + p.n * p.mean, 0) / n;
    const pooled: PooledMeasurement = { system: g.system, code: g.code, unit: g.unit, n, hubs: g.parts.length, mean };
    if (g.parts.every((p) => p.sd !== undefined) && n > 1) {
      const ss = g.parts.reduce((s, p) => s + (p.n - 1) * (p.sd ?? 0) ** 2 + p.n * (p.mean - mean) ** 2, 0);
      pooled.sd = Math.sqrt(ss / (n - 1));
    }
    if (g.histograms.length > 0) {
      pooled.quantiles = poolQuantiles(g.histograms, QUARTILES);
      pooled.quantileHubs = g.histograms.length;
    }
    return pooled;
  });
}

const QUARTILES = [0.25, 0.5, 0.75];
