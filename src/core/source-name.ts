import { HealthmeshError } from './errors.js';

/**
 * What a source system's name may look like: lower-case letters, digits, `.`, `_` and `-`, starting with a letter
 * or digit, at most 63 characters (`chonnam-uh`, `synth-busan`, `lab.2024`). A source name is part of every stored
 * id and patient key, and it is written to the audit log, the hub log and the console as it is; the pattern keeps
 * it an identifier, so a person's name (any Hangul, any upper case, spaces) or a resident registration number
 * (`900101-1234567`: 14 characters, but the hyphenated 6+7 digit shape is refused below) can never be one.
 */
export const SOURCE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Digits that look like a resident registration number (6 + 7 digits, hyphen optional) inside a source name. */
const RRN_LIKE = /\d{6}[-._]?\d{7}/;

/** Whether `value` is an acceptable source name. */
export function isSourceName(value: unknown): value is string {
  return typeof value === 'string' && SOURCE_NAME.test(value) && !RRN_LIKE.test(value);
}

/**
 * `value` as a source name, or `INGEST_INVALID_SOURCE` naming `field`. The message never repeats the value: a
 * refused source may be exactly the identifier that must not reach a log.
 */
export function checkSourceName(value: unknown, field = 'source'): string {
  if (isSourceName(value)) return value;
  throw new HealthmeshError(
    'INGEST_INVALID_SOURCE',
    `${field} must be a source system's name: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63 characters, not a registration number`,
    { path: field },
  );
}
