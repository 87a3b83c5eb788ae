/**
 * Dates as integer day numbers (days since 1970-01-01, UTC): arithmetic stays in small integers, and the
 * ISO strings the FHIR output needs are cached per day. Times are written in Korea Standard Time (+09:00).
 */

const MS_PER_DAY = 86_400_000;
export const DAYS_PER_YEAR = 365.25;

export function dayOf(year: number, month: number, day: number): number {
  return Math.floor(Date.UTC(year, month - 1, day) / MS_PER_DAY);
}

const isoCache = new Map<number, string>();

/** `YYYY-MM-DD` of a day number. */
export function isoDate(day: number): string {
  let s = isoCache.get(day);
  if (s === undefined) {
    s = new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
    isoCache.set(day, s);
  }
  return s;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** A local date-time on `day` at `minute` past midnight, KST. */
export function isoDateTime(day: number, minute: number): string {
  const m = Math.max(0, Math.min(1439, Math.floor(minute)));
  return `${isoDate(day)}T${two(Math.floor(m / 60))}:${two(m % 60)}:00+09:00`;
}

export function yearOf(day: number): number {
  return new Date(day * MS_PER_DAY).getUTCFullYear();
}

/** Whole years from `birth` to `day` (the age on that day). */
export function ageOn(birth: number, day: number): number {
  const b = new Date(birth * MS_PER_DAY);
  const d = new Date(day * MS_PER_DAY);
  let age = d.getUTCFullYear() - b.getUTCFullYear();
  if (d.getUTCMonth() < b.getUTCMonth() || (d.getUTCMonth() === b.getUTCMonth() && d.getUTCDate() < b.getUTCDate())) {
    age--;
  }
  return age;
}

/** The Sunday that starts the epidemiological week holding `day` (weeks run Sunday to Saturday, as CDC's and KDCA's do). */
export function weekStart(day: number): number {
  const weekday = (day + 4) % 7; // 1970-01-01 was a Thursday; 0 = Sunday
  return day - weekday;
}
