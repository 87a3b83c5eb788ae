import type { SearchParamDef } from '../fhir/index.js';
import { dateRange, SEARCH_PARAMETERS } from '../fhir/index.js';
import type { Criterion, DatePrefix, SearchQuery } from '../store/index.js';
import { badRequest } from './operation-outcome.js';

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;
const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le']);
/** Parameters every search accepts (besides the per-type ones in SEARCH_PARAMETERS). */
export const COMMON_PARAMS = ['_id', '_lastUpdated', '_count', '_offset'] as const;
const IGNORED = new Set(['_format', '_pretty']);

type Query = Record<string, string | string[] | undefined>;

function values(q: Query, name: string): string[] {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function parseDate(param: string, raw: string): { prefix: DatePrefix; low: Date; high: Date } {
  const prefix = (PREFIXES.has(raw.slice(0, 2)) ? raw.slice(0, 2) : 'eq') as DatePrefix;
  const text = PREFIXES.has(raw.slice(0, 2)) ? raw.slice(2) : raw;
  const r = dateRange(text);
  if (!r)
    throw badRequest(
      `${param}: "${text.slice(0, 40)}" is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)`,
      param,
    );
  return { prefix, low: new Date(r.low), high: new Date(r.high) };
}

function parseInt0(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw badRequest(`${name} must be a non-negative integer`, name);
  return Math.min(Number(raw), max);
}

/** Turn a search query string into criteria; unknown parameters are refused, not ignored silently. */
export function parseSearch(types: string[], q: Query, allowType: boolean): SearchQuery {
  const defs = new Map<string, SearchParamDef>();
  if (types.length === 1) for (const d of SEARCH_PARAMETERS[types[0]!] ?? []) defs.set(d.name, d);
  const criteria: Criterion[] = [];
  for (const name of Object.keys(q)) {
    if (IGNORED.has(name) || name === '_count' || name === '_offset' || (allowType && name === '_type')) continue;
    for (const raw of values(q, name)) {
      if (name === '_id') criteria.push({ kind: 'id', ids: raw.split(',') });
      else if (name === '_lastUpdated') criteria.push({ kind: 'lastUpdated', ...parseDate(name, raw) });
      else {
        const def = defs.get(name);
        if (!def) {
          throw badRequest(
            `search parameter "${name.slice(0, 40)}" is not supported${types.length === 1 ? ` on ${types[0]}` : ''}; see /fhir/metadata`,
            name,
          );
        }
        criteria.push(criterionFor(def, raw));
      }
    }
  }
  return {
    types,
    criteria,
    count: parseInt0('_count', values(q, '_count')[0], DEFAULT_COUNT, MAX_COUNT),
    offset: parseInt0('_offset', values(q, '_offset')[0], 0, Number.MAX_SAFE_INTEGER),
  };
}

function criterionFor(def: SearchParamDef, raw: string): Criterion {
  switch (def.type) {
    case 'token':
      return {
        kind: 'token',
        param: def.name,
        values: raw.split(',').map((t) => {
          const bar = t.indexOf('|');
          if (bar === -1) return { code: t };
          const system = t.slice(0, bar);
          const code = t.slice(bar + 1);
          return { system: system === '' ? null : system, ...(code !== '' && { code }) };
        }),
      };
    case 'date':
      return { kind: 'date', param: def.name, ...parseDate(def.name, raw) };
    case 'reference':
      return {
        kind: 'reference',
        param: def.name,
        targets: raw.split(',').map((t) => (t.includes('/') ? t : `${def.target ?? 'Patient'}/${t}`)),
      };
  }
}
