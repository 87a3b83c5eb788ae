/**
 * Whether a person's FHIR Consents let the hub use their data for a purpose at a time (docs/consent.md). Pure
 * functions over the resources' JSON (narrowed from `unknown`, since stored bodies are read back untyped):
 *
 * - only `status: active` consents count, and only from their `dateTime` on;
 * - the base `provision` decides (`type` permit | deny) within its `period`, for the purposes it names in
 *   `provision.purpose`, or else those its `scope` names (`patient-privacy`: every purpose);
 * - nested `provision.provision` rules are exceptions to their parent within their own period and purposes; two
 *   sibling exceptions that disagree: deny. An exception limited to some data, actors, classes, codes, labels or
 *   actions cannot be applied to part of a person's record here: a deny one is applied to the whole record (the
 *   cautious side), a permit one is not applied;
 * - of a person's consents that decide, the latest `dateTime` wins (equal times: deny);
 * - none decides: the purpose's default (opt-out permits, opt-in leaves out). A purpose the law lets the hub use
 *   without consent (`withoutConsent`) is permitted whatever the consents say.
 */
import type { ConsentPolicy, Purpose } from './consent-policy.js';

export type ConsentDecision = 'permit' | 'deny';

/** What decided: a consent, the purpose's default, or the law (`withoutConsent`). */
export interface PersonDecision {
  decision: ConsentDecision;
  by: 'consent' | 'default' | 'law';
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' ? (v as Json) : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Milliseconds of the first instant of a FHIR date or dateTime (a partial date starts at its first day, UTC). */
export function fhirStart(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const t = Date.parse(value.length === 4 ? `${value}-01-01` : value.length === 7 ? `${value}-01` : value);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Milliseconds just after a FHIR `period.end` (ends are inclusive): the next year, month or day of a partial date,
 * or the next millisecond of an instant.
 */
export function fhirEndExclusive(value: unknown): number | undefined {
  const start = fhirStart(value);
  if (start === undefined || typeof value !== 'string') return undefined;
  const d = new Date(start);
  if (value.length === 4) return Date.UTC(d.getUTCFullYear() + 1, 0, 1);
  if (value.length === 7) return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  if (value.length === 10) return start + 86_400_000;
  return start + 1;
}

function covers(period: unknown, at: number): boolean {
  const p = obj(period);
  if (p === undefined) return true;
  const start = fhirStart(p.start);
  const end = fhirEndExclusive(p.end);
  return (start === undefined || start <= at) && (end === undefined || at < end);
}

const PARTIAL_KEYS = ['actor', 'action', 'securityLabel', 'class', 'code', 'dataPeriod', 'data'] as const;
const isPartial = (p: Json) => PARTIAL_KEYS.some((k) => p[k] !== undefined);

function codingsOf(concepts: unknown): Json[] {
  return arr(concepts).flatMap((c) => {
    const o = obj(c);
    // provision.purpose holds Codings; scope holds a CodeableConcept of codings.
    if (o === undefined) return [];
    return o.coding !== undefined
      ? arr(o.coding).flatMap((x): Json[] => {
          const c = obj(x);
          return c === undefined ? [] : [c];
        })
      : [o];
  });
}

function names(purpose: string, purposes: Set<string> | 'all'): boolean {
  return purposes === 'all' || purposes.has(purpose);
}

/** The decision of one provision (and its exceptions) at `at`, given what its parent decided. */
function provisionDecision(
  p: Json,
  purpose: string,
  at: number,
  policy: ConsentPolicy,
  inherited: ConsentDecision | undefined,
): ConsentDecision | undefined {
  const type = p.type === 'permit' || p.type === 'deny' ? p.type : undefined;
  let decision = type ?? inherited;
  const exceptions: ConsentDecision[] = [];
  for (const n of arr(p.provision)) {
    const nested = obj(n);
    if (nested === undefined || !covers(nested.period, at)) continue;
    const own = arr(nested.purpose);
    if (own.length > 0 && !names(purpose, policy.purposesOf(codingsOf(own)))) continue;
    const d = provisionDecision(nested, purpose, at, policy, decision);
    if (d === undefined || d === decision) continue;
    if (d === 'permit' && isPartial(nested)) continue;
    exceptions.push(d);
  }
  if (exceptions.length > 0) decision = exceptions.includes('deny') ? 'deny' : 'permit';
  return decision;
}

/** What one Consent says about a purpose at `at` (ms), or undefined when it does not speak to it then. */
export function consentDecision(
  consent: unknown,
  purpose: string,
  at: number,
  policy: ConsentPolicy,
): ConsentDecision | undefined {
  const c = obj(consent);
  if (c === undefined || c.status !== 'active') return undefined;
  const given = fhirStart(c.dateTime);
  if (given !== undefined && given > at) return undefined;
  const base = obj(c.provision);
  if (base === undefined || !covers(base.period, at)) return undefined;
  const basePurposes = arr(base.purpose);
  const purposes = policy.purposesOf(codingsOf(basePurposes.length > 0 ? basePurposes : [c.scope]));
  if (!names(purpose, purposes)) return undefined;
  return provisionDecision(base, purpose, at, policy, undefined);
}

/** A person's decision for a purpose at `at` from all of their consents, the latest that decides winning. */
export function personDecision(
  consents: readonly unknown[],
  purpose: Purpose,
  at: number,
  policy: ConsentPolicy,
): PersonDecision {
  if (purpose.withoutConsent) return { decision: 'permit', by: 'law' };
  let best: { given: number; decision: ConsentDecision } | undefined;
  for (const c of consents) {
    const decision = consentDecision(c, purpose.name, at, policy);
    if (decision === undefined) continue;
    const given = fhirStart(obj(c)?.dateTime) ?? Number.NEGATIVE_INFINITY;
    if (best === undefined || given > best.given || (given === best.given && decision === 'deny')) {
      best = { given, decision };
    }
  }
  if (best !== undefined) return { decision: best.decision, by: 'consent' };
  return { decision: purpose.default === 'opt-out' ? 'permit' : 'deny', by: 'default' };
}

/** A span of time `[from, to)` (ms; null = unbounded) over which a person's consents decide a purpose. */
export interface DecisionSpan {
  from: number | null;
  to: number | null;
  decision: ConsentDecision;
}

/** Every instant at which what a consent says can change: dateTimes and period bounds at any depth. */
function boundaries(consents: readonly unknown[]): number[] {
  const out = new Set<number>();
  const add = (v: number | undefined) => v !== undefined && out.add(v);
  const walk = (p: unknown) => {
    const o = obj(p);
    if (o === undefined) return;
    const period = obj(o.period);
    add(fhirStart(period?.start));
    add(fhirEndExclusive(period?.end));
    for (const n of arr(o.provision)) walk(n);
  };
  for (const c of consents) {
    add(fhirStart(obj(c)?.dateTime));
    walk(obj(c)?.provision);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The spans of time over which a person's consents decide a purpose, so a table of them answers "as of any time"
 * in SQL (`consent_decision`). Outside the spans the purpose's default holds. Decisions only change at the
 * boundaries, so each span is evaluated at its start; adjacent equal spans are merged.
 */
export function decisionSpans(consents: readonly unknown[], purpose: Purpose, policy: ConsentPolicy): DecisionSpan[] {
  if (purpose.withoutConsent) return [];
  const points = boundaries(consents);
  const starts: (number | null)[] = [null, ...points];
  const spans: DecisionSpan[] = [];
  starts.forEach((from, i) => {
    const at = from ?? (points[0] !== undefined ? points[0] - 1 : 0);
    const d = personDecision(consents, purpose, at, policy);
    if (d.by !== 'consent') return;
    const to = points[i] ?? null;
    const last = spans[spans.length - 1];
    if (last !== undefined && last.to === from && last.decision === d.decision) last.to = to;
    else spans.push({ from, to, decision: d.decision });
  });
  return spans;
}
