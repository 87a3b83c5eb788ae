import { createHash, createHmac } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Clock, Logger } from '../core/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { Database, Migration, Row } from '../store/index.js';
import type { AuditCheckpoint, CheckpointSigner } from './audit-checkpoints.js';
import {
  CheckpointFile,
  checkCheckpoints,
  GENESIS,
  lineHash,
  publicKeyOf,
  signCheckpoint,
} from './audit-checkpoints.js';
import type { AuditKey } from './audit-key.js';

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
  /** Entries in the log as far as it verified. */
  entries: number;
  /** Signed checkpoints in the checkpoint file (0 when the hub writes none). */
  checkpoints: number;
  /** The first entry recomputed: 1 for `verify`, later for `verifyRecent` (which trusts what it verified before). */
  from: number;
  /** Where verification failed: the entry and, when a checkpoint is involved, the checkpoint's number. */
  fault?: { seq: number; reason: string; checkpoint?: number };
}

/** What `checkpoint` did: the newest checkpoint, and whether this call wrote it. */
export interface CheckpointResult {
  checkpoint: AuditCheckpoint;
  written: boolean;
}

export interface AuditLogOptions {
  /** The hub's audit key; without one every entry is hashed unkeyed (hubs before the key). */
  key?: AuditKey;
  /** Where signed checkpoints go (outside the store); without it none are written. */
  checkpointsPath?: string;
  /** A checkpoint is written once this many entries follow the last one (default 1,000). */
  checkpointEvery?: number;
  /** Where a checkpoint that could not be written is reported. */
  logger?: Logger;
}

/** The action of the entry recording a checkpoint (its `detail.checkpoint` is the checkpoint's number). */
export const CHECKPOINT_ACTION = 'audit-checkpoint';

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

interface Point {
  seq: number;
  hash: string;
}

type Fault = NonNullable<AuditVerification['fault']>;

/**
 * Append-only audit log, chained and keyed: each entry's hash is an HMAC-SHA-256 under the hub's audit key (owner-only
 * in `secrets/`, never in the store) over the previous hash and the entry's content, so editing, deleting or
 * reordering an entry breaks the chain, and whoever can write the store cannot recompute it. Entries before the key
 * (`AuditKey.keyedFrom`) keep their unkeyed SHA-256; the first keyed entry seals them.
 *
 * Cutting entries off the end is caught two ways: the head (last seq and hash) is written to an anchor file beside
 * the store, and signed checkpoints (Ed25519, the hub's identity) are appended to a file outside the store every
 * `checkpointEvery` entries, at `serve`'s shutdown and on `healthmesh audit checkpoint`; each is recorded by an
 * entry in the chain, so a checkpoint line cut from the file is caught as well.
 */
export class AuditLog {
  private head: Point | undefined;
  private signer: CheckpointSigner | undefined;
  private readonly checkpoints: CheckpointFile | undefined;
  private readonly every: number;
  /** The last checkpoint's entry as this process knows it (read from the file when first needed). */
  private lastCheckpointSeq: number | undefined;
  /** How far this process last verified the chain: `verifyRecent` goes on from here. */
  private verified: Point | undefined;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly anchorPath: string,
    private readonly options: AuditLogOptions = {},
  ) {
    this.checkpoints = options.checkpointsPath === undefined ? undefined : new CheckpointFile(options.checkpointsPath);
    this.every = options.checkpointEvery ?? 1000;
  }

  /** Sign checkpoints with the hub's Ed25519 identity (handed over by the federation module, which owns it). */
  useSigner(signer: CheckpointSigner): void {
    this.signer = signer;
  }

  async append(entry: AuditEntry, tx?: Database): Promise<AuditRecord> {
    if (tx) {
      // Inside a caller's transaction the entry may still roll back: the anchor and the checkpoint wait for a later
      // append (an anchor that trails the log verifies; one past its end would be a false alarm).
      return this.insert(tx, entry);
    }
    const record = await this.db.transaction((t) => this.insert(t, entry));
    this.noteHead(record);
    await this.checkpointIfDue(record.seq);
    return record;
  }

  /**
   * Write a signed checkpoint of the chain's head, unless the newest checkpoint already covers it. The entries since
   * the last checkpoint are verified first (all of them when there is none): a broken chain is never signed
   * (`AUDIT_CHAIN_BROKEN`). Needs the hub's identity key (`FEDERATION_NO_IDENTITY` otherwise).
   */
  async checkpoint(): Promise<CheckpointResult> {
    const result = await this.writeCheckpoint(undefined);
    if (!result) throw new HealthmeshError('INTERNAL', 'no checkpoint was written');
    return result;
  }

  /**
   * Recompute the whole chain under the key, check every signed checkpoint (signature, numbering, links) and that the
   * chain still holds each one's entry and hash, and compare the chain's end with the anchor file.
   */
  async verify(): Promise<AuditVerification> {
    // The anchor and checkpoints are read first: entries appended while we verify only make the log longer.
    const anchor = this.readAnchor();
    const lines = this.checkpoints?.lines() ?? [];
    const checked = checkCheckpoints(lines, publicKeyOf(this.signer), this.keyedFrom());
    const bySeq = new Map(checked.checkpoints.map((c) => [c.seq, c]));
    const recorded: { n: number; seq: number }[] = [];
    let hashAtAnchor: string | undefined = anchor?.seq === 0 ? GENESIS : undefined;
    const scan = await this.scan(this.db, { seq: 0, hash: GENESIS }, (seq, hash, r) => {
      if (anchor && seq === anchor.seq) hashAtAnchor = hash;
      const c = bySeq.get(seq);
      if (c && c.hash !== hash)
        return { seq, checkpoint: c.n, reason: `entry ${seq} does not match checkpoint ${c.n}` };
      if (r.action === CHECKPOINT_ACTION) recorded.push({ n: checkpointNumber(r), seq });
      return undefined;
    });
    const result = (fault?: Fault): AuditVerification => ({
      ok: fault === undefined,
      entries: scan.last.seq,
      checkpoints: lines.length,
      from: 1,
      ...(fault && { fault }),
    });
    if (scan.fault) return result(scan.fault);
    if (checked.fault) return result(checked.fault);
    const fault = this.endFault(scan.last, checked.checkpoints, recorded, lines.length, anchor, hashAtAnchor);
    if (fault) return result(fault);
    this.verified = scan.last;
    return result();
  }

  /**
   * Verify what was appended since this process last verified the chain, or else since the newest checkpoint (whose
   * signature and link are checked): cheap enough for every request of the console's overview. Entries before that
   * point are trusted as verified; `verify` recomputes everything.
   */
  async verifyRecent(): Promise<AuditVerification> {
    const anchor = this.readAnchor();
    const lines = this.checkpoints?.lines() ?? [];
    let start = this.verified;
    let checkpointFault: Fault | undefined;
    let newest: AuditCheckpoint | undefined;
    if (lines.length > 0) {
      const checked = checkCheckpoints(lines, publicKeyOf(this.signer), this.keyedFrom(), lines.length - 1);
      checkpointFault = checked.fault;
      newest = checked.checkpoints[0];
      if (!start && newest) start = { seq: newest.seq, hash: newest.hash };
    }
    if (!start) return this.verify();
    const recorded: { n: number; seq: number }[] = [];
    // An anchor before the starting point was checked then; one at it or after it is compared on the way.
    const from = start;
    let hashAtAnchor: string | undefined =
      anchor && anchor.seq < from.seq ? anchor.hash : anchor?.seq === from.seq ? from.hash : undefined;
    const scan = await this.scan(this.db, from, (seq, hash, r) => {
      if (anchor && seq === anchor.seq) hashAtAnchor = hash;
      if (r.action === CHECKPOINT_ACTION) recorded.push({ n: checkpointNumber(r), seq });
      return undefined;
    });
    const fault =
      scan.fault ??
      checkpointFault ??
      this.endFault(scan.last, newest ? [newest] : [], recorded, lines.length, anchor, hashAtAnchor);
    if (!fault) this.verified = scan.last;
    return {
      ok: fault === undefined,
      entries: scan.last.seq,
      checkpoints: lines.length,
      from: start.seq + 1,
      ...(fault && { fault }),
    };
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

  private async insert(t: Database, entry: AuditEntry): Promise<AuditRecord> {
    const head = await this.currentHead(t);
    const seq = head.seq + 1;
    const at = this.clock.now();
    const detail = JSON.stringify(entry.detail ?? {});
    const hash = this.entryHash(head.hash, seq, at, entry, detail);
    await t.run(
      `INSERT INTO audit_log (seq, logged_at, actor, action, target, outcome, detail, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [seq, at, entry.actor, entry.action, entry.target, entry.outcome, detail, head.hash, hash],
    );
    return { ...entry, seq, at, prevHash: head.hash, hash };
  }

  private keyedFrom(): number {
    return this.options.key?.keyedFrom ?? Number.MAX_SAFE_INTEGER;
  }

  /** HMAC-SHA-256 under the audit key over the previous hash and the entry's content; unkeyed before the key. */
  private entryHash(prevHash: string, seq: number, at: Date, e: AuditEntry, detail: string): string {
    const content = JSON.stringify([prevHash, seq, at.toISOString(), e.actor, e.action, e.target, e.outcome, detail]);
    const key = this.options.key;
    return key && seq >= key.keyedFrom
      ? createHmac('sha256', key.secret).update(content).digest('hex')
      : createHash('sha256').update(content).digest('hex');
  }

  private rowHash(r: Row, prevHash: string): string {
    const entry: AuditEntry = {
      actor: String(r.actor),
      action: String(r.action),
      target: String(r.target),
      outcome: r.outcome as AuditEntry['outcome'],
    };
    return this.entryHash(prevHash, Number(r.seq), r.logged_at as Date, entry, String(r.detail));
  }

  /**
   * Walk the chain from `from` (an entry and the hash it must have; seq 0 is the start) to its end: the entry at
   * `from` is recomputed from its stored link, every later one from the one before. `visit` sees each later entry
   * and may report a fault.
   */
  private async scan(
    db: Database,
    from: Point,
    visit: (seq: number, hash: string, row: Row) => Fault | undefined,
  ): Promise<{ last: Point; fault?: Fault }> {
    if (from.seq > 0) {
      const [r] = await db.all('SELECT * FROM audit_log WHERE seq = $1', [from.seq]);
      const at = { seq: from.seq - 1, hash: '' };
      if (!r) return { last: at, fault: { seq: from.seq, reason: `entry ${from.seq} is missing` } };
      if (r.hash !== from.hash || this.rowHash(r, String(r.prev_hash)) !== from.hash)
        return {
          last: at,
          fault: { seq: from.seq, reason: `entry ${from.seq} no longer has the hash verified before` },
        };
    }
    let last = from;
    for await (const rows of db.stream('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq', [from.seq])) {
      for (const r of rows) {
        const seq = Number(r.seq);
        const expected = last.seq + 1;
        if (seq !== expected) return { last, fault: { seq: expected, reason: `entry ${expected} is missing` } };
        if (r.prev_hash !== last.hash) return { last, fault: { seq, reason: 'previous-hash link does not match' } };
        const hash = this.rowHash(r, last.hash);
        if (hash !== r.hash) return { last, fault: { seq, reason: 'entry content does not match its hash' } };
        const fault = visit(seq, hash, r);
        if (fault) return { last, fault };
        last = { seq, hash };
      }
    }
    return { last };
  }

  /** Faults at the end of a chain that verified: cut off below a checkpoint or the anchor, or a checkpoint line gone. */
  private endFault(
    last: Point,
    checkpoints: readonly AuditCheckpoint[],
    recorded: readonly { n: number; seq: number }[],
    lines: number,
    anchor: Point | undefined,
    hashAtAnchor: string | undefined,
  ): Fault | undefined {
    const beyond = checkpoints.find((c) => c.seq > last.seq);
    if (beyond) {
      return {
        seq: last.seq + 1,
        checkpoint: beyond.n,
        reason: `checkpoint ${beyond.n} covers entries up to ${beyond.seq}, but the log ends at ${last.seq}: entries were cut off its end`,
      };
    }
    const missing = recorded.find((r) => r.n > lines);
    if (missing) {
      return {
        seq: missing.seq,
        checkpoint: missing.n,
        reason: `entry ${missing.seq} records checkpoint ${missing.n}, which is missing from the checkpoint file`,
      };
    }
    // The anchor trails the log by at most the appends in flight; a log shorter than it was cut.
    if (anchor && (last.seq < anchor.seq || hashAtAnchor !== anchor.hash)) {
      return {
        seq: Math.min(anchor.seq, last.seq + 1),
        reason: `the log ends at ${last.seq} but the anchor records ${anchor.seq}`,
      };
    }
    return undefined;
  }

  private async checkpointIfDue(seq: number): Promise<void> {
    if (!this.signer || !this.checkpoints || !this.options.key) return;
    if (this.lastCheckpointSeq === undefined) {
      const line = this.checkpoints.lines().at(-1);
      this.lastCheckpointSeq = line ? Number((JSON.parse(line) as { seq?: unknown }).seq) || 0 : 0;
    }
    if (seq - this.lastCheckpointSeq < this.every) return;
    try {
      await this.writeCheckpoint(this.every);
    } catch (e) {
      // The entry itself is committed; a checkpoint that cannot be signed (a broken chain) is tried again after
      // another `every` entries, not at each append, and the hub's log says why.
      this.lastCheckpointSeq = seq;
      this.options.logger?.error(
        { code: isHealthmeshError(e) ? e.code : 'INTERNAL', reason: (e as Error).message.slice(0, 300) },
        'audit checkpoint not written',
      );
    }
  }

  /** Write a checkpoint under the store's writer lock (so processes sharing a hub append one line at a time). */
  private async writeCheckpoint(dueEvery: number | undefined): Promise<CheckpointResult | undefined> {
    const { signer, checkpoints } = this;
    const key = this.options.key;
    if (!signer || !checkpoints || !key) {
      throw new HealthmeshError(
        'FEDERATION_NO_IDENTITY',
        'this hub has no identity key to sign audit checkpoints with: run `healthmesh identity --generate`',
      );
    }
    const result = await this.db.transaction(async (t): Promise<CheckpointResult | undefined> => {
      const lines = checkpoints.lines();
      const checked = checkCheckpoints(lines, publicKeyOf(signer), key.keyedFrom, Math.max(0, lines.length - 1));
      if (checked.fault) {
        throw new HealthmeshError('AUDIT_CHAIN_BROKEN', `no checkpoint written: ${checked.fault.reason}`);
      }
      const last = checked.checkpoints[0];
      const [headRow] = await t.all('SELECT seq, hash, action FROM audit_log ORDER BY seq DESC LIMIT 1');
      const head: Point = headRow
        ? { seq: Number(headRow.seq), hash: String(headRow.hash) }
        : { seq: 0, hash: GENESIS };
      if (last) {
        // Another process may have written it while this one waited for the lock.
        if (dueEvery !== undefined && head.seq - last.seq < dueEvery) return undefined;
        if (head.seq === last.seq || (head.seq === last.seq + 1 && headRow?.action === CHECKPOINT_ACTION))
          return { checkpoint: last, written: false };
      }
      const scan = await this.scan(
        t,
        last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS },
        () => undefined,
      );
      if (scan.fault) {
        throw new HealthmeshError(
          'AUDIT_CHAIN_BROKEN',
          `no checkpoint written: entry ${scan.fault.seq}: ${scan.fault.reason}`,
        );
      }
      const n = lines.length + 1;
      const line = signCheckpoint(
        {
          n,
          seq: scan.last.seq,
          hash: scan.last.hash,
          count: scan.last.seq,
          at: this.clock.now().toISOString(),
          keyedFrom: key.keyedFrom,
          prev: lines.length > 0 ? lineHash(lines[lines.length - 1]!) : GENESIS,
        },
        signer,
      );
      checkpoints.append(line);
      const record = await this.insert(t, {
        actor: 'hub',
        action: CHECKPOINT_ACTION,
        target: `checkpoint:${n}`,
        outcome: 'success',
        detail: { checkpoint: n, seq: scan.last.seq },
      });
      this.noteHead(record);
      return { checkpoint: JSON.parse(line) as AuditCheckpoint, written: true };
    });
    if (result) this.lastCheckpointSeq = result.checkpoint.seq;
    return result;
  }

  private noteHead(record: AuditRecord): void {
    this.head = { seq: record.seq, hash: record.hash };
    this.writeAnchor(this.head);
  }

  private async currentHead(tx: Database): Promise<Point> {
    const rows = await tx.all<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
    );
    const row = rows[0];
    return row ? { seq: Number(row.seq), hash: row.hash } : { seq: 0, hash: GENESIS };
  }

  private writeAnchor(head: Point): void {
    const tmp = `${this.anchorPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(head), { mode: 0o600 });
    renameSync(tmp, this.anchorPath);
  }

  private readAnchor(): Point | undefined {
    try {
      return JSON.parse(readFileSync(this.anchorPath, 'utf8')) as Point;
    } catch {
      return undefined;
    }
  }
}

function checkpointNumber(r: Row): number {
  try {
    return Number((JSON.parse(String(r.detail)) as { checkpoint?: unknown }).checkpoint) || 0;
  } catch {
    return 0;
  }
}
