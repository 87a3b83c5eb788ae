/**
 * Purposes of use and a hub's policy for each (docs/consent.md). A purpose is a short code of ours (`research`);
 * FHIR Consents name purposes by codings (v3-ActReason `HRESCH` in `provision.purpose`, or the consent scope
 * `research`), so each purpose lists the codings that stand for it. A hub changes the defaults and adds codings or
 * purposes of its own in `hub.json` (`privacy.consent.purposes`).
 */
import type { ConsentConfig, PurposeCoding } from '../core/index.js';
import { HealthmeshError, PURPOSE_NAME } from '../core/index.js';

export const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const CONSENT_SCOPE = 'http://terminology.hl7.org/CodeSystem/consentscope';
/** Our own code system: each purpose's name is a code in it, so a Consent can name any purpose exactly. */
export const HEALTHMESH_PURPOSE = 'https://healthmesh.dev/fhir/CodeSystem/purpose-of-use';

/** A purpose as the hub applies it. */
export interface Purpose {
  name: string;
  /** What holds for a person whose consents say nothing about this purpose. */
  default: 'opt-in' | 'opt-out';
  /** The law lets the hub use pseudonymised data for this purpose without consent: consents are not applied. */
  withoutConsent: boolean;
  codings: readonly PurposeCoding[];
}

const act = (...codes: string[]) => codes.map((code) => ({ system: ACT_REASON, code }));

/**
 * The built-in purposes. v3-ActReason has no code for product development or AI validation; `MLTRAINING`
 * (machine-learning training) is the closest to AI development. Commercial use is opt-in: a person must have
 * agreed to it.
 */
export const BUILTIN_PURPOSES: readonly Purpose[] = (
  [
    {
      name: 'treatment',
      default: 'opt-out',
      withoutConsent: false,
      codings: [...act('TREAT', 'ETREAT', 'CAREMGT'), { system: CONSENT_SCOPE, code: 'treatment' }],
    },
    {
      name: 'research',
      default: 'opt-out',
      withoutConsent: false,
      codings: [...act('HRESCH', 'RESCH', 'CLINTRCH', 'BIORCH'), { system: CONSENT_SCOPE, code: 'research' }],
    },
    { name: 'public-health', default: 'opt-out', withoutConsent: false, codings: act('PUBHLTH', 'HPRGRP') },
    { name: 'ai-development', default: 'opt-out', withoutConsent: false, codings: act('MLTRAINING') },
    { name: 'ai-validation', default: 'opt-out', withoutConsent: false, codings: [] },
    { name: 'commercial', default: 'opt-in', withoutConsent: false, codings: act('HMARKT', 'COMMERCIAL') },
  ] satisfies Purpose[]
).map((p) => ({ ...p, codings: [...p.codings, { system: HEALTHMESH_PURPOSE, code: p.name }] }));

/** The consent scope that covers every purpose when the provision names none. */
const ALL_PURPOSES_SCOPE = `${CONSENT_SCOPE}|patient-privacy`;

/** The built-in purposes with a hub's configuration applied: lookups by name and by coding. */
export class ConsentPolicy {
  private readonly byName = new Map<string, Purpose>();
  private readonly byCoding = new Map<string, Set<string>>();

  constructor(config: ConsentConfig = { purposes: {} }) {
    for (const p of BUILTIN_PURPOSES) this.byName.set(p.name, p);
    for (const [name, c] of Object.entries(config.purposes)) {
      const base = this.byName.get(name);
      this.byName.set(name, {
        name,
        default: c.default ?? base?.default ?? 'opt-out',
        withoutConsent: c.withoutConsent ?? base?.withoutConsent ?? false,
        codings: [
          ...(base?.codings ?? [{ system: HEALTHMESH_PURPOSE, code: name }]),
          ...(c.codings ?? []).map((x) => ({ system: x.system, code: x.code })),
        ],
      });
    }
    for (const p of this.byName.values()) {
      for (const c of p.codings) {
        const key = `${c.system}|${c.code}`;
        const set = this.byCoding.get(key) ?? new Set<string>();
        set.add(p.name);
        this.byCoding.set(key, set);
      }
    }
  }

  /** Every purpose's name. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The purpose of that name, or `CONSENT_UNKNOWN_PURPOSE` naming `field` (the request field it came from). */
  purpose(name: unknown, field = 'purpose'): Purpose {
    const p = typeof name === 'string' && PURPOSE_NAME.test(name) ? this.byName.get(name) : undefined;
    if (p === undefined) {
      throw new HealthmeshError(
        'CONSENT_UNKNOWN_PURPOSE',
        `${field} must be one of ${this.names().join(', ')}, not '${String(name).slice(0, 40)}'`,
        { path: field },
      );
    }
    return p;
  }

  /** The purposes a list of codings names; `'all'` for the patient-privacy scope (a consent about all use). */
  purposesOf(codings: readonly { system?: unknown; code?: unknown }[]): Set<string> | 'all' {
    const out = new Set<string>();
    for (const c of codings) {
      const key = `${String(c.system)}|${String(c.code)}`;
      if (key === ALL_PURPOSES_SCOPE) return 'all';
      for (const p of this.byCoding.get(key) ?? []) out.add(p);
    }
    return out;
  }

  /** A stable text of the policy: a derived table built under another policy is stale. */
  fingerprint(): string {
    return JSON.stringify([...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name)));
  }
}
