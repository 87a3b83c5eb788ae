import type { HubServices as Hub } from '../context/index.js';
import { type EpidemicThreshold, HealthmeshError, thresholdCount } from '../core/index.js';
import { type ForecastQuery, type ForecastSource, forecastFilter } from './forecast-store.js';
import { LEVEL_COUNT, QUANTILE_LEVELS, type QuantileForecast, targetEndDay } from './quantile-forecast.js';
import { isoDay } from './weekly-series.js';

/** An epidemic alert: a location's forecast reaches its threshold at some horizon. */
export interface EpidemicAlert {
  readonly model: string;
  readonly target: string;
  readonly referenceDate: string;
  readonly location: string;
  /** The earliest horizon whose forecast quantile reaches the threshold. */
  readonly horizon: number;
  readonly targetEndDate: string;
  readonly quantileLevel: number;
  readonly forecastValue: number;
  /** The threshold as a weekly count. */
  readonly threshold: number;
}

/** The forecast's value at `level`: one of the 23 levels, or linear between the two around it. */
export function quantileAt(values: Float64Array, level: number): number {
  if (!(level >= (QUANTILE_LEVELS[0] as number) && level <= (QUANTILE_LEVELS[LEVEL_COUNT - 1] as number))) {
    throw new HealthmeshError(
      'SURVEILLANCE_BAD_THRESHOLD',
      `alert quantile ${level} is outside the forecast levels 0.01-0.99`,
      { path: 'surveillance.alertQuantile' },
    );
  }
  let i = 0;
  while (i < LEVEL_COUNT - 1 && (QUANTILE_LEVELS[i + 1] as number) < level) i++;
  const lo = QUANTILE_LEVELS[i] as number;
  if (Math.abs(lo - level) < 1e-12 || i === LEVEL_COUNT - 1) return values[i] as number;
  const hi = QUANTILE_LEVELS[i + 1] as number;
  const w = (level - lo) / (hi - lo);
  return (1 - w) * (values[i] as number) + w * (values[i + 1] as number);
}

/**
 * The alerts a set of forecasts raises: for each round and location with a threshold, the earliest horizon
 * whose quantile at `level` is at or above the threshold (a weekly count). Locations without a threshold raise
 * none.
 */
export function findThresholdCrossings(
  forecasts: readonly QuantileForecast[],
  thresholds: Readonly<Record<string, EpidemicThreshold>>,
  level: number,
  model: string,
  target: string,
): EpidemicAlert[] {
  const earliest = new Map<string, EpidemicAlert>();
  for (const f of forecasts) {
    const t = thresholds[f.location];
    if (t === undefined) continue;
    const threshold = thresholdCount(t);
    const value = quantileAt(f.values, level);
    if (value < threshold) continue;
    const key = `${f.referenceDay}|${f.location}`;
    const seen = earliest.get(key);
    if (seen !== undefined && seen.horizon <= f.horizon) continue;
    earliest.set(key, {
      model,
      target,
      referenceDate: isoDay(f.referenceDay),
      location: f.location,
      horizon: f.horizon,
      targetEndDate: isoDay(targetEndDay(f)),
      quantileLevel: level,
      forecastValue: value,
      threshold,
    });
  }
  return [...earliest.values()];
}

/**
 * The alerts `forecasts` raise, without keeping them: against the hub's configured thresholds, and for a location
 * it configures none, against `defaults` (`seasonalThresholds` of the series forecast from).
 */
export function hubAlerts(
  hub: Hub,
  model: string,
  target: string,
  forecasts: readonly QuantileForecast[],
  defaults: Readonly<Record<string, EpidemicThreshold>> = {},
): EpidemicAlert[] {
  const { epidemicThresholds, alertQuantile } = hub.config.surveillance;
  return findThresholdCrossings(forecasts, { ...defaults, ...epidemicThresholds }, alertQuantile, model, target);
}

/**
 * Raises the alerts of a forecast run against the hub's configured thresholds (`surveillance` in hub.json), or
 * `defaults` where it configures none, and keeps them. An alert already kept for the same model, target, round and location stays as first raised.
 * Returns the alerts this run found (new or already kept).
 */
export async function raiseAlerts(
  hub: Hub,
  model: string,
  target: string,
  forecasts: readonly QuantileForecast[],
  source: ForecastSource = 'exact',
  defaults: Readonly<Record<string, EpidemicThreshold>> = {},
): Promise<EpidemicAlert[]> {
  return keepAlerts(hub, hubAlerts(hub, model, target, forecasts, defaults), source);
}

/** Keeps alerts already found; one kept for the same model, target, round and location stays as first raised. */
export async function keepAlerts(
  hub: Hub,
  alerts: readonly EpidemicAlert[],
  source: ForecastSource,
): Promise<EpidemicAlert[]> {
  if (alerts.length === 0) return [...alerts];
  const now = hub.clock.now();
  await hub.db.transaction(async (tx) => {
    for (const a of alerts) {
      const [kept] = await tx.all(
        'SELECT 1 AS k FROM surveillance_alert WHERE model = $1 AND target = $2 AND reference_date = $3 AND location = $4',
        [a.model, a.target, a.referenceDate, a.location],
      );
      if (kept !== undefined) continue;
      await tx.run(
        `INSERT INTO surveillance_alert (model, target, reference_date, location, horizon, target_end_date,
           quantile_level, forecast_value, threshold, raised_at, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
        [
          a.model,
          a.target,
          a.referenceDate,
          a.location,
          a.horizon,
          a.targetEndDate,
          a.quantileLevel,
          a.forecastValue,
          a.threshold,
          now,
          source,
        ],
      );
    }
  });
  return [...alerts];
}

/** Kept alerts, newest round first. */
export async function listAlerts(
  hub: Hub,
  q: ForecastQuery = {},
): Promise<(EpidemicAlert & { readonly raisedAt: string })[]> {
  const { sql, params } = forecastFilter(q);
  const rows = await hub.db.all<Record<string, unknown>>(
    `SELECT model, target, reference_date, location, horizon, target_end_date, quantile_level, forecast_value,
       threshold, raised_at FROM surveillance_alert ${sql} ORDER BY reference_date DESC, location, model`,
    params,
  );
  return rows.map((r) => ({
    model: String(r.model),
    target: String(r.target),
    referenceDate: String(r.reference_date),
    location: String(r.location),
    horizon: Number(r.horizon),
    targetEndDate: String(r.target_end_date),
    quantileLevel: Number(r.quantile_level),
    forecastValue: Number(r.forecast_value),
    threshold: Number(r.threshold),
    raisedAt: (r.raised_at instanceof Date ? r.raised_at : new Date(String(r.raised_at))).toISOString(),
  }));
}
