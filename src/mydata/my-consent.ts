import { createHash, hash as oneShotHash } from 'node:crypto';
import type { AuditLog, Principal } from '../access/index.js';
import type { DerivedData } from '../context/index.js';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import { extractSearchRows } from '../fhir/index.js';
import type { ConsentPolicy } from '../privacy/index.js';
import { CONSENT_SCOPE, HEALTHMESH_PURPOSE } from '../privacy/index.js';
import type { Database, ResourceStore } from '../store/index.js';

/** The source a citizen's own consent choices are stored under (a source name, so part of no one's identity). */
export const MYDATA_SOURCE = 'mydata';

export type Choice = 'permit' | 'deny';

/** One purpose as a citizen sees it: the hub's default, what applies to them now, and the history of their choices. */
export interface PurposeChoice {
  purpose: string;
  /** What holds without a choice of theirs. */
  default: 'opt-in' | 'opt-out';
  /** The law lets the hub use pseudonymised data for this purpose without consent: a choice is kept but not applied. */
  withoutConsent: boolean;
  /** Their current choice, or null: the default applies. */
  choice: Choice | null;
  /** Whether their data is used for the purpose now. */
  used: boolean;
  history: { at: string; choice: Choice | null }[];
}

/**
 * A citizen's consent choices, one FHIR Consent per linked record and purpose (`Consent/<keyed id>`, source
 * `mydata`), written to the resource store like any consent: the hub's after-commit pipeline rebuilds the consent
 * decisions, so a change counts at the next query here, and at peers' next federated query, which runs on their
 * own consents for the same person only if they hold them (each hub applies the consents it holds). The store keeps
 * every version, which is the history of choices. Withdrawing a choice makes the Consent `inactive`: the default
 * applies again.
 */
export class MyConsent {
  constructor(
    private readonly db: Database,
    private readonly store: ResourceStore,
    private readonly policy: ConsentPolicy,
    private readonly derived: DerivedData,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Every purpose with the citizen's choice (the same on each of their linked records, as only this writes them). */
  async choices(patientKeys: readonly string[]): Promise<PurposeChoice[]> {
    const out: PurposeChoice[] = [];
    for (const name of this.policy.names()) {
      const purpose = this.policy.purpose(name);
      const key = patientKeys[0];
      const versions = key === undefined ? [] : await this.store.history('Consent', consentId(key, name));
      const history = versions
        .map((v) => ({ at: v.lastUpdated.toISOString(), choice: choiceOf(JSON.parse(v.content)) }))
        .sort((a, b) => b.at.localeCompare(a.at));
      const choice = history[0]?.choice ?? null;
      const used =
        purpose.withoutConsent || (choice ?? (purpose.default === 'opt-out' ? 'permit' : 'deny')) === 'permit';
      out.push({
        purpose: name,
        default: purpose.default,
        withoutConsent: purpose.withoutConsent,
        choice,
        used,
        history,
      });
    }
    return out;
  }

  /** Record the citizen's choice for `purposeName` on each of their linked records (null withdraws it). */
  async choose(principal: Principal, patientKeys: readonly string[], purposeName: string, choice: Choice | null) {
    const purpose = this.policy.purpose(purposeName, 'purpose');
    if (patientKeys.length === 0) {
      throw new HealthmeshError('MYDATA_NO_RECORD', 'no record is linked to this account yet: enrol with a code first');
    }
    const now = this.clock.now();
    const writes = patientKeys.map((key) => {
      const id = consentId(key, purpose.name);
      const resource = {
        resourceType: 'Consent',
        id,
        status: choice === null ? 'inactive' : 'active',
        scope: { coding: [{ system: CONSENT_SCOPE, code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient: { reference: `Patient/${key}` },
        dateTime: now.toISOString(),
        provision: {
          type: choice ?? 'permit',
          purpose: [{ system: HEALTHMESH_PURPOSE, code: purpose.name }],
        },
      };
      const content = JSON.stringify(resource);
      return {
        type: 'Consent',
        id,
        hash: oneShotHash('sha256', content, 'hex'),
        patientKey: key,
        source: MYDATA_SOURCE,
        content,
        search: extractSearchRows(resource),
      };
    });
    await this.derived.afterWrite(
      () =>
        this.db.transaction(async (tx) => {
          await this.store.write(writes, now, tx);
          await this.audit.append(
            {
              actor: principal.name,
              action: 'consent-choice',
              target: `purpose/${purpose.name}`,
              outcome: 'success',
              detail: { choice: choice ?? 'withdrawn', records: writes.length },
            },
            tx,
          );
        }),
      () => ({ ids: writes.map((w) => w.id) }),
    );
  }
}

/** The stored id of a citizen's Consent for a purpose: keyed by the patient key, stable across changes. */
function consentId(patientKey: string, purpose: string): string {
  return createHash('sha256').update(`mydata-consent\u0000${patientKey}\u0000${purpose}`).digest('hex').slice(0, 32);
}

function choiceOf(resource: { status?: string; provision?: { type?: string } }): Choice | null {
  if (resource.status !== 'active') return null;
  return resource.provision?.type === 'deny' ? 'deny' : 'permit';
}
