import { HealthmeshError } from '../core/index.js';
import { HORIZON_COUNT, LEVEL_COUNT } from './quantile-forecast.js';
import { isoDay, type SeriesPanel } from './weekly-series.js';

/**
 * Quantiles of one round for one location: `HORIZON_COUNT * LEVEL_COUNT` values, horizon-major
 * (`[h * 23 + level]`). Horizon h is the week `h + 1` steps after the last observed week.
 */
export type RoundQuantiles = Float64Array;

/** A forecaster: from every location's weeks up to `lastIndex` (inclusive), quantiles for horizons 0..3. */
export interface Forecaster {
  readonly name: string;
  /** One {@link RoundQuantiles} per location of the panel, in panel order. */
  forecastRound(panel: SeriesPanel, lastIndex: number): RoundQuantiles[];
}

/** A new, empty {@link RoundQuantiles}. */
export function emptyRoundQuantiles(): RoundQuantiles {
  return new Float64Array(HORIZON_COUNT * LEVEL_COUNT);
}

/**
 * The weeks of one location up to `lastIndex`, from its first report on. A location with fewer than
 * `minWeeks` is refused with `SURVEILLANCE_SHORT_HISTORY` naming it: the forecasters' spreads come from past
 * week-to-week changes, and two weeks give one change, too few to call a distribution.
 */
export function historyOf(
  panel: SeriesPanel,
  location: number,
  lastIndex: number,
  minWeeks: number,
  model: string,
): Float64Array {
  const row = panel.rows[location] as Float64Array;
  let first = lastIndex;
  while (first >= 0 && !Number.isNaN(row[first] as number)) first--;
  first++;
  const weeks = lastIndex - first + 1;
  if (weeks < minWeeks) {
    const name = panel.locations[location] ?? String(location);
    throw new HealthmeshError(
      'SURVEILLANCE_SHORT_HISTORY',
      `${model}: location ${name} has ${weeks} week(s) up to ${isoDay(panel.startDay + 7 * lastIndex)}; at least ${minWeeks} are needed`,
      { path: name },
    );
  }
  return row.subarray(first, lastIndex + 1);
}

/** Makes each horizon's quantiles non-negative and non-decreasing (counts cannot be negative; levels must not cross). */
export function tidyQuantiles(q: RoundQuantiles): RoundQuantiles {
  for (let h = 0; h < HORIZON_COUNT; h++) {
    let floor = 0;
    for (let i = 0; i < LEVEL_COUNT; i++) {
      const k = h * LEVEL_COUNT + i;
      const v = Math.max(floor, q[k] as number);
      q[k] = v;
      floor = v;
    }
  }
  return q;
}
