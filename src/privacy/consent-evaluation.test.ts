import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isHealthmeshError } from '../core/index.js';
import { ACT_REASON, CONSENT_SCOPE, ConsentPolicy, consentDecision, decisionSpans, personDecision } from './index.js';

type Json = Record<string, unknown>;
const policy = new ConsentPolicy();
const research = policy.purpose('research');
const treatment = policy.purpose('treatment');
const at = (iso: string) => Date.parse(iso);
const purpose = (code: string) => ({ system: ACT_REASON, code });

/** A research consent as the synthetic generator writes it, with overrides. */
function consent(over: Json = {}, provision: Json = {}): Json {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: CONSENT_SCOPE, code: 'research' }] },
    dateTime: '2020-01-01T00:00:00Z',
    provision: { type: 'deny', purpose: [purpose('HRESCH')], ...provision },
    ...over,
  };
}

describe('consent evaluation', () => {
  it('applies an active consent to the purposes it names, and not to others', () => {
    const c = consent();
    expect(consentDecision(c, 'research', at('2021-01-01'), policy)).toBe('deny');
    expect(consentDecision(c, 'treatment', at('2021-01-01'), policy)).toBeUndefined();
    expect(personDecision([c], treatment, at('2021-01-01'), policy)).toEqual({ decision: 'permit', by: 'default' });
  });

  it('reads only active consents, and only from their dateTime on', () => {
    for (const status of ['draft', 'proposed', 'rejected', 'inactive', 'entered-in-error']) {
      expect(consentDecision(consent({ status }), 'research', at('2021-01-01'), policy)).toBeUndefined();
    }
    expect(consentDecision(consent(), 'research', at('2019-12-31'), policy)).toBeUndefined();
  });

  it('takes the purposes from the scope when the provision names none, and all of them for patient-privacy', () => {
    const byScope = consent({}, { purpose: undefined });
    expect(consentDecision(byScope, 'research', at('2021-01-01'), policy)).toBe('deny');
    expect(consentDecision(byScope, 'commercial', at('2021-01-01'), policy)).toBeUndefined();
    const all = consent(
      { scope: { coding: [{ system: CONSENT_SCOPE, code: 'patient-privacy' }] } },
      { purpose: undefined },
    );
    for (const p of policy.names()) expect(consentDecision(all, p, at('2021-01-01'), policy)).toBe('deny');
  });

  it('applies a provision only within its period (end inclusive, partial dates whole)', () => {
    const c = consent({}, { period: { start: '2020-06-01', end: '2020-12' } });
    expect(consentDecision(c, 'research', at('2020-05-31T23:59:59Z'), policy)).toBeUndefined();
    expect(consentDecision(c, 'research', at('2020-06-01T00:00:00Z'), policy)).toBe('deny');
    expect(consentDecision(c, 'research', at('2020-12-31T23:59:59Z'), policy)).toBe('deny');
    expect(consentDecision(c, 'research', at('2021-01-01T00:00:00Z'), policy)).toBeUndefined();
  });

  it('lets nested provisions make exceptions within their period and purposes', () => {
    // Permits all use, except research in 2021; a data-limited permit exception is not applied to the whole record.
    const c = consent(
      { scope: { coding: [{ system: CONSENT_SCOPE, code: 'patient-privacy' }] } },
      {
        type: 'permit',
        purpose: undefined,
        provision: [
          { type: 'deny', purpose: [purpose('HRESCH')], period: { start: '2021-01-01', end: '2021-12-31' } },
          { type: 'deny', purpose: [purpose('HMARKT')] },
          {
            type: 'permit',
            purpose: [purpose('HMARKT')],
            data: [{ meaning: 'instance', reference: { reference: 'Observation/x' } }],
          },
        ],
      },
    );
    expect(consentDecision(c, 'research', at('2020-06-01'), policy)).toBe('permit');
    expect(consentDecision(c, 'research', at('2021-06-01'), policy)).toBe('deny');
    expect(consentDecision(c, 'research', at('2022-01-01'), policy)).toBe('permit');
    expect(consentDecision(c, 'treatment', at('2021-06-01'), policy)).toBe('permit');
    expect(consentDecision(c, 'commercial', at('2021-06-01'), policy)).toBe('deny');
    // An exception to an exception: deny research, but permit it again for a period inside.
    const nested = consent(
      {},
      {
        type: 'permit',
        provision: [{ type: 'deny', provision: [{ type: 'permit', period: { start: '2023-01-01' } }] }],
      },
    );
    expect(consentDecision(nested, 'research', at('2022-01-01'), policy)).toBe('deny');
    expect(consentDecision(nested, 'research', at('2023-02-01'), policy)).toBe('permit');
  });

  it('lets the latest consent that decides win, deny on a tie', () => {
    const permit = consent({ dateTime: '2020-01-01' }, { type: 'permit' });
    const deny = consent({ dateTime: '2022-01-01' }, { type: 'deny' });
    expect(personDecision([permit, deny], research, at('2021-01-01'), policy).decision).toBe('permit');
    expect(personDecision([deny, permit], research, at('2022-06-01'), policy).decision).toBe('deny');
    const permitAgain = consent({ dateTime: '2023-01-01' }, { type: 'permit' });
    expect(personDecision([permit, deny, permitAgain], research, at('2023-06-01'), policy)).toEqual({
      decision: 'permit',
      by: 'consent',
    });
    // A later consent that does not speak to research (inactive) leaves the earlier one standing.
    const withdrawn = consent({ dateTime: '2024-01-01', status: 'inactive' }, { type: 'permit' });
    expect(personDecision([deny, withdrawn], research, at('2024-06-01'), policy).decision).toBe('deny');
    const tie = consent({ dateTime: '2022-01-01' }, { type: 'permit' });
    expect(personDecision([tie, deny], research, at('2022-06-01'), policy).decision).toBe('deny');
  });

  it('falls back to the purpose default: opt-out permits, opt-in leaves out', () => {
    expect(personDecision([], research, at('2021-01-01'), policy)).toEqual({ decision: 'permit', by: 'default' });
    expect(personDecision([], policy.purpose('commercial'), at('2021-01-01'), policy)).toEqual({
      decision: 'deny',
      by: 'default',
    });
    const optIn = new ConsentPolicy({ purposes: { research: { default: 'opt-in' } } });
    expect(personDecision([], optIn.purpose('research'), at('2021-01-01'), optIn).decision).toBe('deny');
    const permit = consent({}, { type: 'permit' });
    expect(personDecision([permit], optIn.purpose('research'), at('2021-01-01'), optIn).decision).toBe('permit');
  });

  it('does not apply consents to a purpose the hub may use without consent', () => {
    const law = new ConsentPolicy({ purposes: { 'public-health': { withoutConsent: true } } });
    const all = consent(
      { scope: { coding: [{ system: CONSENT_SCOPE, code: 'patient-privacy' }] } },
      { purpose: undefined },
    );
    expect(personDecision([all], law.purpose('public-health'), at('2021-01-01'), law)).toEqual({
      decision: 'permit',
      by: 'law',
    });
    expect(personDecision([all], law.purpose('research'), at('2021-01-01'), law).decision).toBe('deny');
    expect(decisionSpans([all], law.purpose('public-health'), law)).toEqual([]);
  });

  it("reads a hub's own purposes and codings, and refuses an unknown purpose by code", () => {
    const own = new ConsentPolicy({
      purposes: { 'registry-linkage': { codings: [{ system: 'urn:example', code: 'LINK' }] } },
    });
    const c = consent({}, { purpose: [{ system: 'urn:example', code: 'LINK' }] });
    expect(personDecision([c], own.purpose('registry-linkage'), at('2021-01-01'), own).decision).toBe('deny');
    expect(personDecision([c], own.purpose('research'), at('2021-01-01'), own).by).toBe('default');
    for (const bad of ['marketing', 'Research', "research'; --", 3]) {
      let code: string | undefined;
      try {
        policy.purpose(bad);
      } catch (e) {
        code = isHealthmeshError(e) ? e.code : 'other';
      }
      expect(code).toBe('CONSENT_UNKNOWN_PURPOSE');
    }
  });

  it('gives spans of time that agree with the decision at every instant', () => {
    const day = 86_400_000;
    const base = at('2020-01-01');
    const iso = (d: number) => new Date(base + d * day).toISOString().slice(0, 10);
    const provision = fc.record({
      type: fc.constantFrom('permit', 'deny'),
      start: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
      length: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
    });
    const arbConsent = fc.record({
      status: fc.constantFrom('active', 'active', 'inactive'),
      given: fc.integer({ min: 0, max: 40 }),
      base: provision,
      nested: fc.array(provision, { maxLength: 2 }),
    });
    const period = (p: { start?: number | undefined; length?: number | undefined }) =>
      p.start === undefined
        ? {}
        : { period: { start: iso(p.start), ...(p.length !== undefined && { end: iso(p.start + p.length) }) } };
    fc.assert(
      fc.property(fc.array(arbConsent, { maxLength: 4 }), fc.integer({ min: -5, max: 70 }), (cs, d) => {
        const consents = cs.map((c) =>
          consent(
            { status: c.status, dateTime: iso(c.given) },
            { type: c.base.type, ...period(c.base), provision: c.nested.map((n) => ({ type: n.type, ...period(n) })) },
          ),
        );
        const t = base + d * day + 12 * 3_600_000;
        const span = decisionSpans(consents, research, policy).find(
          (s) => (s.from === null || s.from <= t) && (s.to === null || t < s.to),
        );
        const direct = personDecision(consents, research, t, policy);
        expect(span?.decision ?? 'default').toBe(direct.by === 'consent' ? direct.decision : 'default');
      }),
      { numRuns: 300 },
    );
  });
});
