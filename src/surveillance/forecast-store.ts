import type { HubServices as Hub, HubModule } from '../context/index.js';
import type { Migration } from '../store/index.js';
import { LEVEL_COUNT, type QuantileForecast, targetEndDay } from './quantile-forecast.js';
import { isoDay, parseIsoDay } from './weekly-series.js';

/**
 * The surveillance module's tables: forecasts as the CLI or a caller stored them (one row per model, target,
 * reference date, location and horizon; a re-run replaces its rows) and the alerts they raised (kept: a later
 * forecast that no longer crosses the threshold does not erase an alert once raised). Dates are ISO text, which
 * sorts as dates do and reads the same on both engines.
 */
export const surveillanceMigrations: readonly Migration[] = [
  {
    module: 'surveillance',
    version: 1,
    name: 'stored forecasts and epidemic alerts',
    statements: [
      `CREATE TABLE surveillance_forecast (
        model VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        reference_date VARCHAR NOT NULL,
        location VARCHAR NOT NULL,
        horizon INTEGER NOT NULL,
        target_end_date VARCHAR NOT NULL,
        quantiles VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (model, target, reference_date, location, horizon)
      )`,
      `CREATE TABLE surveillance_alert (
        model VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        reference_date VARCHAR NOT NULL,
        location VARCHAR NOT NULL,
        horizon INTEGER NOT NULL,
        target_end_date VARCHAR NOT NULL,
        quantile_level DOUBLE PRECISION NOT NULL,
        forecast_value DOUBLE PRECISION NOT NULL,
        threshold DOUBLE PRECISION NOT NULL,
        raised_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (model, target, reference_date, location)
      )`,
    ],
  },
  {
    module: 'surveillance',
    version: 2,
    name: 'stored scores',
    statements: [
      `CREATE TABLE surveillance_score (
        model VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        score_group VARCHAR NOT NULL,
        forecasts INTEGER NOT NULL,
        mean_wis DOUBLE PRECISION NOT NULL,
        relative_wis DOUBLE PRECISION,
        relative_wis_log DOUBLE PRECISION,
        coverage50 DOUBLE PRECISION NOT NULL,
        coverage95 DOUBLE PRECISION NOT NULL,
        baseline VARCHAR NOT NULL,
        scored_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (model, target, score_group)
      )`,
    ],
  },
  {
    module: 'surveillance',
    version: 3,
    name: 'what stored forecasts and alerts were computed from',
    // 'released': from released series only (a federated round), so they may be served to any role; null or
    // 'exact': from the hub's exact weekly counts (`forecast run`), served to row-level roles only.
    statements: [
      'ALTER TABLE surveillance_forecast ADD COLUMN source VARCHAR',
      'ALTER TABLE surveillance_alert ADD COLUMN source VARCHAR',
    ],
  },
];

/**
 * What a stored forecast or alert was computed from: the hub's exact weekly counts, or released series only
 * (docs/surveillance.md, "Who sees which forecasts").
 */
export type ForecastSource = 'exact' | 'released';

/** One stored score: a model's forecasts of a target, over all of them or one location or horizon (`group`). */
export interface StoredScore {
  model: string;
  target: string;
  group: string;
  forecasts: number;
  meanWis: number;
  relativeWis: number | null;
  relativeWisLog: number | null;
  coverage50: number;
  coverage95: number;
  baseline: string;
}

const finiteOrNull = (x: number | null) => (x !== null && Number.isFinite(x) ? x : null);

/** Keep a scoring run: it replaces the earlier scores of the same model and target. */
export async function saveScores(
  hub: Hub,
  model: string,
  target: string,
  scores: readonly Omit<StoredScore, 'model' | 'target'>[],
): Promise<void> {
  await hub.db.transaction(async (tx) => {
    await tx.run('DELETE FROM surveillance_score WHERE model = $1 AND target = $2', [model, target]);
    for (const s of scores) {
      await tx.run(
        `INSERT INTO surveillance_score (model, target, score_group, forecasts, mean_wis, relative_wis, relative_wis_log, coverage50, coverage95, baseline, scored_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          model,
          target,
          s.group,
          s.forecasts,
          s.meanWis,
          finiteOrNull(s.relativeWis),
          finiteOrNull(s.relativeWisLog),
          s.coverage50,
          s.coverage95,
          s.baseline,
          hub.clock.now(),
        ],
      );
    }
  });
}

export async function listScores(hub: Hub, query: { model?: string; target?: string } = {}): Promise<StoredScore[]> {
  const rows = await hub.db.all<Record<string, unknown>>(
    `SELECT model, target, score_group, forecasts, mean_wis, relative_wis, relative_wis_log, coverage50, coverage95, baseline
     FROM surveillance_score WHERE ($1 IS NULL OR model = $1) AND ($2 IS NULL OR target = $2) ORDER BY model, target, score_group`,
    [query.model ?? null, query.target ?? null],
  );
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return rows.map((r) => ({
    model: String(r.model),
    target: String(r.target),
    group: String(r.score_group),
    forecasts: Number(r.forecasts),
    meanWis: Number(r.mean_wis),
    relativeWis: num(r.relative_wis),
    relativeWisLog: num(r.relative_wis_log),
    coverage50: Number(r.coverage50),
    coverage95: Number(r.coverage95),
    baseline: String(r.baseline),
  }));
}

/** The surveillance module in a hub: its tables are made when the hub opens. */
export const surveillanceModule: HubModule<object, object> = {
  name: 'surveillance',
  migrations: surveillanceMigrations,
  open: () => ({}),
};

/** One stored forecast with its model and target. */
export interface StoredForecast extends QuantileForecast {
  readonly model: string;
  readonly target: string;
}

/** Stores forecasts of one model and target, replacing earlier rows of the same tasks. */
export async function saveForecasts(
  hub: Hub,
  model: string,
  target: string,
  forecasts: readonly QuantileForecast[],
  source: ForecastSource = 'exact',
): Promise<void> {
  const now = hub.clock.now();
  await hub.db.transaction(async (tx) => {
    for (const f of forecasts) {
      const ref = isoDay(f.referenceDay);
      await tx.run(
        'DELETE FROM surveillance_forecast WHERE model = $1 AND target = $2 AND reference_date = $3 AND location = $4 AND horizon = $5',
        [model, target, ref, f.location, f.horizon],
      );
      await tx.run(
        `INSERT INTO surveillance_forecast (model, target, reference_date, location, horizon, target_end_date, quantiles, created_at, source)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          model,
          target,
          ref,
          f.location,
          f.horizon,
          isoDay(targetEndDay(f)),
          JSON.stringify([...f.values]),
          now,
          source,
        ],
      );
    }
  });
}

/** Filters for {@link listForecasts}; absent fields match everything. */
export interface ForecastQuery {
  readonly location?: string;
  readonly referenceDate?: string;
  readonly model?: string;
  readonly target?: string;
  /** Only forecasts (or alerts) computed from released series: what roles without row-level rights may see. */
  readonly releasedOnly?: boolean;
}

/** The WHERE clause of a {@link ForecastQuery} (shared by the forecast and alert lists). */
export function forecastFilter(q: ForecastQuery): { sql: string; params: string[] } {
  const parts: string[] = [];
  const params: string[] = [];
  const add = (column: string, value: string | undefined) => {
    if (value === undefined) return;
    params.push(value);
    parts.push(`${column} = $${params.length}`);
  };
  add('location', q.location);
  add('reference_date', q.referenceDate);
  add('model', q.model);
  add('target', q.target);
  if (q.releasedOnly === true) parts.push(`source = 'released'`);
  return { sql: parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '', params };
}

/** Stored forecasts, newest reference date first. */
export async function listForecasts(hub: Hub, q: ForecastQuery = {}): Promise<StoredForecast[]> {
  const { sql, params } = forecastFilter(q);
  const rows = await hub.db.all<{
    model: string;
    target: string;
    reference_date: string;
    location: string;
    horizon: unknown;
    quantiles: string;
  }>(
    `SELECT model, target, reference_date, location, horizon, quantiles FROM surveillance_forecast ${sql}
     ORDER BY reference_date DESC, location, model, horizon`,
    params,
  );
  return rows.map((r) => ({
    model: r.model,
    target: r.target,
    referenceDay: parseIsoDay(r.reference_date) as number,
    location: r.location,
    horizon: Number(r.horizon),
    values: Float64Array.from(JSON.parse(r.quantiles) as number[]).subarray(0, LEVEL_COUNT),
  }));
}
