import type { Forecaster, RoundQuantiles } from './forecaster.js';
import { emptyRoundQuantiles, historyOf, tidyQuantiles } from './forecaster.js';
import { quantilesOf } from './order-statistics.js';
import { HORIZON_COUNT, LEVEL_COUNT, QUANTILE_LEVELS } from './quantile-forecast.js';
import { logGrowth, pooledSignal } from './regional-signal.js';
import { RidgeAccumulator } from './ridge-regression.js';

/** Options of {@link autoregressiveForecaster}. */
export interface AutoregressiveOptions {
  /** Ridge penalty on the slopes (intercept free). */
  readonly lambda?: number;
  /** Half-life in weeks of the weights of past training rows: the epidemic's dynamics drift from season to season. */
  readonly halfLifeWeeks?: number;
  /** Recent forecast origins whose residuals (pooled over locations) give the quantiles. */
  readonly residualWeeks?: number;
}

/** Fewest weeks a location needs: three lags of changes plus rows to learn from. */
export const AUTOREGRESSIVE_MIN_WEEKS = 6;
const FEATURES = 7;
const ROOT = 0.25;

/**
 * A pooled direct autoregression on the fourth-root scale (which roughly stabilises the variance of counts):
 * for each horizon h, z(t+h+1) - z(t) is regressed on the location's last two changes, the pooled regional growth
 * of the last two weeks scaled by the location's level (so the covariate is the change the location would see if it
 * grew like everyone else), and an annual harmonic scaled the same way (the flu season's rise and fall). One model
 * is fitted across all locations per round, rows weighted by recency; the quantiles are the point forecast plus
 * empirical quantiles of the in-sample residuals of recent origins, back-transformed by z⁴.
 */
export function autoregressiveForecaster(options: AutoregressiveOptions = {}): Forecaster {
  const lambda = options.lambda ?? 1;
  const halfLife = options.halfLifeWeeks ?? 52;
  const residualWeeks = options.residualWeeks ?? 52;
  return {
    name: 'AR-root4-pooled',
    forecastRound(panel, lastIndex) {
      const histories = panel.rows.map((_, l) =>
        historyOf(panel, l, lastIndex, AUTOREGRESSIVE_MIN_WEEKS, 'AR-root4-pooled'),
      );
      const growth = logGrowth(pooledSignal(panel));
      const roots = panel.rows.map((row) => row.map((v) => (Number.isNaN(v) ? v : v ** ROOT)));
      const features = (z: Float64Array, t: number, x: Float64Array): boolean => {
        const z0 = z[t] as number;
        const z1 = z[t - 1] as number;
        const z2 = z[t - 2] as number;
        const z3 = z[t - 3] as number;
        if (Number.isNaN(z3) || t < 3) return false;
        // Seasonal phase from the week's calendar date: the annual cycle of influenza in the northern hemisphere.
        const angle = (2 * Math.PI * ((panel.startDay + 7 * t) % 365.25)) / 365.25;
        x[0] = 1;
        x[1] = z0 - z1;
        x[2] = z1 - z2;
        x[3] = z0 * (growth[t] as number);
        x[4] = z0 * (growth[t - 1] as number);
        x[5] = z0 * Math.sin(angle);
        x[6] = z0 * Math.cos(angle);
        return true;
      };
      const x = new Float64Array(FEATURES);
      const results = histories.map(() => emptyRoundQuantiles());
      const out = new Float64Array(LEVEL_COUNT);
      for (let h = 0; h < HORIZON_COUNT; h++) {
        const steps = h + 1;
        const acc = new RidgeAccumulator(FEATURES);
        for (const z of roots) {
          for (let t = 3; t + steps <= lastIndex; t++) {
            const target = z[t + steps] as number;
            if (Number.isNaN(target) || !features(z, t, x)) continue;
            acc.add(x, target - (z[t] as number), 0.5 ** ((lastIndex - t - steps) / halfLife));
          }
        }
        const beta = acc.solve(lambda);
        const predict = (z: Float64Array, t: number): number => {
          if (!features(z, t, x)) return z[t] as number;
          let s = 0;
          for (let j = 0; j < FEATURES; j++) s += (beta[j] as number) * (x[j] as number);
          return (z[t] as number) + s;
        };
        const residuals: number[] = [];
        for (const z of roots) {
          for (let t = Math.max(3, lastIndex - steps - residualWeeks + 1); t + steps <= lastIndex; t++) {
            const target = z[t + steps] as number;
            if (!Number.isNaN(target) && !Number.isNaN(z[t - 3] as number)) residuals.push(target - predict(z, t));
          }
        }
        quantilesOf(Float64Array.from(residuals), QUANTILE_LEVELS, out);
        roots.forEach((z, l) => {
          const centre = predict(z, lastIndex);
          const q = results[l] as RoundQuantiles;
          for (let i = 0; i < LEVEL_COUNT; i++) q[h * LEVEL_COUNT + i] = Math.max(0, centre + (out[i] as number)) ** 4;
        });
      }
      return results.map(tidyQuantiles);
    },
  };
}
