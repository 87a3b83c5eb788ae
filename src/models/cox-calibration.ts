import { kaplanMeier } from '../cohort/index.js';
import { HealthmeshError } from '../core/index.js';
import type { CoxFit } from './cox-regression.js';

/** One risk bin of a calibration at a horizon. */
export interface CoxCalibrationBin {
  /** Rows in the bin. */
  n: number;
  /** Events observed in the bin by the horizon. */
  events: number;
  /** Mean predicted risk by the horizon. */
  predicted: number;
  /** Kaplan–Meier observed risk by the horizon, 1 − S(horizon): censored rows count while followed. */
  observed: number;
}

/**
 * Calibration of a Cox model at a horizon: rows ordered by predicted risk and cut into `bins` groups of (near)
 * equal size (deciles by default), each group's mean predicted risk beside its Kaplan–Meier risk. A plain
 * observed proportion would count a row censored before the horizon as event-free, so the KM estimate is used.
 */
export function coxCalibration(
  fit: CoxFit,
  x: readonly (readonly number[])[],
  time: readonly number[],
  event: readonly boolean[],
  horizon: number,
  bins = 10,
): CoxCalibrationBin[] {
  const n = x.length;
  if (time.length !== n || event.length !== n)
    throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `${n} rows, ${time.length} times and ${event.length} events`);
  if (!Number.isInteger(bins) || bins < 1 || bins > n)
    throw new HealthmeshError('MODEL_INVALID_OPTION', `bins must be an integer from 1 to the ${n} rows`);
  if (!(horizon > 0)) throw new HealthmeshError('MODEL_INVALID_OPTION', 'the horizon must be > 0');
  const risk = x.map((row) => fit.riskAt(row, horizon));
  const order = risk.map((_, i) => i).sort((a, b) => risk[a]! - risk[b]!);
  const out: CoxCalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const rows = order.slice(Math.round((b * n) / bins), Math.round(((b + 1) * n) / bins));
    const curve = kaplanMeier(rows.map((i) => ({ days: time[i]!, event: event[i]! })));
    let survival = 1;
    for (const point of curve) if (point.days <= horizon) survival = point.survival;
    out.push({
      n: rows.length,
      events: rows.filter((i) => event[i] && time[i]! <= horizon).length,
      predicted: rows.reduce((s, i) => s + risk[i]!, 0) / rows.length,
      observed: 1 - survival,
    });
  }
  return out;
}
