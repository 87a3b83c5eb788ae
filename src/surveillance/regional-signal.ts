import type { SeriesPanel } from './weekly-series.js';

/** Location code of a national total that is itself the sum of the other rows (FluSight: `US`). */
export const NATIONAL_LOCATION = 'US';

/**
 * The pooled signal of all regions: the week's sum over every location but the national total (weeks a location
 * has not reported count as zero). Cross-location models read its growth: an epidemic rising elsewhere is
 * evidence that it will rise here too (the hubs' regions lead and lag one another).
 */
export function pooledSignal(panel: SeriesPanel): Float64Array {
  const total = new Float64Array(panel.weeks);
  panel.rows.forEach((row, l) => {
    if (panel.locations[l] === NATIONAL_LOCATION) return;
    for (let t = 0; t < panel.weeks; t++) {
      const v = row[t] as number;
      if (!Number.isNaN(v)) total[t] = (total[t] as number) + v;
    }
  });
  return total;
}

/** Weekly log growth of a signal, log(1 + x_t) - log(1 + x_(t-1)); 0 for the first week. */
export function logGrowth(signal: Float64Array): Float64Array {
  const g = new Float64Array(signal.length);
  for (let t = 1; t < signal.length; t++) g[t] = Math.log1p(signal[t] as number) - Math.log1p(signal[t - 1] as number);
  return g;
}
