import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { MessageKey } from './messages.js';
import { EN, KO } from './messages.js';

export type Lang = 'en' | 'ko';

const LANG_KEY = 'healthmesh.lang';

/** The language chosen on an earlier page of this tab, else Korean when the browser prefers it to English. */
export function initialLang(): Lang {
  const kept = sessionStorage.getItem(LANG_KEY);
  if (kept === 'en' || kept === 'ko') return kept;
  for (const l of navigator.languages ?? [navigator.language]) {
    const low = l.toLowerCase();
    if (low.startsWith('ko')) return 'ko';
    if (low.startsWith('en')) return 'en';
  }
  return 'en';
}

export function keepLang(lang: Lang): void {
  sessionStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
}

/** Texts and number/date formats of one language (Intl, with the language's own conventions). */
export interface I18n {
  lang: Lang;
  t: (key: MessageKey, values?: Record<string, string | number>) => string;
  num: (n: number | null | undefined, digits?: number) => string;
  pct: (n: number | null | undefined) => string;
  date: (iso: string | null | undefined) => string;
  dateTime: (iso: string | null | undefined) => string;
}

export function makeI18n(lang: Lang): I18n {
  const table = lang === 'ko' ? KO : EN;
  const locale = lang === 'ko' ? 'ko-KR' : 'en-GB';
  const nf = new Map<number, Intl.NumberFormat>();
  const numberFormat = (digits: number) => {
    let f = nf.get(digits);
    if (!f) {
      f = new Intl.NumberFormat(locale, { maximumFractionDigits: digits });
      nf.set(digits, f);
    }
    return f;
  };
  const pf = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 });
  const df = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeZone: 'UTC' });
  const dtf = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
  const missing = '—';
  return {
    lang,
    t: (key, values) => {
      let s = table[key];
      if (values) for (const [k, v] of Object.entries(values)) s = s.replaceAll(`{${k}}`, String(v));
      return s;
    },
    num: (n, digits = 0) =>
      n === null || n === undefined || !Number.isFinite(n) ? missing : numberFormat(digits).format(n),
    pct: (n) => (n === null || n === undefined || !Number.isFinite(n) ? missing : pf.format(n)),
    // Plain dates (YYYY-MM-DD) are calendar days: formatted in UTC so no time zone moves them a day.
    date: (iso) => (iso ? df.format(new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso)) : missing),
    dateTime: (iso) => (iso ? dtf.format(new Date(iso)) : missing),
  };
}

export const I18nContext = createContext<I18n>(makeI18n('en'));

export function useI18n(): I18n {
  return useContext(I18nContext);
}
