import { isHealthmeshError } from '../core/index.js';
import type { Forecaster, RoundQuantiles } from './forecaster.js';
import { intervalScore } from './interval-score.js';
import { HORIZON_COUNT, LEVEL_COUNT, MEDIAN_INDEX, QUANTILE_LEVELS } from './quantile-forecast.js';
import { panelUpTo } from './rolling-forecast.js';
import type { SeriesPanel } from './weekly-series.js';

/** Options of {@link spreadRecalibration}. */
export interface RecalibrationOptions {
  /** Past forecast origins (weeks) whose resolved forecasts choose the factor. */
  readonly windowWeeks?: number;
  /**
   * With `coverage-split`: go further back than `windowWeeks` (up to 52 weeks) until this many resolved forecasts
   * are counted, so a panel of few locations does not read coverage off a handful of forecasts.
   */
  readonly minForecasts?: number;
  /** Candidate factors on each quantile's distance from the median. */
  readonly factors?: readonly number[];
  /**
   * What the factor optimises on the past forecasts: `coverage` (default: the distance of the 50% and 95%
   * intervals' coverage from nominal) or `wis` (mean log1p WIS; measured on 2023-24 it keeps the ensemble too wide,
   * 97% coverage, because averaging members with different centres widens the tails), or `coverage-split`: one
   * factor for the 50% interval chosen on its coverage alone, then one for the tails beyond it chosen on the 95%
   * interval's coverage (an average of members is too wide in the tails and not in the centre, which one factor
   * cannot mend).
   */
  readonly objective?: 'wis' | 'coverage' | 'coverage-split';
  /**
   * Keep past rounds by origin date (and location list) across panels, not per panel: a rolling run over dated
   * snapshots then reuses each past round as it was first made, from the data known then, instead of remaking it
   * from every newer snapshot (30× fewer rounds over a season). Only for one forward run over one data source.
   */
  readonly pastRoundsAsMade?: boolean;
}

/**
 * Rescales a forecaster's spread per horizon by the factor that best calibrated it (see `objective`) over the past
 * `windowWeeks` origins whose targets are already observed — each of those past forecasts made from the data
 * before its own origin. An average of members with different centres is wider than any member, so an ensemble
 * needs this to be calibrated; using only resolved past forecasts keeps it honest in a rolling evaluation.
 * Past rounds are cached per underlying data buffer, so a rolling run computes each origin once.
 */
export function spreadRecalibration(inner: Forecaster, options: RecalibrationOptions = {}): Forecaster {
  const windowWeeks = options.windowWeeks ?? 52;
  const factors = options.factors ?? Array.from({ length: 16 }, (_, i) => 0.5 + 0.1 * i);
  const objective = options.objective ?? 'coverage';
  const cache = new WeakMap<ArrayBufferLike, Map<number, RoundQuantiles[] | undefined>>();
  // By origin day and locations: the round as made, and the last week of the round that made it.
  const asMade = new Map<string, { round: RoundQuantiles[] | undefined; madeAt: number }>();

  const pastRound = (panel: SeriesPanel, origin: number): RoundQuantiles[] | undefined => {
    try {
      return inner.forecastRound(panelUpTo(panel, origin), origin);
    } catch (e) {
      // Early origins lack the history the members need: they simply do not vote.
      if (!isHealthmeshError(e) || e.code !== 'SURVEILLANCE_SHORT_HISTORY') throw e;
      return undefined;
    }
  };
  const roundAt = (panel: SeriesPanel, origin: number, lastIndex: number): RoundQuantiles[] | undefined => {
    if (options.pastRoundsAsMade) {
      const key = `${panel.startDay + 7 * origin}|${panel.locations.join(',')}`;
      const now = panel.startDay + 7 * lastIndex;
      const kept = asMade.get(key);
      // Made by a later round (a run that went back in time): its data may be newer than this round's.
      if (kept !== undefined && kept.madeAt <= now) return kept.round;
      const round = pastRound(panel, origin);
      if (kept === undefined) asMade.set(key, { round, madeAt: now });
      return round;
    }
    const key = (panel.rows[0] as Float64Array).buffer;
    let byOrigin = cache.get(key);
    if (!byOrigin) {
      byOrigin = new Map();
      cache.set(key, byOrigin);
    }
    if (!byOrigin.has(origin)) byOrigin.set(origin, pastRound(panel, origin));
    return byOrigin.get(origin);
  };

  return {
    name: `${inner.name}-recalibrated`,
    forecastRound(panel, lastIndex) {
      // The round itself always from this panel (with pastRoundsAsMade a kept one could predate this data), and
      // kept as issued for the rounds after it.
      let current: RoundQuantiles[] | undefined;
      if (options.pastRoundsAsMade) {
        current = pastRound(panel, lastIndex);
        const key = `${panel.startDay + 7 * lastIndex}|${panel.locations.join(',')}`;
        if (!asMade.has(key)) asMade.set(key, { round: current, madeAt: panel.startDay + 7 * lastIndex });
      } else {
        current = roundAt(panel, lastIndex, lastIndex);
      }
      if (current === undefined) return inner.forecastRound(panel, lastIndex);
      if (objective === 'coverage-split') {
        const window = { weeks: windowWeeks, minForecasts: options.minForecasts ?? 0 };
        const pastAt = (origin: number) => roundAt(panel, origin, lastIndex);
        return splitRecalibrated(current, panel, lastIndex, pastAt, window, factors);
      }
      const chosen = new Float64Array(HORIZON_COUNT).fill(1);
      const scaled = new Float64Array(LEVEL_COUNT);
      for (let h = 0; h < HORIZON_COUNT; h++) {
        const loss = new Float64Array(factors.length);
        const inside50 = new Float64Array(factors.length);
        const inside95 = new Float64Array(factors.length);
        let n = 0;
        for (let origin = lastIndex - h - 1; origin >= Math.max(0, lastIndex - h - windowWeeks); origin--) {
          const past = roundAt(panel, origin, lastIndex);
          if (!past) continue;
          past.forEach((q, l) => {
            const y = (panel.rows[l] as Float64Array)[origin + h + 1] as number;
            if (Number.isNaN(y)) return;
            n++;
            const m = q[h * LEVEL_COUNT + MEDIAN_INDEX] as number;
            factors.forEach((c, ci) => {
              for (let i = 0; i < LEVEL_COUNT; i++) {
                scaled[i] = Math.log1p(Math.max(0, m + c * ((q[h * LEVEL_COUNT + i] as number) - m)));
              }
              const score = intervalScore(scaled, Math.log1p(y));
              loss[ci] = (loss[ci] as number) + score.wis;
              if (score.covered50) inside50[ci] = (inside50[ci] as number) + 1;
              if (score.covered95) inside95[ci] = (inside95[ci] as number) + 1;
            });
          });
        }
        if (n === 0) continue;
        if (objective === 'coverage') {
          for (let ci = 0; ci < factors.length; ci++) {
            loss[ci] = Math.abs((inside50[ci] as number) / n - 0.5) + Math.abs((inside95[ci] as number) / n - 0.95);
          }
        }
        let best = 0;
        for (let ci = 1; ci < factors.length; ci++) if ((loss[ci] as number) < (loss[best] as number)) best = ci;
        chosen[h] = factors[best] as number;
      }
      return current.map((q) => {
        const out = new Float64Array(q.length);
        for (let h = 0; h < HORIZON_COUNT; h++) {
          const m = q[h * LEVEL_COUNT + MEDIAN_INDEX] as number;
          const c = chosen[h] as number;
          for (let i = 0; i < LEVEL_COUNT; i++) {
            const k = h * LEVEL_COUNT + i;
            out[k] = Math.max(0, m + c * ((q[k] as number) - m));
          }
        }
        return out;
      });
    },
  };
}

const MAX_WINDOW_WEEKS = 52;
const Q025 = QUANTILE_LEVELS.findIndex((l) => Math.abs(l - 0.025) < 1e-9);
const Q25 = QUANTILE_LEVELS.findIndex((l) => Math.abs(l - 0.25) < 1e-9);
const Q75 = QUANTILE_LEVELS.findIndex((l) => Math.abs(l - 0.75) < 1e-9);
const Q975 = QUANTILE_LEVELS.findIndex((l) => Math.abs(l - 0.975) < 1e-9);

/** The factor whose share of `inside` counts is nearest `nominal` (the smallest on a tie: the narrower forecast). */
function nearest(inside: Float64Array, n: number, nominal: number): number {
  let best = 0;
  for (let ci = 1; ci < inside.length; ci++) {
    if (Math.abs((inside[ci] as number) / n - nominal) < Math.abs((inside[best] as number) / n - nominal)) best = ci;
  }
  return best;
}

/**
 * `coverage-split`: per horizon, c50 scales the distances from the median inside the 50% interval, chosen on the
 * 50% coverage of the past rounds; c95 scales the distances beyond the interval's bounds, chosen on the 95%
 * coverage given c50. Quantiles stay ordered (both factors are positive) and at or above 0.
 */
function splitRecalibrated(
  current: readonly RoundQuantiles[],
  panel: SeriesPanel,
  lastIndex: number,
  pastAt: (origin: number) => RoundQuantiles[] | undefined,
  window: { readonly weeks: number; readonly minForecasts: number },
  factors: readonly number[],
): RoundQuantiles[] {
  const c50 = new Float64Array(HORIZON_COUNT).fill(1);
  const c95 = new Float64Array(HORIZON_COUNT).fill(1);
  for (let h = 0; h < HORIZON_COUNT; h++) {
    const cells: number[] = []; // m, q025, q25, q75, q975, y per past forecast
    const first = lastIndex - h - 1;
    for (let origin = first; origin >= Math.max(0, first - MAX_WINDOW_WEEKS + 1); origin--) {
      if (first - origin >= window.weeks && cells.length / 6 >= window.minForecasts) break;
      pastAt(origin)?.forEach((q, l) => {
        const y = (panel.rows[l] as Float64Array)[origin + h + 1] as number;
        if (Number.isNaN(y)) return;
        const at = (i: number) => q[h * LEVEL_COUNT + i] as number;
        cells.push(at(MEDIAN_INDEX), at(Q025), at(Q25), at(Q75), at(Q975), y);
      });
    }
    const n = cells.length / 6;
    if (n === 0) continue;
    const inside = new Float64Array(factors.length);
    factors.forEach((c, ci) => {
      for (let k = 0; k < cells.length; k += 6) {
        const m = cells[k] as number;
        const y = cells[k + 5] as number;
        if (y >= Math.max(0, m + c * ((cells[k + 2] as number) - m)) && y <= m + c * ((cells[k + 3] as number) - m)) {
          inside[ci] = (inside[ci] as number) + 1;
        }
      }
    });
    const a = factors[nearest(inside, n, 0.5)] as number;
    inside.fill(0);
    factors.forEach((c, ci) => {
      for (let k = 0; k < cells.length; k += 6) {
        const m = cells[k] as number;
        const y = cells[k + 5] as number;
        const lo25 = m + a * ((cells[k + 2] as number) - m);
        const hi75 = m + a * ((cells[k + 3] as number) - m);
        const lower = Math.max(0, lo25 + c * ((cells[k + 1] as number) - (cells[k + 2] as number)));
        const upper = hi75 + c * ((cells[k + 4] as number) - (cells[k + 3] as number));
        if (y >= lower && y <= upper) inside[ci] = (inside[ci] as number) + 1;
      }
    });
    c50[h] = a;
    c95[h] = factors[nearest(inside, n, 0.95)] as number;
  }
  return current.map((q) => {
    const out = new Float64Array(q.length);
    for (let h = 0; h < HORIZON_COUNT; h++) {
      const base = h * LEVEL_COUNT;
      const m = q[base + MEDIAN_INDEX] as number;
      const a = c50[h] as number;
      const c = c95[h] as number;
      const lo25 = m + a * ((q[base + Q25] as number) - m);
      const hi75 = m + a * ((q[base + Q75] as number) - m);
      for (let i = 0; i < LEVEL_COUNT; i++) {
        const v = q[base + i] as number;
        let scaled: number;
        if (i < Q25) scaled = lo25 + c * (v - (q[base + Q25] as number));
        else if (i > Q75) scaled = hi75 + c * (v - (q[base + Q75] as number));
        else scaled = m + a * (v - m);
        out[base + i] = Math.max(0, scaled);
      }
    }
    return out;
  });
}
