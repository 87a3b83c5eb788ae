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

/**
 * Decide each record of a batch against the current heads (a map by `headKey`, updated in place): a record whose
 * hash equals its resource's current one is `unchanged`; otherwise it becomes the next version. Records are
 * taken in order, so the same resource twice in one batch yields two versions only if the content differs.
 */
export function planWrites(records: readonly WriteKey[], heads: Map<string, Head>, now: Date): WritePlan {
  const results: WriteResult[] = [];
  const stored: WritePlan['stored'] = [];
  const newHeads = new Map<string, SqlValue[]>();
  const changedHeads = new Map<string, SqlValue[]>();
  const reindexed: [string, string][] = [];
  const lastStored = new Map<string, number>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const k = headKey(r.type, r.id);
    const head = heads.get(k);
    if (head && head.hash === r.hash) {
      results.push({ status: 'unchanged', version: head.version });
      continue;
    }
    const version = head ? head.version + 1 : 1;
    const existedBefore = head !== undefined && !newHeads.has(k);
    heads.set(k, { version, hash: r.hash });
    const headRow: SqlValue[] = [r.type, r.id, version, r.hash, now, r.patientKey];
    if (existedBefore || changedHeads.has(k)) {
      changedHeads.set(k, headRow);
      reindexed.push([r.type, r.id]);
    } else {
      newHeads.set(k, headRow);
    }
    const earlier = lastStored.get(k);
    if (earlier !== undefined) stored[earlier]!.indexed = false;
    lastStored.set(k, stored.length);
    stored.push({ index: i, version, indexed: true, newHead: false });
    results.push({ status: head ? 'updated' : 'created', version });
  }
  for (const [k, last] of lastStored) if (newHeads.has(k)) stored[last]!.newHead = true;
  return { results, stored, newHeads: [...newHeads.values()], changedHeads: [...changedHeads.values()], reindexed };
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
