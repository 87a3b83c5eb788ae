import { HealthmeshError } from '../core/index.js';
import { LEVEL_COUNT, QUANTILE_LEVELS, type QuantileForecast } from './quantile-forecast.js';
import type { ReleasedHubSeries } from './released-series.js';
import { isoDay, parseIsoDay, type WeeklySeries } from './weekly-series.js';

/**
 * What a forecaster reads for a suppressed week (docs/surveillance.md, "Suppressed weeks"):
 * - `midpoint` (default): the middle of what a suppressed count can be, (threshold − 1) / 2 for a week under the
 *   releasing hub's threshold (4.5 under the default policy). Not zero: a quiet week is not an empty one, and a
 *   run of zeros would tell the forecasters that the epidemic had stopped. A confirmed count is also capped by
 *   the same week's released ILI count (confirmed cases are ILI visits). A confirmed count withheld beside a
 *   released ILI count I is either under t (its own suppression) or above I − t (withheld because the unconfirmed
 *   rest was under t): the released weeks nearby say which — see `confirmedWithheld`.
 * - `refuse`: any suppressed week in the forecast's target series is an error (`SURVEILLANCE_SUPPRESSED_WEEK`)
 *   naming the hub and the weeks, for users who would rather not forecast from imputed values at all.
 */
export type SuppressedWeekPolicy = 'midpoint' | 'refuse';

/** Which of a released pair of series to read. */
export type ReleasedTarget = 'ili' | 'confirmed';

/** A released series turned into the forecasters' input, with the weeks that were imputed. */
export interface ImputedSeries {
  series: WeeklySeries;
  /** End dates of the weeks whose value was imputed (they were null in the release). */
  imputedWeeks: string[];
}

/** The value `midpoint` puts in place of a suppressed count under a threshold. */
export function suppressedMidpoint(threshold: number): number {
  return (threshold - 1) / 2;
}

/**
 * One hub's released series as a {@link WeeklySeries} the forecasters can read: released counts as they are
 * (rounded by the hub), suppressed weeks by `policy`. The imputed weeks are listed, never hidden.
 */
export function seriesFromRelease(
  released: ReleasedHubSeries,
  target: ReleasedTarget,
  policy: SuppressedWeekPolicy = 'midpoint',
): ImputedSeries {
  const startDay = parseIsoDay(released.startDate);
  if (startDay === undefined) {
    throw new HealthmeshError('SURVEILLANCE_BAD_RELEASED_SERIES', `series from ${released.hub}: bad startDate`, {
      path: `${released.hub}.startDate`,
    });
  }
  const values = released[target];
  const midpoint = suppressedMidpoint(released.policy.threshold);
  const out = new Float64Array(values.length);
  const imputedWeeks: string[] = [];
  values.forEach((v, w) => {
    if (v !== null) {
      out[w] = v;
      return;
    }
    imputedWeeks.push(isoDay(startDay + 7 * w));
    const iliThatWeek = target === 'confirmed' ? released.ili[w] : null;
    out[w] =
      iliThatWeek === null || iliThatWeek === undefined
        ? midpoint
        : confirmedWithheld(released, w, iliThatWeek, released.policy.threshold);
  });
  if (policy === 'refuse' && imputedWeeks.length > 0) {
    const shown = imputedWeeks.slice(0, 5).join(', ');
    throw new HealthmeshError(
      'SURVEILLANCE_SUPPRESSED_WEEK',
      `${released.hub}: ${imputedWeeks.length} week(s) of ${target} were suppressed by the hub's disclosure control (under ${released.policy.threshold}), e.g. ${shown}; forecast with suppressed weeks imputed (midpoint) or ask for a period without them`,
      { path: released.hub },
    );
  }
  return {
    series: { location: released.location, locationName: released.location, startDay, values: out },
    imputedWeeks,
  };
}

/** Weeks either side of a withheld confirmed count whose released share of ILI decides its reading. */
const SHARE_WINDOW_WEEKS = 4;

/**
 * The reading of a confirmed count withheld in a week whose ILI count `ili` was released. Either the count itself
 * was under the threshold t (it lies in 0 … t − 1) or it was withheld to protect fewer than t unconfirmed visits
 * (it lies in ili − t + 1 … ili): at the height of a season, when nearly every ILI visit is tested, the second is
 * the common case, and reading it as (t − 1) / 2 would put a near-zero in the middle of the peak. The confirmed
 * share of ILI over the released weeks within four weeks either side (all released weeks when none are near)
 * says which: the reading is the middle of the range nearer to share × ili. With no released week to go by, the
 * low range, as before.
 */
export function confirmedWithheld(released: ReleasedHubSeries, week: number, ili: number, threshold: number): number {
  const low = Math.min(suppressedMidpoint(threshold), ili);
  const high = Math.max(ili - suppressedMidpoint(threshold), low);
  const share = (from: number, to: number): number | undefined => {
    let confirmed = 0;
    let total = 0;
    for (let w = Math.max(0, from); w <= Math.min(released.ili.length - 1, to); w++) {
      const c = released.confirmed[w];
      const i = released.ili[w];
      if (c === null || c === undefined || i === null || i === undefined) continue;
      confirmed += c;
      total += i;
    }
    return total > 0 ? confirmed / total : undefined;
  };
  const p = share(week - SHARE_WINDOW_WEEKS, week + SHARE_WINDOW_WEEKS) ?? share(0, released.ili.length - 1);
  if (p === undefined) return low;
  const expected = p * ili;
  return Math.abs(expected - high) < Math.abs(expected - low) ? high : low;
}

/**
 * A forecast made from midpoint-read series is a forecast of the *released* count, in which every week under the
 * threshold t reads (t − 1) / 2: a quiet stretch of history is a constant, so the forecasters' spreads collapse
 * to a point there. This turns it back into a forecast of the count itself: the probability the forecast puts
 * under t (read off its quantiles, linearly between levels) is spread uniformly over 0 … t − 1 — all a suppressed
 * week says is "under t", and the uniform's mean is the midpoint the history was read as. Quantiles at or above
 * t are unchanged. Locations without a threshold (not from a released series) are returned as they are.
 */
export function spreadSuppressedMass(
  forecasts: readonly QuantileForecast[],
  thresholds: ReadonlyMap<string, number>,
): QuantileForecast[] {
  return forecasts.map((f) => {
    const t = thresholds.get(f.location);
    if (t === undefined || !((f.values[0] as number) < t)) return f;
    // Probability under t: the level where the quantile curve crosses t (1 when every quantile is under t).
    let below = 1;
    for (let i = 1; i < LEVEL_COUNT; i++) {
      const q = f.values[i] as number;
      if (q < t) continue;
      const q0 = f.values[i - 1] as number;
      const l0 = QUANTILE_LEVELS[i - 1] as number;
      below = l0 + ((QUANTILE_LEVELS[i] as number) - l0) * ((t - q0) / (q - q0));
      break;
    }
    const values = Float64Array.from(f.values, (q, i) => {
      const level = QUANTILE_LEVELS[i] as number;
      return level < below ? (level / below) * (t - 1) : Math.max(q, t);
    });
    return { ...f, values };
  });
}

/** The threshold each released series was suppressed under, by location, for {@link spreadSuppressedMass}. */
export function releaseThresholds(released: readonly ReleasedHubSeries[]): Map<string, number> {
  return new Map(released.map((r) => [r.location, r.policy.threshold]));
}
