import { createHmac, randomBytes } from 'node:crypto';
import type { AuditLog, Principal } from '../access/index.js';
import type { Clock } from '../core/index.js';
import { checkSourceName, HealthmeshError } from '../core/index.js';
import type { Pseudonymiser } from '../privacy/index.js';
import type { Database } from '../store/index.js';

/** How long an enrolment code stays valid after its source issued it. */
export const ENROLMENT_CODE_DAYS = 14;

/** Wrong codes a citizen may try within `ENROLMENT_LOCK_MINUTES` before further tries are refused until it passes. */
export const ENROLMENT_MAX_FAILURES = 5;
export const ENROLMENT_LOCK_MINUTES = 15;

/** Crockford's base32 without I, L, O, U: read aloud or typed from paper without confusion. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** One record a citizen linked to their account. */
export interface LinkedRecord {
  source: string;
  patientKey: string;
  linkedAt: Date;
}

/**
 * Whether the person a code opens is the citizen redeeming it, by a check outside the code (a peer's redemption
 * compares linkage tokens with the citizen's origin): `different` refuses the code without using it.
 */
export type PersonCheck = (patientKey: string) => 'same' | 'different' | 'not-possible';

/**
 * Enrolment without storing who someone is. A source (the hospital or app that holds a person's record) asks the
 * hub for a one-time code bound to its patient id; the hub derives the patient key from (source, id) as ingest
 * does and keeps only a keyed hash of the code beside that key, never the code or the id. The person types the code
 * into their citizen account, which links the account to the key: the record is theirs from then on. A code works
 * once and for `ENROLMENT_CODE_DAYS` days.
 */
export class Enrolment {
  constructor(
    private readonly db: Database,
    private readonly pseudonymiser: Pseudonymiser,
    private readonly secret: Buffer,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** A new code for the person `patientId` of `source` (shown once, to hand to that person). */
  async issue(principal: Principal, source: string, patientId: string): Promise<{ code: string; expiresAt: Date }> {
    checkSourceName(source, 'source');
    if (patientId.trim() === '' || patientId.length > 256) {
      throw new HealthmeshError('MYDATA_INVALID_REQUEST', "patientId must be the source's id of the person", {
        path: 'patientId',
      });
    }
    const code = newCode();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + ENROLMENT_CODE_DAYS * 86_400_000);
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO enrolment_code (code_hash, patient_key, source, issued_by, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [this.hash(code), this.pseudonymiser.patientKey(source, patientId), source, principal.name, now, expiresAt],
      );
      // The entry names the source, never the person.
      await this.audit.append(
        {
          actor: principal.name,
          action: 'enrolment-code',
          target: `source/${source}`,
          outcome: 'success',
        },
        tx,
      );
    });
    return { code: formatCode(code), expiresAt };
  }

  /**
   * The patient a code would open now (valid, unused, unexpired), without using it or counting a try: for a check
   * whose answer says nothing of the code (a peer's linkage check answers a random-looking point either way).
   */
  async patientOf(typed: string): Promise<string | undefined> {
    const code = normaliseCode(typed);
    if (code === undefined) return undefined;
    const [row] = await this.db.all<{ patient_key: string; expires_at: Date; used_at: Date | null }>(
      'SELECT patient_key, expires_at, used_at FROM enrolment_code WHERE code_hash = $1',
      [this.hash(code)],
    );
    const valid = row !== undefined && row.used_at === null && row.expires_at.getTime() > this.clock.now().getTime();
    return valid ? row.patient_key : undefined;
  }

  /**
   * Link the record a code opens to the citizen `principal`. A wrong, used or expired code gets the same answer,
   * so trying codes tells nothing about which exist. With `check`, a code whose person the check finds to be
   * someone else is refused (`MYDATA_LINK_MISMATCH`), left unused for its owner, and counted as a wrong try.
   */
  async redeem(
    principal: Principal,
    typed: string,
    check?: PersonCheck,
  ): Promise<LinkedRecord & { checked?: 'same' | 'not-possible' }> {
    const code = normaliseCode(typed);
    const now = this.clock.now();
    // 60 random bits per code already defeat guessing; the lock also stops a script trying codes from one account.
    const since = new Date(now.getTime() - ENROLMENT_LOCK_MINUTES * 60_000);
    const [recent] = await this.db.all<{ n: unknown }>(
      'SELECT COUNT(*) AS n FROM enrolment_failure WHERE citizen = $1 AND failed_at > $2',
      [principal.name, since],
    );
    if (Number(recent?.n ?? 0) >= ENROLMENT_MAX_FAILURES) {
      await this.audit.append({
        actor: principal.name,
        action: 'enrol',
        target: 'enrolment-code',
        outcome: 'denied',
        detail: { locked: true },
      });
      throw new HealthmeshError(
        'MYDATA_ENROL_LOCKED',
        `too many wrong enrolment codes: try again in ${ENROLMENT_LOCK_MINUTES} minutes, or ask the source for a new code`,
      );
    }
    const linked = await this.db.transaction(async (tx) => {
      const rows =
        code === undefined
          ? []
          : await tx.all<{ patient_key: string; source: string; expires_at: Date; used_at: Date | null }>(
              'SELECT patient_key, source, expires_at, used_at FROM enrolment_code WHERE code_hash = $1',
              [this.hash(code)],
            );
      const row = rows[0];
      if (row === undefined || row.used_at !== null || row.expires_at.getTime() <= now.getTime()) return undefined;
      const checked = check?.(row.patient_key);
      if (checked === 'different') return 'different' as const;
      await tx.run('UPDATE enrolment_code SET used_at = $1 WHERE code_hash = $2', [now, this.hash(code!)]);
      const already = await tx.all('SELECT 1 AS one FROM citizen_record WHERE citizen = $1 AND patient_key = $2', [
        principal.name,
        row.patient_key,
      ]);
      if (already.length === 0) {
        await tx.run('INSERT INTO citizen_record (citizen, patient_key, source, linked_at) VALUES ($1, $2, $3, $4)', [
          principal.name,
          row.patient_key,
          row.source,
          now,
        ]);
      }
      await this.audit.append(
        { actor: principal.name, action: 'enrol', target: `source/${row.source}`, outcome: 'success' },
        tx,
      );
      return {
        source: row.source,
        patientKey: row.patient_key,
        linkedAt: now,
        ...(checked !== undefined && { checked }),
      };
    });
    if (linked !== undefined && linked !== 'different') return linked;
    await this.db.transaction(async (tx) => {
      await tx.run('INSERT INTO enrolment_failure (citizen, failed_at) VALUES ($1, $2)', [principal.name, now]);
      await this.audit.append(
        {
          actor: principal.name,
          action: 'enrol',
          target: 'enrolment-code',
          outcome: 'denied',
          ...(linked === 'different' && { detail: { person: 'different' } }),
        },
        tx,
      );
    });
    if (linked === 'different') {
      throw new HealthmeshError(
        'MYDATA_LINK_MISMATCH',
        "this enrolment code is for someone else: the linkage tokens of its person and of the citizen's records differ",
      );
    }
    throw new HealthmeshError(
      'MYDATA_CODE_INVALID',
      'this enrolment code is not valid here: it may be mistyped, used already or expired; ask the source for a new one',
    );
  }

  /** Unlink every record linked to `citizen` (a peer's citizen withdrawing their link); how many were linked. */
  async unlinkAll(citizen: string, actor: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.all<{ n: unknown }>('SELECT COUNT(*) AS n FROM citizen_record WHERE citizen = $1', [
        citizen,
      ]);
      await tx.run('DELETE FROM citizen_record WHERE citizen = $1', [citizen]);
      await this.audit.append({ actor, action: 'unlink', target: 'citizen-records', outcome: 'success' }, tx);
      return Number(row?.n ?? 0);
    });
  }

  /** The records linked to a citizen, oldest first. */
  async records(citizen: string): Promise<LinkedRecord[]> {
    const rows = await this.db.all<{ source: string; patient_key: string; linked_at: Date }>(
      'SELECT source, patient_key, linked_at FROM citizen_record WHERE citizen = $1 ORDER BY linked_at, source',
      [citizen],
    );
    return rows.map((r) => ({ source: r.source, patientKey: r.patient_key, linkedAt: r.linked_at }));
  }

  private hash(code: string): string {
    return createHmac('sha256', this.secret).update(`enrolment-code\u0000${code}`).digest('hex');
  }
}

/** 60 random bits as 12 characters of the alphabet. */
function newCode(): string {
  const bytes = randomBytes(12);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}

function formatCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8)}`;
}

/** A code as a person may type it: any case, with spaces or hyphens, O for 0 and I or L for 1. */
function normaliseCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return /^[0-9A-HJKMNP-TV-Z]{12}$/.test(code) ? code : undefined;
}
