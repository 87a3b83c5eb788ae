import { HealthmeshError } from '../core/index.js';
import { intervalScore } from './interval-score.js';
import { LEVEL_COUNT, type QuantileForecast, targetEndDay, taskKey } from './quantile-forecast.js';
import { parseIsoDay, type WeeklySeries } from './weekly-series.js';

/** Observed values by location and week end day. */
export type TruthTable = ReadonlyMap<string, number>;

function truthKey(location: string, day: number): string {
  return `${location}|${day}`;
}

/** Indexes series as truth for scoring. Weeks a file did not report (`missingDays`) are no truth, whatever filled them. */
export function truthTable(series: readonly WeeklySeries[]): TruthTable {
  const table = new Map<string, number>();
  for (const s of series) {
    const missing = new Set(s.missingDays ?? []);
    s.values.forEach((v, i) => {
      const day = s.startDay + 7 * i;
      if (!Number.isNaN(v) && !missing.has(day)) table.set(truthKey(s.location, day), v);
    });
  }
  return table;
}

/** One forecast's scores: WIS on the count scale and on the log1p scale, coverage of the central intervals. */
export interface ScoredForecast {
  readonly referenceDay: number;
  readonly location: string;
  readonly horizon: number;
  readonly observed: number;
  readonly wis: number;
  /** WIS of log1p(quantiles) against log1p(observed): the scale FluSight's 2023-24 report ranks models on. */
  readonly wisLog: number;
  readonly absoluteError: number;
  readonly covered50: boolean;
  readonly covered95: boolean;
}

/** Scores every forecast whose target week has an observed value; forecasts without one are left out. */
export function scoreForecasts(forecasts: readonly QuantileForecast[], truth: TruthTable): ScoredForecast[] {
  const logged = new Float64Array(LEVEL_COUNT);
  const out: ScoredForecast[] = [];
  for (const f of forecasts) {
    const y = truth.get(truthKey(f.location, targetEndDay(f)));
    if (y === undefined) continue;
    const natural = intervalScore(f.values, y);
    for (let i = 0; i < LEVEL_COUNT; i++) logged[i] = Math.log1p(Math.max(0, f.values[i] as number));
    out.push({
      referenceDay: f.referenceDay,
      location: f.location,
      horizon: f.horizon,
      observed: y,
      wis: natural.wis,
      wisLog: intervalScore(logged, Math.log1p(y)).wis,
      absoluteError: natural.absoluteError,
      covered50: natural.covered50,
      covered95: natural.covered95,
    });
  }
  return out;
}

/** Which WIS a summary or ranking uses. */
export type WisScale = 'natural' | 'log1p';

/** Means over a group of scored forecasts. */
export interface ScoreSummary {
  readonly count: number;
  readonly meanWis: number;
  readonly meanWisLog: number;
  readonly meanAbsoluteError: number;
  /** Share of forecasts whose 50% interval held the truth. */
  readonly coverage50: number;
  readonly coverage95: number;
}

/** Summarises scores per group (`groupOf` returns the group's name, e.g. the location or the horizon). */
export function summariseScores(
  scores: readonly ScoredForecast[],
  groupOf: (s: ScoredForecast) => string = () => 'all',
): Map<string, ScoreSummary> {
  const sums = new Map<string, [number, number, number, number, number, number]>();
  for (const s of scores) {
    const g = groupOf(s);
    let a = sums.get(g);
    if (!a) {
      a = [0, 0, 0, 0, 0, 0];
      sums.set(g, a);
    }
    a[0]++;
    a[1] += s.wis;
    a[2] += s.wisLog;
    a[3] += s.absoluteError;
    a[4] += s.covered50 ? 1 : 0;
    a[5] += s.covered95 ? 1 : 0;
  }
  const out = new Map<string, ScoreSummary>();
  for (const [g, [n, wis, wisLog, ae, c50, c95]] of sums) {
    out.set(g, {
      count: n,
      meanWis: wis / n,
      meanWisLog: wisLog / n,
      meanAbsoluteError: ae / n,
      coverage50: c50 / n,
      coverage95: c95 / n,
    });
  }
  return out;
}

/**
 * Relative WIS of each model against `baseline`, by the pairwise tournament FluSight reports (Cramer et al.
 * 2022, PNAS 119:e2113561119; scoringutils `summarise_scores(relative_skill = TRUE, baseline = ...)`'s
 * `scaled_rel_skill`): for each pair, the ratio of mean WIS over the forecasts both made; a model's skill is the
 * geometric mean of its ratios against all models (itself included); it is then divided by the baseline's. With
 * two models this is the ratio of their mean WIS over their common forecasts.
 */
export function relativeWis(
  models: ReadonlyMap<string, readonly ScoredForecast[]>,
  baseline: string,
  scale: WisScale = 'log1p',
): Map<string, number> {
  const names = [...models.keys()];
  if (!models.has(baseline)) {
    throw new HealthmeshError('SURVEILLANCE_NO_COMMON_FORECASTS', `the baseline ${baseline} has no scores`);
  }
  const byTask = names.map((name) => {
    const m = new Map<string, number>();
    for (const s of models.get(name) ?? []) {
      m.set(taskKey(s.referenceDay, s.location, s.horizon), scale === 'log1p' ? s.wisLog : s.wis);
    }
    return m;
  });
  const theta = names.map((a, i) => {
    let logSum = 0;
    names.forEach((b, j) => {
      if (i === j) return;
      let sumI = 0;
      let sumJ = 0;
      let n = 0;
      for (const [task, wis] of byTask[i] as Map<string, number>) {
        const other = (byTask[j] as Map<string, number>).get(task);
        if (other === undefined) continue;
        sumI += wis;
        sumJ += other;
        n++;
      }
      if (n === 0 || sumJ === 0) {
        throw new HealthmeshError('SURVEILLANCE_NO_COMMON_FORECASTS', `${a} and ${b} share no scored forecast`);
      }
      logSum += Math.log(sumI / sumJ);
    });
    return Math.exp(logSum / names.length);
  });
  const base = theta[names.indexOf(baseline)] as number;
  return new Map(names.map((name, i) => [name, (theta[i] as number) / base]));
}

const US = 'US';
const LAST_TARGET_DAY_2023_24 = parseIsoDay('2024-05-01') as number;
const MA_LATE_REPORT = { location: '25', referenceDay: parseIsoDay('2023-12-09') as number };

/**
 * The forecasts FluSight's 2023-24 report scores (cdcepi/FluSight-manuscripts `flusight23_24_analytic.R`):
 * states, DC and PR (not the national total), horizons 0..3, target weeks ending by 2024-05-01 (the end of
 * mandatory reporting), and not Massachusetts on 2023-12-09 (its data came late). Relative WIS there is on the
 * log1p scale; coverage on counts.
 */
export function inFlusight2023Evaluation(s: { referenceDay: number; location: string; horizon: number }): boolean {
  if (s.location === US || s.horizon < 0 || s.horizon > 3) return false;
  if (s.referenceDay + 7 * s.horizon > LAST_TARGET_DAY_2023_24) return false;
  return !(s.location === MA_LATE_REPORT.location && s.referenceDay === MA_LATE_REPORT.referenceDay);
}
