/**
 * Masks direct identifiers found in free text: Korean resident registration numbers (주민등록번호,
 * YYMMDD-GNNNNNN, with or without the hyphen; G is 1-8 for citizens and registered foreigners) and phone
 * numbers (Korean mobile and landline, +82 forms, and common international shapes).
 */
const RRN = /(?<!\d)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\s?[-\u2010-\u2015]?\s?[1-8]\d{6}(?!\d)/g;
const PHONE_KR_MOBILE = /(?<![\d+])(?:\+?82[-.\s]?|0)1[016789][-.\s]?\d{3,4}[-.\s]?\d{4}(?!\d)/g;
const PHONE_KR_LANDLINE = /(?<![\d+])(?:\+?82[-.\s]?|0)(?:2|[3-6][1-5]|70)[-.\s)]\s?\d{3,4}[-.\s]\d{4}(?!\d)/g;
const PHONE_GENERIC = /(?<![\d\w])(?:\+\d{1,3}[-.\s]?)?\(?\d{3}\)?[-.\s]\d{3,4}[-.\s]\d{4}(?![\d\w])/g;
const QUICK = /\d{7}/; // every pattern holds 7+ digits, possibly split; cheap pre-check below

export const RRN_MASK = '[RRN]';
export const PHONE_MASK = '[PHONE]';

function mayHoldIdentifier(text: string): boolean {
  // Fast rejection: strings with fewer than 9 digits cannot hold any pattern above.
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++digits >= 9) return true;
  }
  return QUICK.test(text) && digits >= 9;
}

/** Returns `text` with identifiers masked, or the same string when there is nothing to mask. */
export function scrubText(text: string): string {
  if (!mayHoldIdentifier(text)) return text;
  return text
    .replace(RRN, RRN_MASK)
    .replace(PHONE_KR_MOBILE, PHONE_MASK)
    .replace(PHONE_KR_LANDLINE, PHONE_MASK)
    .replace(PHONE_GENERIC, PHONE_MASK);
}
