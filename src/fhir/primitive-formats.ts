/**
 * JSON type and lexical checks for the 20 FHIR R4 primitive types (R4 datatypes.html; the regexes are those of
 * the `value` elements in profiles-types.json, with XML Schema's `\s` = [ \t\n\r]). Every check returns
 * `undefined` when the value is valid, so the common path allocates nothing, and otherwise a message that
 * says what was expected and what was found, quoting at most 40 characters of the value.
 */

/** Checks one JSON value; `undefined` = valid, else a message for a data steward. */
export type PrimitiveCheck = (value: unknown) => string | undefined;

const QUOTE_LIMIT = 40;
/** R4 datatypes.html, string: "strings SHALL NOT exceed 1MB (1024*1024 characters) in size". */
export const MAX_STRING_CHARS = 1024 * 1024;
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** Describe a found value for a message: quoted and cut to 40 characters, or its JSON kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > QUOTE_LIMIT ? `${value.slice(0, QUOTE_LIMIT)}…` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).slice(0, QUOTE_LIMIT);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function jsonKind(value: unknown): string {
  if (typeof value === 'string') return `string ${describeValue(value)}`;
  if (typeof value === 'number') return `number ${describeValue(value)}`;
  if (typeof value === 'boolean') return `boolean ${describeValue(value)}`;
  return describeValue(value);
}

// "SHOULD not contain Unicode character points below 32, except for u0009, u0010 and u0013" (R4 datatypes.html).
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;

function checkText(type: string, value: unknown, limit: boolean): string | undefined {
  if (typeof value !== 'string') return `expected a JSON string for ${type}, found ${jsonKind(value)}`;
  if (value.length === 0) return `empty ${type}: a value needs at least one character (omit the element instead)`;
  if (limit && value.length > MAX_STRING_CHARS) {
    return `${type} of ${value.length} characters is longer than the R4 limit of 1,048,576 (1 MiB)`;
  }
  if (CONTROL_CHAR.test(value)) {
    return `${type} ${describeValue(value)} contains a control character; only tab, CR and LF are allowed`;
  }
  return undefined;
}

/** A string-typed primitive whose lexical form must match `pattern` (anchored). */
function lexical(type: string, pattern: RegExp, expected: string, extra?: (s: string) => boolean): PrimitiveCheck {
  return (value) => {
    if (typeof value !== 'string') return `expected a JSON string for ${type}, found ${jsonKind(value)}`;
    if (pattern.test(value) && (extra === undefined || extra(value))) return undefined;
    return `invalid ${type} ${describeValue(value)}: expected ${expected}`;
  };
}

function whole(type: string, min: number, expected: string): PrimitiveCheck {
  return (value) => {
    if (typeof value !== 'number') return `expected a JSON number for ${type}, found ${jsonKind(value)}`;
    if (Number.isInteger(value) && value >= min && value <= INT_MAX) return undefined;
    return `invalid ${type} ${describeValue(value)}: expected ${expected}`;
  };
}

const YEAR = '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)';
const TIME = '([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?';
const ZONE = '(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))';
const MONTH = '-(0[1-9]|1[0-2])';
const DAY = '-(0[1-9]|[1-2][0-9]|3[0-1])';
const DATE_RE = new RegExp(`^${YEAR}(${MONTH}(${DAY})?)?$`);
const DATE_TIME_RE = new RegExp(`^${YEAR}(${MONTH}(${DAY}(T${TIME}${ZONE})?)?)?$`);
const INSTANT_RE = new RegExp(`^${YEAR}${MONTH}${DAY}T${TIME}${ZONE}$`);
const LOCAL_DATE_TIME_RE = new RegExp(`^${YEAR}${MONTH}${DAY}T${TIME}$`);
const TIME_RE = new RegExp(`^${TIME}$`);

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** "Dates SHALL be valid dates": the day exists in its month (the regexes allow up to 31 everywhere). */
function realDay(s: string): boolean {
  if (s.length < 10) return true;
  const day = (s.charCodeAt(8) - 48) * 10 + s.charCodeAt(9) - 48;
  if (day <= 28) return true;
  const month = (s.charCodeAt(5) - 48) * 10 + s.charCodeAt(6) - 48;
  if (day > (DAYS_IN_MONTH[month - 1] ?? 0)) return false;
  if (month !== 2 || day !== 29) return true;
  const year = Number(s.slice(0, 4));
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

const checkDateTime = lexical(
  'dateTime',
  DATE_TIME_RE,
  'YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a timezone (Z or ±hh:mm), as a real calendar date',
  realDay,
);

const BASE64_CHARS = /^[A-Za-z0-9+/=\t\n\r ]+$/;
const BASE64_SPACE = /[\t\n\r ]/;

/**
 * base64Binary: R4's `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, i.e. groups of 4 with whitespace only between groups
 * (so every run of letters has a length divisible by 4). Checked without the nested quantifier, which is slow
 * on large attachments. medplum rejects any whitespace; R4 allows it (Binary-example wraps lines).
 */
function checkBase64(value: unknown): string | undefined {
  if (typeof value !== 'string') return `expected a JSON string for base64Binary, found ${jsonKind(value)}`;
  if (BASE64_CHARS.test(value) && (BASE64_SPACE.test(value) ? groupedByFour(value) : value.length % 4 === 0)) {
    return undefined;
  }
  return `invalid base64Binary ${describeValue(value)}: expected base64 text (A-Z, a-z, 0-9, +, /, =) in groups of 4`;
}

function groupedByFour(s: string): boolean {
  let run = 0;
  let letters = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      if (run % 4 !== 0) return false;
      run = 0;
    } else {
      run++;
      letters++;
    }
  }
  return run % 4 === 0 && letters > 0;
}

/** The check for each R4 primitive type code. */
export const PRIMITIVE_CHECKS: Readonly<Record<string, PrimitiveCheck>> = {
  boolean: (v) => (typeof v === 'boolean' ? undefined : `expected JSON true or false, found ${jsonKind(v)}`),
  integer: whole('integer', INT_MIN, 'a whole number from -2147483648 to 2147483647'),
  positiveInt: whole('positiveInt', 1, 'a whole number from 1 to 2147483647'),
  unsignedInt: whole('unsignedInt', 0, 'a whole number from 0 to 2147483647'),
  decimal: (v) =>
    typeof v === 'number' && Number.isFinite(v)
      ? undefined
      : `expected a JSON number for decimal, found ${jsonKind(v)}`,
  string: (v) => checkText('string', v, true),
  markdown: (v) => checkText('markdown', v, true),
  xhtml: (v) => checkText('xhtml', v, false),
  code: lexical(
    'code',
    /^[^ \t\n\r]+([ \t\n\r][^ \t\n\r]+)*$/,
    'a non-empty code without leading, trailing or repeated whitespace',
  ),
  id: lexical('id', /^[A-Za-z0-9\-.]{1,64}$/, '1 to 64 characters from A-Z, a-z, 0-9, "-" and "."'),
  uri: lexical('uri', /^[^ \t\n\r]+$/, 'a non-empty URI without whitespace'),
  url: lexical('url', /^[^ \t\n\r]+$/, 'a non-empty URL without whitespace'),
  canonical: lexical('canonical', /^[^ \t\n\r]+$/, 'a non-empty canonical URL without whitespace'),
  oid: lexical('oid', /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/, 'urn:oid: followed by a dotted OID such as 1.2.3'),
  uuid: lexical(
    'uuid',
    /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    'urn:uuid: followed by a lower-case UUID',
  ),
  date: lexical('date', DATE_RE, 'YYYY, YYYY-MM or YYYY-MM-DD, as a real calendar date', realDay),
  dateTime: (v) => {
    const problem = checkDateTime(v);
    if (problem !== undefined && typeof v === 'string' && LOCAL_DATE_TIME_RE.test(v)) {
      return `invalid dateTime ${describeValue(v)}: a time of day needs a timezone (Z or ±hh:mm)`;
    }
    return problem;
  },
  instant: lexical(
    'instant',
    INSTANT_RE,
    'YYYY-MM-DDThh:mm:ss(.sss) with a timezone (Z or ±hh:mm), as a real calendar date',
    realDay,
  ),
  time: lexical('time', TIME_RE, 'hh:mm:ss(.sss) on a 24-hour clock'),
  base64Binary: checkBase64,
};

const ID = '[A-Za-z0-9\\-.]{1,64}';
const ABSOLUTE_REF = /^[A-Za-z][A-Za-z0-9+.-]*:[^ \t\n\r]+$/;
const UUID_REF = /^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const OID_REF = /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/;
const CONTAINED_REF = new RegExp(`^#(${ID})?$`);
const REF_FORMS = 'Type/id, an absolute URL, urn:uuid:<uuid>, urn:oid:<oid>, #contained-id or Type?search';

/**
 * Reference.reference syntax (R4 references.html and http.html#trules): relative `Type/id[/_history/vid]` with a known type,
 * any absolute URL, `urn:uuid:`, `urn:oid:`, `#id` (`#` alone = the container), conditional `Type?params`.
 * Runs after the string check. The known types are compiled into the regexes so a valid reference costs
 * one `test()` and no allocation.
 */
export function referenceCheck(resourceTypes: readonly string[]): (ref: string) => string | undefined {
  const known = new Set(resourceTypes);
  const types = `(${resourceTypes.join('|')})`;
  const relative = new RegExp(`^${types}/${ID}(/_history/${ID})?$`);
  const conditional = new RegExp(`^${types}\\?.`);
  const bad = (ref: string, expected: string) => `invalid reference ${describeValue(ref)}: expected ${expected}`;
  return (ref) => {
    if (ref.startsWith('urn:uuid:')) return UUID_REF.test(ref) ? undefined : bad(ref, 'urn:uuid: and a UUID');
    if (ref.startsWith('urn:oid:')) return OID_REF.test(ref) ? undefined : bad(ref, 'urn:oid: and a dotted OID');
    if (ref.startsWith('#')) return CONTAINED_REF.test(ref) ? undefined : bad(ref, '# and a contained resource id');
    if (relative.test(ref) || ABSOLUTE_REF.test(ref) || conditional.test(ref)) return undefined;
    const type = /^([A-Za-z]+)[/?]/.exec(ref)?.[1];
    if (type !== undefined && !known.has(type)) {
      return bad(ref, `an R4 resource type before "/" or "?", found ${describeValue(type)}`);
    }
    if (type !== undefined && ref[type.length] === '/') {
      return bad(ref, `Type/id[/_history/version] with ids of 1 to 64 characters from A-Z, a-z, 0-9, "-" and "."`);
    }
    return bad(ref, REF_FORMS);
  };
}
