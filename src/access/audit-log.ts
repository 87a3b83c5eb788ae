import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Clock } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';

/** One audited action: who did what to which target, when, and how it ended. Never holds resource content. */
export interface AuditEntry {
  actor: string;
  action: 'ingest' | 'read' | 'vread' | 'history' | 'search' | 'export' | 'transaction' | 'init' | 'auth' | string;
  target: string;
  outcome: 'success' | 'failure' | 'denied';
  detail?: Record<string, string | number | boolean>;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  at: Date;
  prevHash: string;
  hash: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** First sequence number where the chain breaks, with the reason. */
  fault?: { seq: number; reason: string };
}

const GENESIS = '0'.repeat(64);

export const auditMigrations: readonly Migration[] = [
  {
    module: 'access',
    version: 1,
    name: 'hash-chained audit log',
    statements: [
      `CREATE TABLE audit_log (
        seq BIGINT NOT NULL PRIMARY KEY,
        logged_at TIMESTAMPTZ NOT NULL,
        actor VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        outcome VARCHAR NOT NULL,
        detail VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL
      )`,
    ],
  },
];

function entryHash(prevHash: string, seq: number, at: Date, e: AuditEntry, detail: string): string {
  return createHash('sha256')
    .update(JSON.stringify([prevHash, seq, at.toISOString(), e.actor, e.action, e.target, e.outcome, detail]))
    .digest('hex');
}

/**
 * Append-only, hash-chained audit log: each entry's hash covers the previous hash, so editing or deleting any
 * entry breaks the chain from there on. The head (last seq and hash) is also written to an anchor file beside
 * the store, so cutting entries off the end is detected too.
 */
export class AuditLog {
  private head: { seq: number; hash: string } | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly anchorPath: string,
  ) {}

  async append(entry: AuditEntry, tx?: Database): Promise<AuditRecord> {
    const write = async (t: Database): Promise<AuditRecord> => {
      const head = await this.currentHead(t);
      const seq = head.seq + 1;
      const at = this.clock.now();
      const detail = JSON.stringify(entry.detail ?? {});
      const hash = entryHash(head.hash, seq, at, entry, detail);
      await t.run(
        `INSERT INTO audit_log (seq, logged_at, actor, action, target, outcome, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [seq, at, entry.actor, entry.action, entry.target, entry.outcome, detail, head.hash, hash],
      );
      return { ...entry, seq, at, prevHash: head.hash, hash };
    };
    const record = tx ? await write(tx) : await this.db.transaction(write);
    this.head = { seq: record.seq, hash: record.hash };
    this.writeAnchor(this.head);
    return record;
  }

  /** Recompute the whole chain and compare its end with the anchor file. */
  async verify(): Promise<AuditVerification> {
    // The anchor is read first: entries appended while we verify only make the log longer than it.
    const anchor = this.readAnchor();
    let prev = GENESIS;
    let expectedSeq = 1;
    let entries = 0;
    let hashAtAnchor: string | undefined = anchor?.seq === 0 ? GENESIS : undefined;
    for await (const rows of this.db.stream('SELECT * FROM audit_log ORDER BY seq')) {
      for (const r of rows) {
        const seq = Number(r.seq);
        if (seq !== expectedSeq) {
          return { ok: false, entries, fault: { seq: expectedSeq, reason: `entry ${expectedSeq} is missing` } };
        }
        if (r.prev_hash !== prev)
          return { ok: false, entries, fault: { seq, reason: 'previous-hash link does not match' } };
        const entry: AuditEntry = {
          actor: String(r.actor),
          action: String(r.action),
          target: String(r.target),
          outcome: r.outcome as AuditEntry['outcome'],
        };
        const hash = entryHash(prev, seq, r.logged_at as Date, entry, String(r.detail));
        if (hash !== r.hash)
          return { ok: false, entries, fault: { seq, reason: 'entry content does not match its hash' } };
        if (anchor && seq === anchor.seq) hashAtAnchor = hash;
        prev = hash;
        expectedSeq++;
        entries++;
      }
    }
    // The anchor trails the log by at most the appends in flight; a log shorter than it was cut.
    if (anchor && (entries < anchor.seq || hashAtAnchor !== anchor.hash)) {
      return {
        ok: false,
        entries,
        fault: {
          seq: Math.min(anchor.seq, entries + 1),
          reason: `the log ends at ${entries} but the anchor records ${anchor.seq}`,
        },
      };
    }
    return { ok: true, entries };
  }

  /** How many entries the log holds. */
  async count(): Promise<number> {
    const [r] = await this.db.all<{ n: unknown }>('SELECT COUNT(*) AS n FROM audit_log');
    return Number(r?.n ?? 0);
  }

  /** Most recent entries, newest first; only those of `actions` when given. */
  async recent(limit: number, actions?: readonly string[]): Promise<AuditRecord[]> {
    const rows =
      actions === undefined
        ? await this.db.all('SELECT * FROM audit_log ORDER BY seq DESC LIMIT $1', [limit])
        : await this.db.all(
            `SELECT * FROM audit_log WHERE action IN (${actions.map((_, i) => `$${i + 2}`).join(', ')})
             ORDER BY seq DESC LIMIT $1`,
            [limit, ...actions],
          );
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: r.logged_at as Date,
      actor: String(r.actor),
      action: String(r.action),
      target: String(r.target),
      outcome: r.outcome as AuditEntry['outcome'],
      detail: JSON.parse(String(r.detail)) as Record<string, string | number | boolean>,
      prevHash: String(r.prev_hash),
      hash: String(r.hash),
    }));
  }

  private async currentHead(tx: Database): Promise<{ seq: number; hash: string }> {
    const rows = await tx.all<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
    );
    const row = rows[0];
    return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS };
  }

  private writeAnchor(head: { seq: number; hash: string }): void {
    const tmp = `${this.anchorPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(head), { mode: 0o600 });
    renameSync(tmp, this.anchorPath);
  }

  private readAnchor(): { seq: number; hash: string } | undefined {
    try {
      return JSON.parse(readFileSync(this.anchorPath, 'utf8')) as { seq: number; hash: string };
    } catch {
      return undefined;
    }
  }
}
