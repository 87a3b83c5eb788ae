import { isKoreanSurname, NAME_MASK } from './name-scrubber.js';

type Json = Record<string, unknown>;

/** The plain data of a `SeenNames`, for handing to worker threads of the same run (in memory only). */
export interface SeenNamesData {
  hangul: string[];
  latin: string[];
}

/** Resource types whose `name` is a person's: their names are masked wherever the run's free text repeats them. */
export const NAMED_PERSON_TYPES: ReadonlySet<string> = new Set(['Patient', 'RelatedPerson', 'Person', 'Practitioner']);

const HANGUL_FIRST = 0xac00;
const HANGUL_LAST = 0xd7a3;
const MAX_HANGUL_NAME = 5;

function isHangul(c: number): boolean {
  return c >= HANGUL_FIRST && c <= HANGUL_LAST;
}

/** ASCII letters and digits (Synthea writes names like `Abe604`), apostrophes and inner hyphens. */
function isLatinWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 39 || c === 0x2019;
}

/**
 * The names of the people an ingest run has seen in Patient, RelatedPerson, Person and Practitioner resources,
 * masked wherever they appear in the run's free text: Hangul full names and given names of two syllables or more
 * (at the start of a Hangul word, so `길동이가` loses `길동`), Latin name parts of three letters or more as whole
 * words, any case. Held in memory for the run only: never written to disk or logs.
 */
export class SeenNames {
  private readonly hangul = new Set<string>();
  private readonly latin = new Set<string>();

  static from(data: SeenNamesData): SeenNames {
    const names = new SeenNames();
    for (const h of data.hangul) names.hangul.add(h);
    for (const l of data.latin) names.latin.add(l);
    return names;
  }

  /** A dictionary of the given name parts (tests, and callers that know the people of a submission). */
  static of(parts: readonly string[]): SeenNames {
    const names = new SeenNames();
    for (const p of parts) names.addPart(p);
    return names;
  }

  get size(): number {
    return this.hangul.size + this.latin.size;
  }

  toData(): SeenNamesData {
    return { hangul: [...this.hangul], latin: [...this.latin] };
  }

  /** Adds the names of `resource` when it is a person with a `name` (HumanName[]). */
  addResource(resource: Json): void {
    if (typeof resource.resourceType !== 'string' || !NAMED_PERSON_TYPES.has(resource.resourceType)) return;
    const names = Array.isArray(resource.name) ? (resource.name as unknown[]) : [];
    for (const n of names) {
      if (n === null || typeof n !== 'object') continue;
      const name = n as Json;
      const family = typeof name.family === 'string' ? name.family.trim() : '';
      const given = Array.isArray(name.given) ? name.given.filter((g): g is string => typeof g === 'string') : [];
      this.addPart(family);
      for (const g of given) {
        this.addPart(g);
        if (family.length > 0) this.addPart(family + g.trim()); // 홍 + 길동
      }
      if (typeof name.text === 'string') {
        this.addPart(name.text.replace(/\s+/g, ''));
        for (const t of name.text.split(/[\s,]+/)) this.addPart(t);
      }
    }
  }

  /** One name part: Hangul of two syllables or more, else its Latin words of three letters or more. */
  addPart(part: string): void {
    const p = part.trim();
    if (p.length === 0) return;
    if (/^[가-힣]+$/.test(p)) {
      if (p.length >= 2 && p.length <= MAX_HANGUL_NAME) this.hangul.add(p);
      // A full name written as text (`홍길동`): its given name too.
      if (p.length >= 3 && isKoreanSurname(p[0]!)) this.hangul.add(p.slice(1));
      if (p.length >= 4 && isKoreanSurname(p.slice(0, 2))) this.hangul.add(p.slice(2));
      return;
    }
    for (const w of p.split(/[^A-Za-z0-9'’-]+/)) {
      if (w.length < 3) continue;
      const lower = w.toLowerCase();
      this.latin.add(lower);
      if (lower.includes('-')) {
        this.latin.add(lower.replace(/-/g, '')); // Gil-sun → gilsun
        for (const piece of lower.split('-')) if (piece.length >= 4) this.latin.add(piece); // Smith-Jones → jones
      }
    }
  }

  /** `text` with every seen name masked; the same string when there is none. */
  mask(text: string): string {
    if (this.hangul.size === 0 && this.latin.size === 0) return text;
    let out: string | undefined;
    let copied = 0;
    const n = text.length;
    let i = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (isHangul(c)) {
        let end = i + 1;
        while (end < n && isHangul(text.charCodeAt(end))) end++;
        // Longest seen name at the start of this Hangul word.
        for (let len = Math.min(MAX_HANGUL_NAME, end - i); len >= 2; len--) {
          if (this.hangul.has(text.slice(i, i + len))) {
            out = (out ?? '') + text.slice(copied, i) + NAME_MASK;
            copied = i + len;
            break;
          }
        }
        i = end;
      } else if (isLatinWordChar(c)) {
        let end = i + 1;
        while (end < n) {
          const d = text.charCodeAt(end);
          if (isLatinWordChar(d) || (d === 45 && end + 1 < n && isLatinWordChar(text.charCodeAt(end + 1)))) end++;
          else break;
        }
        if (end - i >= 3 && this.latinWordSeen(text, i, end)) {
          out = (out ?? '') + text.slice(copied, i) + NAME_MASK;
          copied = end;
        }
        i = end;
      } else i++;
    }
    return out === undefined ? text : out + text.slice(copied);
  }

  /** The whole word, else (for `Gil-sun`, `Smith-Jones`) each of its hyphenated pieces. */
  private latinWordSeen(text: string, start: number, end: number): boolean {
    const word = text.slice(start, end).toLowerCase();
    if (this.latin.has(word)) return true;
    if (!word.includes('-')) return false;
    for (const piece of word.split('-')) if (this.latin.has(piece)) return true;
    return false;
  }
}
