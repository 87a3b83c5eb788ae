/** The instant range a FHIR date/dateTime/instant value covers, as [low, high] in ms (both inclusive). */
export interface DateRange {
  low: number;
  high: number;
}

export const MIN_TIME = Date.UTC(1, 0, 1);
export const MAX_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * FHIR search treats every date as a range at its precision (R4 3.1.1.5.7): `2020-03` is the whole month.
 * Values without a time zone are read as UTC.
 */
export function dateRange(value: string): DateRange | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  if (!isCalendarValue(y!, mo, d, h, mi, s, tz)) return undefined;
  const year = Number(y);
  if (mo === undefined) return { low: utc(year, 0, 1), high: utc(year + 1, 0, 1) - 1 };
  const month = Number(mo) - 1;
  if (d === undefined) return { low: utc(year, month, 1), high: utc(year, month + 1, 1) - 1 };
  const day = Number(d);
  if (h === undefined) return { low: utc(year, month, day), high: utc(year, month, day + 1) - 1 };
  const offset =
    tz && tz !== 'Z' ? (tz[0] === '-' ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) : 0;
  const base = utc(year, month, day, Number(h), Number(mi)) - offset * 60_000;
  if (s === undefined) return { low: base, high: base + 60_000 - 1 };
  const ms = frac ? Number(`0.${frac}`) * 1000 : 0;
  const low = base + Number(s) * 1000 + Math.floor(ms);
  return { low, high: frac ? low : low + 999 };
}

/**
 * Whether the fields name a real calendar date and clock time. `2015-13-45` or `2023-02-30` would otherwise roll
 * over into another date and be searched as one; only a date that reads back the same is a date. Bounds as the R4
 * dateTime regex: year 0001+, hour 00-23, second up to 60 (a leap second), zone offset up to 14:00.
 */
function isCalendarValue(
  y: string,
  mo: string | undefined,
  d: string | undefined,
  h: string | undefined,
  mi: string | undefined,
  s: string | undefined,
  tz: string | undefined,
): boolean {
  const year = Number(y);
  if (year < 1) return false;
  if (mo === undefined) return true;
  const month = Number(mo);
  if (month < 1 || month > 12) return false;
  if (d === undefined) return true;
  const day = Number(d);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (day < 1 || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return false;
  if (h === undefined) return true;
  if (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 60)) return false;
  if (tz === undefined || tz === 'Z') return true;
  const tzHours = Number(tz.slice(1, 3));
  const tzMinutes = Number(tz.slice(4, 6));
  return tzMinutes <= 59 && tzHours * 60 + tzMinutes <= 14 * 60;
}

function utc(year: number, month: number, day: number, hour = 0, minute = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(hour, minute, 0, 0);
  return d.getTime();
}
