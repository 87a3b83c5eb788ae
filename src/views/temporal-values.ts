/**
 * FHIR date, dateTime, instant and time values as FHIRPath compares them (FHIRPath §"Comparison"): values of
 * the same precision compare by instant (time zones applied); different precisions give "unknown" (undefined).
 */
const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;
const TIME = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;

interface Parsed {
  precision: number;
  /** Comparable value: epoch ms for zoned date-times, else the text itself (same precision = same shape). */
  key: number | string;
}

function parse(v: string): Parsed | undefined {
  const t = TIME.exec(v);
  if (t) return { precision: 100 + t.slice(1).filter((x) => x !== undefined).length, key: v };
  const m = DATE_TIME.exec(v);
  if (!m) return undefined;
  const parts = m.slice(1, 8).filter((x) => x !== undefined).length;
  if (m[8] !== undefined) return { precision: parts, key: Date.parse(v) };
  return { precision: parts, key: v };
}

/** -1, 0 or 1; undefined when the values are not comparable (different precision, or not temporal). */
export function compareTemporal(a: string, b: string): number | undefined {
  if (a === b) return 0;
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb || pa.precision !== pb.precision || typeof pa.key !== typeof pb.key) return undefined;
  return pa.key < pb.key ? -1 : pa.key > pb.key ? 1 : 0;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/**
 * `lowBoundary()` / `highBoundary()` of a date, dateTime or time (FHIRPath 3.0 draft, required by SQL-on-FHIR
 * v2): the earliest / latest value the imprecise one may stand for. A dateTime without a zone may be in any
 * zone from +14:00 to -12:00, which the boundaries include.
 */
export function temporalBoundary(v: string, high: boolean, type: 'date' | 'dateTime' | 'time'): string | undefined {
  if (type === 'time') {
    const t = TIME.exec(v);
    if (!t) return undefined;
    const sec = t[3] ?? (high ? '59' : '00');
    const ms = (t[4] ?? '').padEnd(3, high ? '9' : '0').slice(0, 3);
    return `${t[1]}:${t[2]}:${sec}.${ms}`;
  }
  const m = DATE_TIME.exec(v);
  if (!m) return undefined;
  const year = m[1]!;
  const month = m[2] ?? (high ? '12' : '01');
  const y = Number(year);
  const mi = Number(month);
  const lastDay = mi === 2 && !isLeap(y) ? 28 : DAYS_IN_MONTH[mi - 1]!;
  const day = m[3] ?? (high ? String(lastDay).padStart(2, '0') : '01');
  if (type === 'date') return `${year}-${month}-${day}`;
  const hour = m[4] ?? (high ? '23' : '00');
  const minute = m[5] ?? (high ? '59' : '00');
  const second = m[6] ?? (high ? '59' : '00');
  const ms = (m[7] ?? '').padEnd(3, high ? '9' : '0').slice(0, 3);
  const zone = m[8] ?? (high ? '-12:00' : '+14:00');
  return `${year}-${month}-${day}T${hour}:${minute}:${second}.${ms}${zone}`;
}
