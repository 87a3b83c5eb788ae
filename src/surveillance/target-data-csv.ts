import { parse } from 'csv-parse/sync';
import { HealthmeshError } from '../core/index.js';
import { isoDay, parseIsoDay, type WeeklySeries } from './weekly-series.js';

/** Options for {@link parseTargetDataCsv}. */
export interface TargetDataOptions {
  /** Named in every error (the path the text came from). */
  readonly file?: string;
  /** Keep only rows of this `target` when the file has a `target` column (hubverse time-series files mix targets). */
  readonly target?: string;
  /**
   * With an `as_of` column (hubverse time-series), use for each week the latest version released on or before
   * this date; without it, the latest version in the file.
   */
  readonly asOf?: string;
  /** What an `NA` or empty value, or a week absent inside a location's span, does (default `refuse`). */
  readonly missing?: MissingPolicy;
}

/**
 * How missing weeks in a target-data file are read. The CDC's target files carry `NA` rows for weeks a
 * jurisdiction did not report (reporting was voluntary in some periods):
 * - `refuse`: an `NA`/empty value is `SURVEILLANCE_BAD_VALUE`, an absent week `SURVEILLANCE_GAP`;
 * - `interpolate`: a missing week between two reported ones reads linearly between them, so the location keeps its
 *   earlier seasons (the forecasters learn their spreads from them); the filled weeks are listed;
 * - `restart`: a missing week ends what came before it: the location's history starts again after its last
 *   missing week (nothing is made up, at the cost of the earlier seasons).
 * Under both, `NA` rows before a location's first or after its last reported week are left out (the weeks are
 * simply not there yet), and a location with no reported week at all is left out.
 */
export type MissingPolicy = 'refuse' | 'interpolate' | 'restart';

/** The policies of {@link MissingPolicy}, for option checks. */
export const MISSING_POLICIES: readonly MissingPolicy[] = ['refuse', 'interpolate', 'restart'];

/** `NA` as R writes it, and an empty field: a week the file says was not reported. */
function isMissingText(text: string): boolean {
  return text === '' || text === 'NA';
}

interface Row {
  readonly line: number;
  readonly day: number;
  readonly value: number;
  readonly asOf: number;
  readonly name: string;
}

// The hubverse target-data formats name the same fields differently: FluSight's target-hospital-admissions.csv
// has `date`/`value`, hubverse time-series.csv has `target_end_date`/`observation`.
const DATE_COLUMNS = ['date', 'target_end_date'];
const VALUE_COLUMNS = ['value', 'observation'];

/**
 * Reads weekly counts per location from hubverse target-data CSV text. Every fault is an error naming the file,
 * line and location: a missing column, a bad date, a missing/non-numeric or negative value, two rows for one
 * week, a week off the 7-day grid, or a missing week inside a location's span. A location with few weeks is
 * accepted here; forecasters refuse it with `SURVEILLANCE_SHORT_HISTORY`.
 */
export function parseTargetDataCsv(text: string, options: TargetDataOptions = {}): WeeklySeries[] {
  const file = options.file ?? '<input>';
  const records = parse(text, {
    columns: true,
    info: true,
    skip_empty_lines: true,
    trim: true,
    bom: true,
  }) as { record: Record<string, string>; info: { lines: number } }[];
  const first = records[0];
  if (!first) throw new HealthmeshError('SURVEILLANCE_CSV_HEADER', `${file}: no data rows`, { file });
  const columns = Object.keys(first.record);
  const dateCol = DATE_COLUMNS.find((c) => columns.includes(c));
  const valueCol = VALUE_COLUMNS.find((c) => columns.includes(c));
  for (const [found, wanted] of [
    [dateCol, DATE_COLUMNS.join(' or ')],
    [columns.includes('location') ? 'location' : undefined, 'location'],
    [valueCol, VALUE_COLUMNS.join(' or ')],
  ] as const) {
    if (found === undefined) {
      throw new HealthmeshError(
        'SURVEILLANCE_CSV_HEADER',
        `${file}: no column ${wanted} (found ${columns.join(', ')})`,
        {
          file,
          line: 1,
        },
      );
    }
  }
  const hasTarget = columns.includes('target');
  const hasAsOf = columns.includes('as_of');
  const missing = options.missing ?? 'refuse';
  const cutoff = options.asOf === undefined ? Number.POSITIVE_INFINITY : parseIsoDay(options.asOf);
  if (cutoff === undefined) throw new HealthmeshError('SURVEILLANCE_BAD_DATE', `asOf ${options.asOf} is not a date`);

  const byLocation = new Map<string, Map<number, Row>>();
  for (const { record, info } of records) {
    const line = info.lines;
    if (hasTarget && options.target !== undefined && record.target !== options.target) continue;
    const location = record.location ?? '';
    const at = { file, line, path: location === '' ? 'location' : location };
    if (location === '') throw new HealthmeshError('SURVEILLANCE_BAD_VALUE', `${file}:${line}: empty location`, at);
    const dateText = record[dateCol as string] ?? '';
    const day = parseIsoDay(dateText);
    if (day === undefined) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_DATE',
        `${file}:${line}: ${location}: "${dateText}" is not a date`,
        at,
      );
    }
    let asOf = Number.POSITIVE_INFINITY;
    if (hasAsOf) {
      const parsed = parseIsoDay(record.as_of ?? '');
      if (parsed === undefined) {
        throw new HealthmeshError('SURVEILLANCE_BAD_DATE', `${file}:${line}: ${location}: as_of is not a date`, at);
      }
      if (parsed > cutoff) continue;
      asOf = parsed;
    }
    const valueText = record[valueCol as string] ?? '';
    const missingValue = missing !== 'refuse' && isMissingText(valueText);
    const value = missingValue ? Number.NaN : valueText === '' ? Number.NaN : Number(valueText);
    if (!missingValue && !Number.isFinite(value)) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_VALUE',
        `${file}:${line}: ${location} ${dateText}: value "${valueText}" is not a number`,
        at,
      );
    }
    if (value < 0) {
      throw new HealthmeshError(
        'SURVEILLANCE_NEGATIVE_COUNT',
        `${file}:${line}: ${location} ${dateText}: negative count ${value}`,
        at,
      );
    }
    let weeks = byLocation.get(location);
    if (!weeks) {
      weeks = new Map();
      byLocation.set(location, weeks);
    }
    const earlier = weeks.get(day);
    if (earlier && !(hasAsOf && earlier.asOf !== asOf)) {
      throw new HealthmeshError(
        'SURVEILLANCE_DUPLICATE_WEEK',
        `${file}:${line}: ${location} ${dateText}: the same week is already on line ${earlier.line}`,
        at,
      );
    }
    // Several versions of one week (as_of) are revisions, not duplicates: the latest release wins.
    if (!earlier || asOf > earlier.asOf) {
      weeks.set(day, { line, day, value, asOf, name: record.location_name ?? location });
    }
  }
  const out: WeeklySeries[] = [];
  for (const [location, weeks] of byLocation) {
    const series = toSeries(file, location, weeks, missing);
    if (series) out.push(series);
  }
  return out;
}

function toSeries(
  file: string,
  location: string,
  weeks: Map<number, Row>,
  missing: MissingPolicy,
): WeeklySeries | undefined {
  // NA rows outside the reported span are weeks not there yet: left out under any policy but refuse.
  const rows = [...weeks.values()].filter((r) => !Number.isNaN(r.value)).sort((a, b) => a.day - b.day);
  if (rows.length === 0) return undefined;
  const first = rows[0] as Row;
  const last = rows[rows.length - 1] as Row;
  for (const row of rows) {
    if ((row.day - first.day) % 7 !== 0) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_DATE',
        `${file}:${row.line}: ${location} ${isoDay(row.day)} is not a whole number of weeks after ${isoDay(first.day)}`,
        { file, line: row.line, path: location },
      );
    }
  }
  const length = (last.day - first.day) / 7 + 1;
  if (length !== rows.length && missing !== 'refuse') return filledSeries(location, first.name, rows, length, missing);
  if (length !== rows.length) {
    const missing: string[] = [];
    for (let day = first.day, i = 0; day <= last.day; day += 7) {
      if (rows[i]?.day === day) i++;
      else missing.push(isoDay(day));
    }
    throw new HealthmeshError(
      'SURVEILLANCE_GAP',
      `${file}: ${location}: ${missing.length} missing week(s) between ${isoDay(first.day)} and ${isoDay(last.day)}: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`,
      { file, path: location },
    );
  }
  const values = new Float64Array(length);
  rows.forEach((row, i) => {
    values[i] = row.value;
  });
  return { location, locationName: first.name, startDay: first.day, values };
}

/** A series with missing weeks inside its span, filled by the policy; the filled weeks are listed. */
function filledSeries(
  location: string,
  locationName: string,
  rows: readonly Row[],
  length: number,
  missing: 'interpolate' | 'restart',
): WeeklySeries {
  const startDay = (rows[0] as Row).day;
  const values = new Float64Array(length).fill(Number.NaN);
  for (const row of rows) values[(row.day - startDay) / 7] = row.value;
  const missingDays: number[] = [];
  let before = 0;
  for (let i = 1; i < length; i++) {
    if (!Number.isNaN(values[i] as number)) {
      before = i;
      continue;
    }
    missingDays.push(startDay + 7 * i);
    if (missing === 'restart') continue;
    let after = i + 1;
    while (Number.isNaN(values[after] as number)) after++;
    const from = values[before] as number;
    const to = values[after] as number;
    values[i] = from + ((to - from) * (i - before)) / (after - before);
  }
  if (missing === 'restart') {
    // Only the weeks after the last missing one are kept, as if the location had first reported then.
    const kept = ((missingDays[missingDays.length - 1] as number) - startDay) / 7 + 1;
    return { location, locationName, startDay: startDay + 7 * kept, values: values.slice(kept), missingDays };
  }
  return { location, locationName, startDay, values, missingDays };
}
