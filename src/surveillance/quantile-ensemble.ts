import { HealthmeshError } from '../core/index.js';
import type { Forecaster, RoundQuantiles } from './forecaster.js';
import { emptyRoundQuantiles, tidyQuantiles } from './forecaster.js';

/**
 * The quantile-average ensemble (Vincentisation), as FluSight's own ensemble is built: each quantile level of the
 * ensemble is the weighted mean of the members' values at that level. Weights default to equal; they are fixed
 * before the season, never fitted to the weeks being forecast.
 */
export function quantileEnsemble(
  members: readonly Forecaster[],
  weights: readonly number[] = members.map(() => 1),
  name = 'healthmesh-ensemble',
): Forecaster {
  if (members.length === 0 || weights.length !== members.length || weights.some((w) => !(w >= 0))) {
    throw new HealthmeshError(
      'SURVEILLANCE_BAD_FORECAST',
      'an ensemble needs members and one non-negative weight each',
    );
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return {
    name,
    forecastRound(panel, lastIndex) {
      const rounds = members.map((m) => m.forecastRound(panel, lastIndex));
      return panel.rows.map((_, l): RoundQuantiles => {
        const out = emptyRoundQuantiles();
        rounds.forEach((r, m) => {
          const q = r[l] as RoundQuantiles;
          const w = (weights[m] as number) / total;
          for (let i = 0; i < out.length; i++) out[i] = (out[i] as number) + w * (q[i] as number);
        });
        return tidyQuantiles(out);
      });
    },
  };
}
