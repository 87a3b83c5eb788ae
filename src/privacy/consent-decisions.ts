/**
 * Consent as SQL: the table `consent_decision` holds, per person and purpose, the spans of time over which their
 * consents decide (`decisionSpans`), derived from the current Consent resources of the store. Other modules ask
 * for a `ConsentFilter` (a purpose as of a time) and put its condition into their own SQL, so refusers are left out
 * inside the query that would have used them.
 *
 * Why a table derived from the resource store rather than the consent analytic table (views): a decision needs a
 * consent's whole provision tree (nested exceptions, each with its periods and purposes), which a flat view row
 * cannot hold, and consent must count at the next query whoever ingested it — so the table is rebuilt (`refresh`)
 * by the hub's after-commit pipeline whenever the store's Consents (or the hub's policy) changed. `filter` never
 * rebuilds: a reader, a peer's request among them, must not pay for (or trigger) a write.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/index.js';
import type { Database, Migration, SqlValue } from '../store/index.js';
import { ResourceStore } from '../store/index.js';
import { decisionSpans } from './consent-evaluation.js';
import type { ConsentPolicy, Purpose } from './consent-policy.js';

export const consentDecisionMigrations: readonly Migration[] = [
  {
    module: 'privacy',
    version: 4,
    name: 'consent decisions per person and purpose',
    statements: [
      `CREATE TABLE consent_decision (
        patient_key VARCHAR NOT NULL,
        purpose VARCHAR NOT NULL,
        valid_from BIGINT,
        valid_to BIGINT,
        decision VARCHAR NOT NULL
      )`,
      `CREATE TABLE consent_decision_state (
        id INTEGER NOT NULL PRIMARY KEY,
        source_stamp VARCHAR NOT NULL,
        built_at TIMESTAMPTZ NOT NULL
      )`,
    ],
    // Joined per person to the event index and analytic tables: spread by person on a Citus cluster.
    distribution: [['consent_decision', 'patient_key']],
  },
  {
    module: 'privacy',
    version: 5,
    name: 'consent decision index where the engine keeps one',
    statements: [],
    // Every use tests each person against the refusals of one purpose.
    indexes: [['consent_decision', ['purpose', 'patient_key']]],
  },
];

/**
 * A purpose as of a time, ready to filter people in SQL. `allows(column)` is a condition true for the patient keys
 * whose data may be used; the purpose name is checked (letters, digits, hyphens) and the time is an integer, so
 * both are written as literals and the condition needs no parameters of its own.
 */
export interface ConsentFilter {
  purpose: string;
  asOf: Date;
  /** `law` when the purpose is used without consent (nobody is left out by consent). */
  basis: 'consent' | 'law';
  allows(column: string): string;
}

/** The consent decisions of one hub's store, rebuilt when its Consents change. */
export class ConsentDecisions {
  private building: Promise<void> | undefined;
  /** The resource store over the same database: where the Consents are read. */
  private readonly store: ResourceStore;

  constructor(
    private readonly db: Database,
    readonly policy: ConsentPolicy,
    private readonly clock: Clock,
    /** Refuses when the decisions lag the store (the hub's derived-data check); none: the caller refreshes. */
    private readonly checkCurrent: () => Promise<void> = async () => {},
  ) {
    this.store = new ResourceStore(db);
  }

  /**
   * The filter of a purpose (a name, checked: `CONSENT_UNKNOWN_PURPOSE` naming `field`) as of `asOf` (default now),
   * over the decisions as the last `refresh` left them (checked current first).
   */
  async filter(purposeName: unknown, asOf: Date = this.clock.now(), field = 'purpose'): Promise<ConsentFilter> {
    const purpose = this.policy.purpose(purposeName, field);
    await this.checkCurrent();
    return filterOf(purpose, asOf);
  }

  /** Rebuilds the decisions if the store's Consents or the policy changed since the last build. */
  async refresh(): Promise<boolean> {
    while (this.building !== undefined) await this.building;
    const stamp = await this.stamp();
    const [state] = await this.db.all<{ source_stamp: string }>(
      'SELECT source_stamp FROM consent_decision_state WHERE id = 1',
    );
    if (state?.source_stamp === stamp) return false;
    this.building = this.rebuild(stamp).finally(() => {
      this.building = undefined;
    });
    await this.building;
    return true;
  }

  private async stamp(): Promise<string> {
    const r = await this.store.currentSummary('Consent');
    const policy = createHash('sha256').update(this.policy.fingerprint()).digest('hex').slice(0, 16);
    return `${String(r.count)}:${r.lastUpdated instanceof Date ? r.lastUpdated.toISOString() : String(r.lastUpdated)}:${String(r.versionSum)}:${policy}`;
  }

  private async rebuild(stamp: string): Promise<void> {
    const purposes = this.policy.names().map((n) => this.policy.purpose(n));
    // Read on the reader connection first (a result streamed on the writer would be cut by the appends), one
    // person at a time: the query is ordered by person. What is kept is decisions, a few rows per person.
    const rows: SqlValue[][] = [];
    let person: string | undefined;
    let consents: unknown[] = [];
    const decide = () => {
      if (person === undefined) return;
      for (const p of purposes) {
        for (const s of decisionSpans(consents, p, this.policy)) rows.push([person, p.name, s.from, s.to, s.decision]);
      }
    };
    for await (const chunk of this.store.streamCurrent(
      { types: ['Consent'], inCompartment: true },
      { order: 'patient' },
    )) {
      for (const r of chunk) {
        if (r.patientKey !== person) {
          decide();
          person = r.patientKey ?? undefined;
          consents = [];
        }
        consents.push(JSON.parse(r.content) as unknown);
      }
    }
    decide();
    await this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM consent_decision');
      for (let i = 0; i < rows.length; i += 10_000) await tx.append('consent_decision', rows.slice(i, i + 10_000));
      await tx.run('DELETE FROM consent_decision_state WHERE id = 1');
      await tx.run('INSERT INTO consent_decision_state (id, source_stamp, built_at) VALUES (1, $1, $2)', [
        stamp,
        this.clock.now(),
      ]);
    });
  }
}

/** The SQL filter of a purpose as of a time over `consent_decision`. */
export function filterOf(purpose: Purpose, asOf: Date): ConsentFilter {
  const t = Math.trunc(asOf.getTime());
  const decided = (decision: string) =>
    `SELECT patient_key FROM consent_decision WHERE purpose = '${purpose.name}' AND decision = '${decision}' AND (valid_from IS NULL OR valid_from <= ${t}) AND (valid_to IS NULL OR valid_to > ${t})`;
  return {
    purpose: purpose.name,
    asOf,
    basis: purpose.withoutConsent ? 'law' : 'consent',
    allows: (column) =>
      purpose.withoutConsent
        ? 'TRUE'
        : purpose.default === 'opt-out'
          ? `${column} NOT IN (${decided('deny')})`
          : `${column} IN (${decided('permit')})`,
  };
}
