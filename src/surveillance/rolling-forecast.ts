import { HealthmeshError } from '../core/index.js';
import type { Forecaster } from './forecaster.js';
import { HORIZON_COUNT, LEVEL_COUNT, type QuantileForecast } from './quantile-forecast.js';
import { isoDay, panelIndexOf, type SeriesPanel } from './weekly-series.js';

/**
 * The panel as it stood before a reference date: every row cut after `lastIndex`. Forecasters get this view, so
 * a rolling forecast cannot read a week it should not know, whatever the forecaster does.
 */
export function panelUpTo(panel: SeriesPanel, lastIndex: number): SeriesPanel {
  return { ...panel, weeks: lastIndex + 1, rows: panel.rows.map((r) => r.subarray(0, lastIndex + 1)) };
}

/**
 * Forecasts one round: the reference date's horizon 0 is the week ending on it, and the data used are the weeks
 * ending before it (FluSight's rounds: data through the previous Saturday).
 */
export function forecastRound(panel: SeriesPanel, forecaster: Forecaster, referenceDay: number): QuantileForecast[] {
  const lastIndex = panelIndexOf(panel, referenceDay - 7);
  if (lastIndex < 0 || lastIndex >= panel.weeks) {
    throw new HealthmeshError(
      'SURVEILLANCE_SHORT_HISTORY',
      `no week ending ${isoDay(referenceDay - 7)} in the data for reference date ${isoDay(referenceDay)}`,
    );
  }
  const rounds = forecaster.forecastRound(panelUpTo(panel, lastIndex), lastIndex);
  const out: QuantileForecast[] = [];
  rounds.forEach((q, l) => {
    const location = panel.locations[l] as string;
    for (let h = 0; h < HORIZON_COUNT; h++) {
      out.push({ referenceDay, location, horizon: h, values: q.slice(h * LEVEL_COUNT, (h + 1) * LEVEL_COUNT) });
    }
  });
  return out;
}

/** Forecasts every reference date in turn, each from the weeks before it only. */
export function rollingForecast(
  panel: SeriesPanel,
  forecaster: Forecaster,
  referenceDays: readonly number[],
): QuantileForecast[] {
  return referenceDays.flatMap((day) => forecastRound(panel, forecaster, day));
}
