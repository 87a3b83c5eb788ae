import type { Forecaster, RoundQuantiles } from './forecaster.js';
import { emptyRoundQuantiles, historyOf, tidyQuantiles } from './forecaster.js';
import { quantilesOf } from './order-statistics.js';
import { HORIZON_COUNT, LEVEL_COUNT, QUANTILE_LEVELS } from './quantile-forecast.js';
import { pooledSignal } from './regional-signal.js';

/** Options of {@link renewalForecaster}. */
export interface RenewalOptions {
  /**
   * Weekly generation-interval weights (lag 1, lag 2, …). Influenza's generation interval is ~3 days (Cowling et
   * al. 2009), so most infectors of a week's cases fall in the week before; 0.8/0.2 spreads them across the week
   * boundary.
   */
  readonly generationInterval?: readonly number[];
  /** Candidate weekly damping factors of log R toward 1; the best on recent weeks is chosen each round. */
  readonly dampings?: readonly number[];
  /** Weeks a location's own R is trusted as much as the pooled R: weight y / (y + this). */
  readonly pooling?: number;
  /** Recent origins whose forecast errors are scored to pick the damping and to give the quantiles. */
  readonly backtestWeeks?: number;
}

/** Fewest weeks a location needs: the generation interval, two weeks of R, and a backtest origin. */
export const RENEWAL_MIN_WEEKS = 6;

/**
 * A renewal-equation model: incidence I(t) = R(t) Σ_s w_s I(t - s). Each round it estimates R from the last two
 * weeks of the location, shrinks it toward R of the pooled signal of all regions (small counts say little about R,
 * and regions share an epidemic), and projects I forward with log R damped toward 0 by a factor per week (epidemics
 * turn: susceptibles deplete, behaviour changes). The damping is fitted each round on the recent weeks' forecast
 * errors; quantiles are the point path times the empirical quantiles of those recent errors on the log1p scale.
 */
export function renewalForecaster(options: RenewalOptions = {}): Forecaster {
  const w = options.generationInterval ?? [0.8, 0.2];
  const dampings = options.dampings ?? [0.4, 0.55, 0.7, 0.8, 0.9];
  const pooling = options.pooling ?? 30;
  const backtestWeeks = options.backtestWeeks ?? 52;
  const lags = w.length;

  const pressure = (y: ArrayLike<number>, t: number): number => {
    let s = 0;
    for (let k = 0; k < lags; k++) s += (w[k] as number) * (y[t - 1 - k] as number);
    return s;
  };
  const logR = (y: ArrayLike<number>, t: number): number => {
    // Two weeks of R, weighted 2:1 toward the latest; +1 keeps zero counts finite.
    const r0 = Math.log(((y[t] as number) + 1) / (pressure(y, t) + 1));
    const r1 = Math.log(((y[t - 1] as number) + 1) / (pressure(y, t - 1) + 1));
    return (2 * r0 + r1) / 3;
  };
  /** Point paths for horizons 0..3 from origin t (observed through t). */
  const project = (y: Float64Array, pooled: Float64Array, t: number, damping: number, out: Float64Array): void => {
    const own = logR(y, t);
    const weight = (y[t] as number) / ((y[t] as number) + pooling);
    let lr = weight * own + (1 - weight) * logR(pooled, t);
    const path = new Float64Array(lags + HORIZON_COUNT);
    for (let k = 0; k < lags; k++) path[k] = y[t - lags + 1 + k] as number;
    for (let h = 0; h < HORIZON_COUNT; h++) {
      lr *= damping;
      const i = lags + h;
      path[i] = Math.exp(lr) * pressure(path, i);
      out[h] = path[i] as number;
    }
  };
  const firstOrigin = lags + 1;

  return {
    name: 'renewal-pooled',
    forecastRound(panel, lastIndex) {
      const histories = panel.rows.map((_, l) => historyOf(panel, l, lastIndex, RENEWAL_MIN_WEEKS, 'renewal-pooled'));
      const pooledFull = pooledSignal(panel);
      const offsets = histories.map((h) => lastIndex + 1 - h.length);
      const pooledOf = (l: number): Float64Array => pooledFull.subarray(offsets[l] as number, lastIndex + 1);
      const point = new Float64Array(HORIZON_COUNT);
      // Backtest errors e = log1p(y) - log1p(ŷ), per damping and horizon, over recent origins of every location.
      const errors = dampings.map(() => Array.from({ length: HORIZON_COUNT }, () => [] as number[]));
      histories.forEach((y, l) => {
        const pooled = pooledOf(l);
        const from = Math.max(firstOrigin, y.length - 1 - backtestWeeks);
        for (let t = from; t < y.length - 1; t++) {
          dampings.forEach((d, di) => {
            project(y, pooled, t, d, point);
            for (let h = 0; h < HORIZON_COUNT && t + h + 1 < y.length; h++) {
              errors[di]?.[h]?.push(Math.log1p(y[t + h + 1] as number) - Math.log1p(point[h] as number));
            }
          });
        }
      });
      let best = 0;
      let bestLoss = Number.POSITIVE_INFINITY;
      errors.forEach((byH, di) => {
        let loss = 0;
        for (const e of byH) for (const v of e) loss += Math.abs(v) / Math.max(1, e.length);
        if (loss < bestLoss) {
          bestLoss = loss;
          best = di;
        }
      });
      const damping = dampings[best] as number;
      const quantiles = (errors[best] ?? []).map((e) => {
        const q = new Float64Array(LEVEL_COUNT);
        if (e.length > 0) quantilesOf(Float64Array.from(e), QUANTILE_LEVELS, q);
        return q;
      });
      return histories.map((y, l): RoundQuantiles => {
        const result = emptyRoundQuantiles();
        project(y, pooledOf(l), y.length - 1, damping, point);
        for (let h = 0; h < HORIZON_COUNT; h++) {
          const centre = Math.log1p(point[h] as number);
          const q = quantiles[h] as Float64Array;
          for (let i = 0; i < LEVEL_COUNT; i++) result[h * LEVEL_COUNT + i] = Math.expm1(centre + (q[i] as number));
        }
        return tidyQuantiles(result);
      });
    },
  };
}
