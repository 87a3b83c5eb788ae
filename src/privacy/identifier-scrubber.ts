/**
 * Masks direct identifiers found in free text: Korean resident registration numbers (주민등록번호,
 * YYMMDD-GNNNNNN, with or without the hyphen; G is 1-8 for citizens and registered foreigners), phone numbers
 * (Korean mobile and landline, +82 forms, and common international shapes), e-mail addresses, record numbers
 * behind their label (`MRN-55501234`, `등록번호 12345678`) and street addresses (`용봉로 77`, `123 Teheran-ro`).
 */
const RRN = /(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?[-\u2010-\u2015]?\s?[1-8]\d{6}(?!\d)/g;
const PHONE_KR_MOBILE = /(?<![\d+])(?:\+?82[-.\s]?|0)1[016789][-.\s]?\d{3,4}[-.\s]?\d{4}(?!\d)/g;
const PHONE_KR_LANDLINE = /(?<![\d+])(?:\+?82[-.\s]?|0)(?:2|[3-6][1-5]|70)[-.\s)]\s?\d{3,4}[-.\s]\d{4}(?!\d)/g;
const PHONE_GENERIC = /(?<![\d\w])(?:\+\d{1,3}[-.\s]?)?\(?\d{3}\)?[-.\s]\d{3,4}[-.\s]\d{4}(?![\d\w])/g;
const EMAIL = /[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+/gu;
/** A record number behind the label that says so; the label is kept, the number masked. */
const RECORD_NUMBER =
  /(\b(?:MRN|MR|EMR|EHR|PID|Chart|Hospital|Patient|Record|Case|Medical record|Registration)(?:\s?(?:No|Number|ID|#))?\.?\s?[:#]?\s?|(?:등록번호|병록번호|차트번호|환자번호|의무기록번호|진료번호|수진번호|병원번호)\s?[:：]?\s?)(?:[-#]\s?)?[A-Z]{0,3}-?\d[\d-]{3,}\d/g;
/** Korean road-name addresses (`용봉로 77`, `중앙로12번길 5-3`) with their building, unit and floor. */
const ADDRESS_KR =
  /[가-힣\d]+(?:대로|(?<!으)로|길)\s?\d+(?:번길\s?\d+)?(?:-\d+)?(?:\s?,?\s?\d+동)?(?:\s?,?\s?\d+(?:호|층))?(?![\d가-힣]|\.\d|\s?(?:mg|mL|ml|cc|g|kg|mcg|IU|U|단위|정|회|일|%|mmHg|분|시간|개월|주|세|cm|mm|bpm))/g;
/** Latin-script street lines: a number before or after a street name (`77 Plantedstreet-ro`, `Teheran-ro 123`). */
const ADDRESS_LATIN =
  /\b\d+(?:-\d+)?,?\s+(?:[A-Z][\w'-]*\s){0,3}[A-Z]?[\w'-]*(?:-ro|-gil|-daero|\s(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Drive|Way|Place|Pl|Court|Ct|Terrace))\b\.?|\b[A-Z][\w'-]*-(?:ro|gil|daero)\s?\d+(?:-\d+)?(?:\s?[-,]\s?\d+)?\b/g;

/** What an address needs besides a number: a Korean road word, or a Latin street word. */
const ADDRESS_QUICK_KR = /[로길]/;
const ADDRESS_QUICK_LATIN =
  /-(?:ro|gil|daero)\b|\b(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Drive|Way|Place|Pl|Court|Ct|Terrace)\b/;

export const RRN_MASK = '[RRN]';
export const PHONE_MASK = '[PHONE]';
export const EMAIL_MASK = '[EMAIL]';
export const ID_MASK = '[ID]';
export const ADDRESS_MASK = '[ADDRESS]';

/** Returns `text` with identifiers masked, or the same string when there is nothing to mask. */
export function scrubText(text: string): string {
  // One pass over the characters decides which patterns can match at all: most strings (dates, codes,
  // quantities, words) hold none, and this runs for every string of every resource ingested.
  let digits = 0;
  let at = false;
  let words = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 64) at = true;
    else if ((c >= 0xac00 && c <= 0xd7a3) || ((c | 32) >= 97 && (c | 32) <= 122)) words++;
  }
  if (digits === 0 && !at) return text;
  let out = text;
  if (digits >= 9) {
    out = out
      .replace(RRN, RRN_MASK)
      .replace(PHONE_KR_MOBILE, PHONE_MASK)
      .replace(PHONE_KR_LANDLINE, PHONE_MASK)
      .replace(PHONE_GENERIC, PHONE_MASK);
  }
  if (at) out = out.replace(EMAIL, EMAIL_MASK);
  // Two letters at least: an ISO date-time (one `T`) never needs the label or street patterns.
  if (words >= 2) {
    if (digits >= 4) out = out.replace(RECORD_NUMBER, (_m, label: string) => `${label}${ID_MASK}`);
    if (ADDRESS_QUICK_KR.test(out)) out = out.replace(ADDRESS_KR, ADDRESS_MASK);
    if (ADDRESS_QUICK_LATIN.test(out)) out = out.replace(ADDRESS_LATIN, ADDRESS_MASK);
  }
  return out;
}
