import { HealthmeshError } from '../core/index.js';

const DAY_MS = 86_400_000;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 (UTC) of a `YYYY-MM-DD` date, or undefined when the text is not a real calendar date. */
export function parseIsoDay(text: string): number | undefined {
  const m = ISO_DATE.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Date.UTC rolls 2023-02-30 over to March: a round trip catches impossible dates.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms / DAY_MS;
}

/** `YYYY-MM-DD` of a day number from {@link parseIsoDay}. */
export function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/**
 * One location's weekly counts on a regular 7-day grid: `values[i]` is the count of the week ending
 * `startDay + 7 i` (FluSight dates a week by its Saturday, the end of the MMWR week).
 */
export interface WeeklySeries {
  readonly location: string;
  readonly locationName: string;
  /** Day number ({@link parseIsoDay}) of the first week's end date. */
  readonly startDay: number;
  readonly values: Float64Array;
  /**
   * Weeks a target-data file did not report inside the series' span, read by its missing-value policy
   * (`MissingPolicy`): interpolated values, or NaN before the restart.
   */
  readonly missingDays?: readonly number[];
}

/** End day of week `index` of a series. */
export function weekEndDay(series: WeeklySeries, index: number): number {
  return series.startDay + 7 * index;
}

/**
 * Every location on one shared week grid, the shape the forecasters read: cross-location models need the weeks
 * aligned, and a rolling forecast cuts every location at the same index. Weeks before a location's first
 * report are NaN.
 */
export interface SeriesPanel {
  readonly locations: readonly string[];
  readonly locationNames: readonly string[];
  readonly startDay: number;
  readonly weeks: number;
  /** One row per location, `weeks` long. */
  readonly rows: readonly Float64Array[];
}

/** Aligns series on one grid. All must share the weekday of their end dates (checked: a misaligned grid is an error). */
export function buildPanel(series: readonly WeeklySeries[]): SeriesPanel {
  if (series.length === 0) {
    throw new HealthmeshError('SURVEILLANCE_SHORT_HISTORY', 'no series to forecast from');
  }
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    start = Math.min(start, s.startDay);
    end = Math.max(end, weekEndDay(s, s.values.length - 1));
  }
  const weeks = Math.round((end - start) / 7) + 1;
  const rows = series.map((s) => {
    const offset = s.startDay - start;
    if (offset % 7 !== 0) {
      throw new HealthmeshError(
        'SURVEILLANCE_BAD_DATE',
        `location ${s.location}: weeks end on ${isoDay(s.startDay)}, off the 7-day grid that starts ${isoDay(start)}`,
        { path: s.location },
      );
    }
    const row = new Float64Array(weeks).fill(Number.NaN);
    row.set(s.values, offset / 7);
    return row;
  });
  return {
    locations: series.map((s) => s.location),
    locationNames: series.map((s) => s.locationName),
    startDay: start,
    weeks,
    rows,
  };
}

/** Index of the week ending on `day` in a panel, or -1 when the day is before the panel or off its grid. */
export function panelIndexOf(panel: SeriesPanel, day: number): number {
  const offset = day - panel.startDay;
  if (offset < 0 || offset % 7 !== 0) return -1;
  return offset / 7;
}
