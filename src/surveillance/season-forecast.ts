import { HealthmeshError } from '../core/index.js';
import { AUTOREGRESSIVE_MIN_WEEKS } from './autoregressive-forecaster.js';
import type { Forecaster } from './forecaster.js';
import type { QuantileForecast } from './quantile-forecast.js';
import { RENEWAL_MIN_WEEKS } from './renewal-forecaster.js';
import { forecastRound } from './rolling-forecast.js';
import { forecasterNamed, healthmeshEnsemble } from './season-evaluation.js';
import { buildPanel, isoDay, panelIndexOf, parseIsoDay, type SeriesPanel, type WeeklySeries } from './weekly-series.js';

/** Target data as they stood on `day` (one file of FluSight's `target-data-archive/`), read when first needed. */
export interface SeasonSnapshot {
  readonly day: number;
  /** Names the snapshot in what a round reports (its file). */
  readonly name: string;
  load(): readonly WeeklySeries[];
}

/** One round of a season: what it was forecast from, and the locations it left out. */
export interface SeasonRound {
  readonly referenceDay: number;
  /** The snapshot the round read, or undefined when it read the target data itself. */
  readonly snapshot?: string;
  /** Locations forecast. */
  readonly locations: number;
  /** Locations left out of this round and why (too few weeks before it), or the whole round's reason. */
  readonly leftOut: readonly { readonly location: string; readonly reason: string }[];
}

/** The forecasts of a season, per forecaster name, and what each round did. */
export interface SeasonForecast {
  readonly forecasts: ReadonlyMap<string, QuantileForecast[]>;
  readonly rounds: readonly SeasonRound[];
}

/** Input of {@link forecastSeason}. */
export interface SeasonInput {
  /** The target data: read by every round when there are no snapshots. */
  readonly series: readonly WeeklySeries[];
  /** Dated snapshots: each round reads the latest one dated before its reference date instead. */
  readonly snapshots?: readonly SeasonSnapshot[];
  readonly forecasters: readonly Forecaster[];
  /** Reference days (Saturdays of the data's grid), from {@link seasonRounds}. */
  readonly rounds: readonly number[];
  /** Called after each round (progress). */
  readonly onRound?: (round: SeasonRound) => void;
}

/** Weeks of history a location needs at a round for every forecaster (the ensemble's members need 6). */
const MIN_WEEKS = Math.max(AUTOREGRESSIVE_MIN_WEEKS, RENEWAL_MIN_WEEKS);

/** FluSight's first round of a season falls on the second Saturday of October (2023-24: 2023-10-14). */
function seasonStart(year: number): number {
  const october8 = parseIsoDay(`${year}-10-08`) as number;
  // Day 0 (1970-01-01) was a Thursday: Saturday is day ≡ 2 (mod 7).
  return october8 + ((((2 - october8) % 7) + 7) % 7);
}

/**
 * The reference dates of a season: every Saturday of the data's week grid from `from` to `to`. By default, the
 * season of the data's last week: from the second Saturday of October (or of the year before, when the data end
 * before it) to the week after the last data week, the last round whose data end the week before it.
 */
export function seasonRounds(
  series: readonly WeeklySeries[],
  options: { readonly from?: number; readonly to?: number } = {},
): number[] {
  if (series.length === 0) throw new HealthmeshError('SURVEILLANCE_SHORT_HISTORY', 'no series to forecast from');
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    first = Math.min(first, s.startDay);
    last = Math.max(last, s.startDay + 7 * (s.values.length - 1));
  }
  const to = options.to ?? last + 7;
  let from = options.from;
  if (from === undefined) {
    const year = Number(isoDay(to).slice(0, 4));
    from = seasonStart(year) <= to ? seasonStart(year) : seasonStart(year - 1);
  }
  for (const [day, name] of [
    [from, 'from'],
    [to, 'to'],
  ] as const) {
    if ((day - first) % 7 !== 0) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_DATE',
        `${name} ${isoDay(day)} is not a week end of the data's grid (weeks end on the weekday of ${isoDay(first)})`,
        { path: name },
      );
    }
  }
  if (from > to) {
    throw new HealthmeshError('SURVEILLANCE_BAD_DATE', `from ${isoDay(from)} is after to ${isoDay(to)}`, {
      path: 'from',
    });
  }
  const rounds: number[] = [];
  for (let day = from; day <= to; day += 7) rounds.push(day);
  return rounds;
}

/** Weeks of contiguous history a panel row has at `lastIndex`. */
function historyLength(row: Float64Array, lastIndex: number): number {
  let t = lastIndex;
  while (t >= 0 && !Number.isNaN(row[t] as number)) t--;
  return lastIndex - t;
}

/** The panel with only the locations `keep` names; fresh rows, so no forecaster's cache mistakes it for another. */
function panelOf(panel: SeriesPanel, keep: readonly number[]): SeriesPanel {
  return {
    ...panel,
    locations: keep.map((l) => panel.locations[l] as string),
    locationNames: keep.map((l) => panel.locationNames[l] as string),
    rows: keep.map((l) => Float64Array.from(panel.rows[l] as Float64Array)),
  };
}

/**
 * Forecasts every round of a season, each with only the data known at its date: with snapshots, round R reads the
 * latest snapshot dated before R (FluSight's archive names a file after its last week, released the following
 * Wednesday to Friday: the file dated R − 7 is what round R's forecasters had; the one dated R came after its
 * deadline), and every round sees only the weeks ending before R (`forecastRound` cuts the panel). A location with
 * fewer than 6 weeks of history at a round is left out of that round and named; a round whose data lack the week
 * before it is left out whole. The forecasters are shared by all rounds, so a recalibrated ensemble reuses the
 * past rounds it computed for the same data.
 */
export function forecastSeason(input: SeasonInput): SeasonForecast {
  const snapshots = [...(input.snapshots ?? [])].sort((a, b) => a.day - b.day);
  const panels = new Map<string, SeriesPanel>();
  const panelFor = (snapshot: SeasonSnapshot | undefined): SeriesPanel => {
    const key = snapshot?.name ?? '';
    let panel = panels.get(key);
    if (!panel) {
      panel = buildPanel(snapshot ? snapshot.load() : input.series);
      // One snapshot's panel at a time: rounds move forward, and each panel holds every location's history.
      panels.clear();
      panels.set(key, panel);
    }
    return panel;
  };
  const forecasts = new Map(input.forecasters.map((f) => [f.name, [] as QuantileForecast[]]));
  const rounds: SeasonRound[] = [];
  for (const referenceDay of input.rounds) {
    let snapshot: SeasonSnapshot | undefined;
    for (const s of snapshots) if (s.day < referenceDay) snapshot = s;
    if (snapshots.length > 0 && snapshot === undefined) {
      throw new HealthmeshError(
        'SURVEILLANCE_SHORT_HISTORY',
        `no snapshot is dated before the round ${isoDay(referenceDay)} (the first is ${isoDay(snapshots[0]?.day as number)})`,
      );
    }
    const panel = panelFor(snapshot);
    const lastIndex = panelIndexOf(panel, referenceDay - 7);
    const from = snapshot ? { snapshot: snapshot.name } : {};
    if (lastIndex < 0 || lastIndex >= panel.weeks) {
      const round = {
        referenceDay,
        ...from,
        locations: 0,
        leftOut: [{ location: '*', reason: `the data hold no week ending ${isoDay(referenceDay - 7)}` }],
      };
      rounds.push(round);
      input.onRound?.(round);
      continue;
    }
    const keep: number[] = [];
    const leftOut: { location: string; reason: string }[] = [];
    panel.rows.forEach((row, l) => {
      const weeks = historyLength(row, lastIndex);
      if (weeks >= MIN_WEEKS) keep.push(l);
      else leftOut.push({ location: panel.locations[l] as string, reason: `${weeks} week(s) of history` });
    });
    if (keep.length > 0) {
      const used = leftOut.length === 0 ? panel : panelOf(panel, keep);
      for (const f of input.forecasters) forecasts.get(f.name)?.push(...forecastRound(used, f, referenceDay));
    }
    const round = { referenceDay, ...from, locations: keep.length, leftOut };
    rounds.push(round);
    input.onRound?.(round);
  }
  if (rounds.every((r) => r.locations === 0)) {
    throw new HealthmeshError(
      'SURVEILLANCE_SHORT_HISTORY',
      `no round from ${isoDay(input.rounds[0] as number)} could be forecast: ${rounds[0]?.leftOut[0]?.reason ?? 'no rounds'}`,
    );
  }
  return { forecasts, rounds };
}

/** Model ids of a season's output (hubverse `team-model`, one folder each), by the name a user gives. */
export const SEASON_MODELS: Readonly<Record<string, string>> = {
  ensemble: 'healthmesh-ensemble',
  baseline: 'healthmesh-baseline',
};

/**
 * The forecaster a season runs for a user's model name (`ensemble`, `baseline`), named by its model id; anything
 * else is `API_BAD_REQUEST` naming the field `models`.
 */
export function seasonForecaster(model: string): Forecaster {
  const id = SEASON_MODELS[model];
  if (id === undefined) {
    throw new HealthmeshError(
      'API_BAD_REQUEST',
      `models must be among ${Object.keys(SEASON_MODELS).join(', ')}, got "${model}"`,
      {
        path: 'models',
      },
    );
  }
  // A season is one forward run: the ensemble recalibrates on its past rounds as they were issued, each from the
  // data known at its own date, instead of remaking them from every newer snapshot.
  const inner = model === 'ensemble' ? healthmeshEnsemble({ pastRoundsAsMade: true }) : forecasterNamed(model);
  return { name: id, forecastRound: (panel, lastIndex) => inner.forecastRound(panel, lastIndex) };
}
