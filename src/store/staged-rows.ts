/**
 * The staging text format of bulk loads: one row per line, fields separated by U+0001. A field holding U+0001,
 * U+0002, CR or LF is quoted with U+0002 (a U+0002 inside is doubled); an empty field is NULL and a quoted empty
 * field is ''. Control characters are rare in health data, so almost every field goes to disk as it is; the
 * engine's own bulk reader (`Database.stagedRows`) loads the files without a per-value call from JavaScript.
 */
export const STAGE_DELIMITER = '\u0001';
/** Quotes a staged field that holds the delimiter, the quote itself, CR or LF. */
export const STAGE_QUOTE = '\u0002';
// biome-ignore lint/suspicious/noControlCharactersInRegex: the staging format's own control characters
const NEEDS_QUOTE = /[\u0001\u0002\r\n]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the staging format's own control characters
const QUOTE_ALL = /\u0002/g;

/** A SQL type of a staged column, in the subset both engines speak. */
export type StageType = 'VARCHAR' | 'BIGINT' | 'INTEGER' | 'DOUBLE' | 'BOOLEAN';
/** The columns of a staged file, in file order: name and SQL type. */
export type StageColumns = readonly (readonly [name: string, type: StageType])[];

/**
 * One field of the staging format. Numbers are written by `String`, the shortest text that reads back as the
 * same double (ECMA-262 Number::toString), so DOUBLE columns round-trip exactly.
 */
export function stageField(value: string | number | boolean | null): string {
  if (value === null) return '';
  if (typeof value !== 'string') return String(value);
  if (value === '') return STAGE_QUOTE + STAGE_QUOTE;
  if (!NEEDS_QUOTE.test(value)) return value;
  return STAGE_QUOTE + value.replace(QUOTE_ALL, STAGE_QUOTE + STAGE_QUOTE) + STAGE_QUOTE;
}
