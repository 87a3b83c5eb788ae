import type { Database, SqlValue } from './database.js';
import { shardKey } from './resource-schema.js';

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
   * resource in the batch: only its search rows are written, as the index follows current versions; it is also
   * the resource's new head. `moved` marks an indexed record whose resource had a head before the batch.
   */
  stored: { index: number; version: number; indexed: boolean; moved: boolean }[];
  /** `[type, id, version, hash, last_updated, patient_key, shard_key]`: the new head of every resource the batch writes. */
  heads: SqlValue[][];
  /** `Type/id` of resources whose head and index rows from before the batch are replaced (one entry each). */
  moved: string[];
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
    p.row = [r.type, r.id, p.version, r.hash, now, r.patientKey, shardKey(r.patientKey)];
    if (p.last >= 0) stored[p.last]!.indexed = false;
    p.last = stored.length;
    stored.push({ index: i, version: p.version, indexed: true, moved: false });
  }
  const headRows: SqlValue[][] = [];
  const moved: string[] = [];
  for (const [k, p] of state) {
    if (p.last < 0) continue;
    headRows.push(p.row!);
    if (p.existed) {
      stored[p.last]!.moved = true;
      moved.push(k);
    }
  }
  return { results, stored, heads: headRows, moved };
}

const INDEX_TABLES = ['search_token', 'search_date', 'search_reference'] as const;

/**
 * Drop the heads and index rows of resources that existed before the batch (their new ones are inserted after).
 * One statement per table for the whole batch: a statement per resource scanned the table each time (re-ingesting
 * 19,898 changed resources took 70 s, against 2.5 s to create them). The moved resources are given as a bound
 * list of `Type/id`, or as SQL for a relation with their `type` and `id`.
 */
export async function dropMovedHeads(
  tx: Database,
  moved: { list: readonly string[] } | { relation: string },
): Promise<void> {
  if ('list' in moved && moved.list.length === 0) return;
  for (const table of ['resource_head', ...INDEX_TABLES]) {
    if ('relation' in moved) {
      await tx.run(
        `DELETE FROM ${table} WHERE EXISTS (SELECT 1 FROM ${moved.relation} m WHERE m.type = ${table}.type AND m.id = ${table}.id)`,
      );
    } else {
      await tx.run(`DELETE FROM ${table} WHERE ${tx.inList(`type || '/' || id`, '$1')}`, [moved.list]);
    }
  }
}

/** Add a write's new versions to the store's write stamp, in the write's transaction. */
export async function addToWriteStamp(tx: Database, versions: number): Promise<void> {
  if (versions > 0) await tx.run('UPDATE store_stamp SET n = n + $1', [versions]);
}
