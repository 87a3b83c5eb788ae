import { parse } from 'csv-parse/sync';
import { HealthmeshError } from '../core/index.js';
import { isoDay, parseIsoDay } from './weekly-series.js';

/** The 23 FluSight quantile levels (hub-config/tasks.json), ascending. */
export const QUANTILE_LEVELS: Float64Array = Float64Array.of(
  0.01,
  0.025,
  ...Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100),
  0.975,
  0.99,
);
export const LEVEL_COUNT = 23;
/** Index of the median in {@link QUANTILE_LEVELS}. */
export const MEDIAN_INDEX = 11;
/** Horizons 0..3: weeks after the reference date (horizon 0 is the week ending on the reference date). */
export const HORIZON_COUNT = 4;
/** FluSight's target name for weekly incident influenza hospital admissions. */
export const FLU_HOSP_TARGET = 'wk inc flu hosp';

/** One quantile forecast: one location, one reference date, one horizon. */
export interface QuantileForecast {
  /** Day number of the reference date (a Saturday for FluSight). */
  readonly referenceDay: number;
  readonly location: string;
  readonly horizon: number;
  /** 23 values, one per level of {@link QUANTILE_LEVELS}, non-decreasing. */
  readonly values: Float64Array;
}

/** Target end day of a forecast: the reference date plus `horizon` weeks. */
export function targetEndDay(f: { referenceDay: number; horizon: number }): number {
  return f.referenceDay + 7 * f.horizon;
}

/** Key of a forecast's task (reference date, location, horizon), for matching models and truth. */
export function taskKey(referenceDay: number, location: string, horizon: number): string {
  return `${referenceDay}|${location}|${horizon}`;
}

/** Options for {@link parseModelOutputCsv}. */
export interface ModelOutputOptions {
  readonly file?: string;
  readonly target?: string;
  /** Horizons to keep (default 0..3; FluSight files also hold horizon -1, the last observation). */
  readonly horizons?: readonly number[];
}

function levelIndex(text: string): number {
  const level = Number(text);
  for (let i = 0; i < LEVEL_COUNT; i++) if (Math.abs((QUANTILE_LEVELS[i] as number) - level) < 1e-9) return i;
  return -1;
}

/**
 * Reads the quantile rows of one hubverse model-output CSV (`reference_date, location, horizon, target,
 * target_end_date, output_type, output_type_id, value`). Rows of other targets and output types (pmf) are
 * skipped. Each kept forecast must carry all 23 levels, non-decreasing, or the file is refused naming the row.
 */
export function parseModelOutputCsv(text: string, options: ModelOutputOptions = {}): QuantileForecast[] {
  const file = options.file ?? '<input>';
  const target = options.target ?? FLU_HOSP_TARGET;
  const horizons = new Set(options.horizons ?? [0, 1, 2, 3]);
  const records = parse(text, { columns: true, info: true, skip_empty_lines: true, trim: true, bom: true }) as {
    record: Record<string, string>;
    info: { lines: number };
  }[];
  const required = ['reference_date', 'location', 'horizon', 'target', 'output_type', 'output_type_id', 'value'];
  const header = Object.keys(records[0]?.record ?? {});
  const absent = required.filter((c) => !header.includes(c));
  if (records.length > 0 && absent.length > 0) {
    throw new HealthmeshError('SURVEILLANCE_CSV_HEADER', `${file}: no column ${absent.join(', ')}`, { file, line: 1 });
  }
  const byTask = new Map<string, { forecast: QuantileForecast; seen: number; line: number }>();
  for (const { record, info } of records) {
    if (record.target !== target || record.output_type !== 'quantile') continue;
    const horizon = Number(record.horizon);
    if (!horizons.has(horizon)) continue;
    const line = info.lines;
    const location = record.location ?? '';
    const at = { file, line, path: location };
    const referenceDay = parseIsoDay(record.reference_date ?? '');
    if (referenceDay === undefined) {
      throw new HealthmeshError('SURVEILLANCE_BAD_DATE', `${file}:${line}: bad reference_date`, at);
    }
    const level = levelIndex(record.output_type_id ?? '');
    if (level < 0) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_FORECAST',
        `${file}:${line}: quantile level ${record.output_type_id} is not one of the 23`,
        at,
      );
    }
    const value = Number(record.value === '' ? Number.NaN : record.value);
    if (!Number.isFinite(value)) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_VALUE',
        `${file}:${line}: value "${record.value}" is not a number`,
        at,
      );
    }
    const key = taskKey(referenceDay, location, horizon);
    let entry = byTask.get(key);
    if (!entry) {
      const values = new Float64Array(LEVEL_COUNT).fill(Number.NaN);
      entry = { forecast: { referenceDay, location, horizon, values }, seen: 0, line };
      byTask.set(key, entry);
    }
    if (!Number.isNaN(entry.forecast.values[level] as number)) {
      throw new HealthmeshError('SURVEILLANCE_BAD_FORECAST', `${file}:${line}: quantile level repeated`, at);
    }
    entry.forecast.values[level] = value;
    entry.seen++;
  }
  const out: QuantileForecast[] = [];
  for (const { forecast, seen, line } of byTask.values()) {
    const at = { file, line, path: forecast.location };
    const name = `${file}:${line}: ${forecast.location} ${isoDay(forecast.referenceDay)} horizon ${forecast.horizon}`;
    if (seen !== LEVEL_COUNT) {
      throw new HealthmeshError('SURVEILLANCE_BAD_FORECAST', `${name}: ${seen} of 23 quantile levels`, at);
    }
    for (let i = 1; i < LEVEL_COUNT; i++) {
      // Published files carry float noise (…0000000009): tolerate 1e-6 relative before calling it crossing.
      const prev = forecast.values[i - 1] as number;
      if ((forecast.values[i] as number) < prev - 1e-6 * Math.max(1, Math.abs(prev))) {
        throw new HealthmeshError('SURVEILLANCE_BAD_FORECAST', `${name}: quantiles decrease at level ${i}`, at);
      }
    }
    out.push(forecast);
  }
  return out;
}

/** Writes forecasts as hubverse model-output CSV rows (header included), quantile output type only. */
export function formatModelOutputCsv(forecasts: readonly QuantileForecast[], target = FLU_HOSP_TARGET): string {
  const lines = ['reference_date,location,horizon,target,target_end_date,output_type,output_type_id,value'];
  for (const f of forecasts) {
    const ref = isoDay(f.referenceDay);
    const end = isoDay(targetEndDay(f));
    for (let i = 0; i < LEVEL_COUNT; i++) {
      lines.push(`${ref},${f.location},${f.horizon},${target},${end},quantile,${QUANTILE_LEVELS[i]},${f.values[i]}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
