/**
 * One field of a CSV file people open in a spreadsheet (RFC 4180 quoting): empty for null, and a text that a
 * spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) kept as text with a leading `'` (CSV
 * injection). Numbers are written as they are.
 */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  const s = typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${v}` : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
