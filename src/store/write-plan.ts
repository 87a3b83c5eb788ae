import type { Database, SqlValue } from './database.js';

export type WriteStatus = 'created' | 'updated' | 'unchanged';

export interface WriteResult {
  status: WriteStatus;
  version: number;
}

/** What the store needs to know of a record to decide its fate: identity, content hash, patient. */
export interface WriteKey {
  type: string;
  id: string;
  hash: string;
  patientKey: string | null;
}

/** A resource's current version and content hash. */
export interface Head {
  version: number;
  hash: string;
}

/** What one batch writes, decided before anything is written. */
export interface WritePlan {
  /** One per record, in order. */
  results: WriteResult[];
  /**
   * The records that get a new version (index into the batch), in order. `indexed` marks the last version of each
   * resource in the batch: only its search rows are written, as the index follows current versions.
   */
  stored: { index: number; version: number; indexed: boolean; newHead: boolean }[];
  /** resource_head rows of resources new to the store (those of `stored` entries marked `newHead`). */
  newHeads: SqlValue[][];
  /** `[type, id, version, hash, last_updated, patient_key]` of heads that move to a new version. */
  changedHeads: SqlValue[][];
  /** Resources whose stored index rows must be dropped (they get the new version's rows). */
  reindexed: [string, string][];
}

export const headKey = (type: string, id: string): string => `${type}/${id}`;

/** Where one resource of a batch stands while the batch is planned. */
interface Planned {
  version: number;
  hash: string;
  /** It has a head in the store (from before this batch). */
  existed: boolean;
  /** Index into `stored` of its last new version in this batch, or -1. */
  last: number;
  row?: SqlValue[];
}

/**
 * Decide each record of a batch against the current heads (a map by `headKey`): a record whose hash equals its
 * resource's current one is `unchanged`; otherwise it becomes the next version. Records are taken in order, so
 * the same resource twice in one batch yields two versions only if the content differs. One map entry per
 * resource carries its state through the batch (a map per concern cost a bulk write ~0.2 s per 122,880 records).
 */
export function planWrites(records: readonly WriteKey[], heads: ReadonlyMap<string, Head>, now: Date): WritePlan {
  const results: WriteResult[] = new Array(records.length);
  const stored: WritePlan['stored'] = [];
  const reindexed: [string, string][] = [];
  const state = new Map<string, Planned>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const k = headKey(r.type, r.id);
    let p = state.get(k);
    if (p === undefined) {
      const head = heads.get(k);
      p = head
        ? { version: head.version, hash: head.hash, existed: true, last: -1 }
        : { version: 0, hash: '', existed: false, last: -1 };
      state.set(k, p);
    }
    if (p.version > 0 && p.hash === r.hash) {
      results[i] = { status: 'unchanged', version: p.version };
      continue;
    }
    results[i] = { status: p.version > 0 ? 'updated' : 'created', version: p.version + 1 };
    p.version++;
    p.hash = r.hash;
    p.row = [r.type, r.id, p.version, r.hash, now, r.patientKey];
    if (p.existed) reindexed.push([r.type, r.id]);
    if (p.last >= 0) stored[p.last]!.indexed = false;
    p.last = stored.length;
    stored.push({ index: i, version: p.version, indexed: true, newHead: false });
  }
  const newHeads: SqlValue[][] = [];
  const changedHeads: SqlValue[][] = [];
  for (const p of state.values()) {
    if (p.last < 0) continue;
    if (p.existed) changedHeads.push(p.row!);
    else {
      stored[p.last]!.newHead = true;
      newHeads.push(p.row!);
    }
  }
  return { results, stored, newHeads, changedHeads, reindexed };
}

const INDEX_TABLES = ['search_token', 'search_date', 'search_reference'] as const;

/**
 * Move the heads of resources that existed before the batch to their new version and drop their old index rows.
 * The heads of new resources are the caller's to insert (by appender or from staged rows).
 */
export async function updateHeads(tx: Database, plan: WritePlan): Promise<void> {
  for (const row of plan.changedHeads) {
    await tx.run(
      'UPDATE resource_head SET version = $3, hash = $4, last_updated = $5, patient_key = $6 WHERE type = $1 AND id = $2',
      row,
    );
  }
  for (const [type, id] of plan.reindexed) {
    for (const table of INDEX_TABLES) await tx.run(`DELETE FROM ${table} WHERE type = $1 AND id = $2`, [type, id]);
  }
}
