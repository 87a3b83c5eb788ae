import { LEVEL_COUNT, type QuantileForecast, taskKey } from './quantile-forecast.js';

/** How far our forecasts lie from published ones for one location. */
export interface ReproductionGap {
  readonly location: string;
  readonly forecasts: number;
  /** Largest |ours - published| over all levels, horizons and rounds (counts). */
  readonly maxAbsolute: number;
  /** Largest |ours - published| / max(1, published 1%–99% width) of the same forecast. */
  readonly maxRelativeToWidth: number;
  /** Mean over forecasts and levels of |ours - published| / max(1, published width). */
  readonly meanRelativeToWidth: number;
  /** Forecasts whose medians agree to 0.01 counts. */
  readonly medianMatches: number;
}

/**
 * Compares our forecasts with published ones task by task (reference date, location, horizon), per location.
 * Differences are also given relative to the published forecast's 1%–99% width, the scale on which a quantile
 * error matters to a WIS.
 */
export function reproductionGaps(
  ours: readonly QuantileForecast[],
  published: readonly QuantileForecast[],
): ReproductionGap[] {
  const mine = new Map(ours.map((f) => [taskKey(f.referenceDay, f.location, f.horizon), f.values]));
  const acc = new Map<string, { n: number; maxAbs: number; maxRel: number; sumRel: number; medians: number }>();
  for (const p of published) {
    const q = mine.get(taskKey(p.referenceDay, p.location, p.horizon));
    if (!q) continue;
    let a = acc.get(p.location);
    if (!a) {
      a = { n: 0, maxAbs: 0, maxRel: 0, sumRel: 0, medians: 0 };
      acc.set(p.location, a);
    }
    const width = Math.max(1, (p.values[LEVEL_COUNT - 1] as number) - (p.values[0] as number));
    for (let i = 0; i < LEVEL_COUNT; i++) {
      const d = Math.abs((q[i] as number) - (p.values[i] as number));
      a.maxAbs = Math.max(a.maxAbs, d);
      a.maxRel = Math.max(a.maxRel, d / width);
      a.sumRel += d / width / LEVEL_COUNT;
    }
    const median = p.values[11] as number;
    // Within 0.01 counts: published files carry float noise (222.00000000000009), and with a last value of 0 the
    // method's median is half of the smallest simulated change above 0 (type-7 interpolation at 49999.5 of 1e5
    // values), a tiny positive number (published: 0.00004 … 0.0004).
    if (Math.abs((q[11] as number) - median) <= 0.01) a.medians++;
    a.n++;
  }
  return [...acc]
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([location, a]) => ({
      location,
      forecasts: a.n,
      maxAbsolute: a.maxAbs,
      maxRelativeToWidth: a.maxRel,
      meanRelativeToWidth: a.sumRel / a.n,
      medianMatches: a.medians,
    }));
}
