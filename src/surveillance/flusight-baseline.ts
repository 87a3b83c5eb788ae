import { seededRandom, shuffleInPlace } from '../core/index.js';
import type { Forecaster, RoundQuantiles } from './forecaster.js';
import { emptyRoundQuantiles, historyOf } from './forecaster.js';
import { medianOf, quantileSorted, quantilesOf } from './order-statistics.js';
import { HORIZON_COUNT, LEVEL_COUNT, QUANTILE_LEVELS } from './quantile-forecast.js';

/** Options of {@link flusightBaseline}; the defaults are those of the published 2023-24 FluSight-baseline. */
export interface FlusightBaselineOptions {
  /** Simulated values per horizon (published: `nsims = 1e5`). */
  readonly nsims?: number;
  /** Seed of the shuffles; each round and location derives its own stream from it. */
  readonly seed?: number;
  /**
   * What the next horizon builds on. `raw` (epipredict's `propagate_samples`): the running sums before the
   * median shift and the zero floor; `adjusted`: the shifted, floored values. Measured against the published
   * 2023-24 files (docs/surveillance.md), `raw` matches.
   */
  readonly carry?: 'raw' | 'adjusted';
}

/** Fewest weeks the baseline accepts: two changes, so the symmetrised distribution has four points. */
export const BASELINE_MIN_WEEKS = 3;

/**
 * The FluSight-baseline of 2023-24 (cdcepi/Flusight-baseline `flusight-baseline-2023-24.R`, which calls
 * epipredict's `cdc_baseline_forecaster` with `aheads = 1:4, nsims = 1e5`, symmetrize and nonneg on):
 * 1. residuals are all week-to-week changes of the location's history, and their negatives;
 * 2. `nsims` values spaced evenly in probability are read from their type-7 quantile function;
 * 3. horizon 0 = last value + those values, floored at zero;
 * 4. each further horizon adds a fresh shuffle of the same values to the running sums, shifts the result so
 *    its median is the last value again, and floors it at zero;
 * 5. the 23 quantiles (type 7) of each horizon's values are the forecast. The median is the last value.
 */
export function flusightBaseline(options: FlusightBaselineOptions = {}): Forecaster {
  const nsims = options.nsims ?? 100_000;
  const seed = options.seed ?? 20231014;
  const carry = options.carry ?? 'raw';
  return {
    name: 'FluSight-baseline',
    forecastRound(panel, lastIndex) {
      const samp = new Float64Array(nsims);
      const raw = new Float64Array(nsims);
      const shifted = new Float64Array(nsims);
      const out = new Float64Array(LEVEL_COUNT);
      return panel.rows.map((_, location): RoundQuantiles => {
        const history = historyOf(panel, location, lastIndex, BASELINE_MIN_WEEKS, 'FluSight-baseline');
        const random = seededRandom(seed ^ Math.imul(lastIndex + 1, 0x9e3779b1) ^ Math.imul(location + 1, 0x85ebca6b));
        const changes = new Float64Array(2 * (history.length - 1));
        for (let t = 1; t < history.length; t++) {
          const d = (history[t] as number) - (history[t - 1] as number);
          changes[2 * (t - 1)] = d;
          changes[2 * (t - 1) + 1] = -d;
        }
        changes.sort();
        for (let j = 0; j < nsims; j++) samp[j] = quantileSorted(changes, j / (nsims - 1));
        const last = history[history.length - 1] as number;
        const result = emptyRoundQuantiles();
        // Horizon 0: samp is ascending and the floor is monotone, so the values are already sorted.
        for (let j = 0; j < nsims; j++) raw[j] = Math.max(0, last + (samp[j] as number));
        for (let i = 0; i < LEVEL_COUNT; i++) result[i] = quantileSorted(raw, QUANTILE_LEVELS[i] as number);
        for (let h = 1; h < HORIZON_COUNT; h++) {
          shuffleInPlace(samp, random);
          for (let j = 0; j < nsims; j++) raw[j] = (raw[j] as number) + (samp[j] as number);

          const shift = medianOf(raw) - last;
          for (let j = 0; j < nsims; j++) shifted[j] = Math.max(0, (raw[j] as number) - shift);
          if (carry === 'adjusted') raw.set(shifted);
          quantilesOf(shifted, QUANTILE_LEVELS, out);
          result.set(out, h * LEVEL_COUNT);
        }
        return result;
      });
    },
  };
}
