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
    const value = valueText === '' ? Number.NaN : Number(valueText);
    if (!Number.isFinite(value)) {
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
  return [...byLocation].map(([location, weeks]) => toSeries(file, location, weeks));
}

function toSeries(file: string, location: string, weeks: Map<number, Row>): WeeklySeries {
  const rows = [...weeks.values()].sort((a, b) => a.day - b.day);
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
