import { HealthmeshError } from '../core/index.js';
import type { Database } from './database.js';
import { shardKeySql } from './resource-schema.js';
import type { StageColumns } from './staged-rows.js';
import {
  DATE_STAGE,
  RECORD_STAGE,
  REFERENCE_STAGE,
  type StagedTable,
  TOKEN_STAGE,
  VERSION_STAGE,
} from './staged-rows.js';
import type { WriteStatus } from './write-plan.js';
import { addToWriteStamp, dropMovedHeads } from './write-plan.js';

/**
 * Records whose identity, bodies and search rows wait in staged files (see `StagedRowsWriter`): those with keys
 * `fromKey`..`toKey` (there are `count` of them; the files may hold records outside the range, which belong to
 * the batches before or after).
 */
export interface StagedBatch {
  source: string;
  fromKey: number;
  toKey: number;
  count: number;
  /** The staged files of every chunk the records come from, per table; `longestLine` in UTF-16 code units. */
  files: { [T in StagedTable]: string[] } & { longestLine: number };
}

/** How many records of each type a staged batch created, updated or left unchanged. */
export type StagedWriteCounts = { type: string; status: WriteStatus; count: number }[];

/** The batch's decisions: one row per record, dropped before the transaction ends. */
const DECISIONS = 'staged_decision';

/**
 * Write a staged batch inside `tx` with the same decisions as `ResourceStore.write` (`planWrites`), taken by the
 * engine: a record whose hash equals its resource's current one (the head's, or the previous record's in the
 * batch) is unchanged, any other is the next version; the last new version of a resource is its head and keeps
 * index rows. Bodies, decisions and index rows never pass through JavaScript: planning 122,880 records on the
 * main thread cost ~0.4 s with the workers idle behind it. Fails, and so rolls back, if the staged files miss a
 * record or a body.
 */
export async function writeStagedBatch(tx: Database, batch: StagedBatch, now: Date): Promise<StagedWriteCounts> {
  const files = batch.files;
  const records = await tx.staged(files.records, RECORD_STAGE, 0);
  // `changed`: a new version. `last`: the key of the resource's last new version in the batch (its new head). The
  // heads are joined to the batch's distinct keys (a local table): Citus moves one side as an intermediate result.
  await tx.run(
    `CREATE TEMP TABLE ${DECISIONS} AS
     WITH r AS (
       SELECT key, type, id, hash, patient_key FROM ${records} WHERE key BETWEEN ${batch.fromKey} AND ${batch.toKey}
     ), h AS (
       SELECT h.type, h.id, h.version, h.hash FROM resource_head h
         JOIN (SELECT DISTINCT type, id FROM r) k ON k.type = h.type AND k.id = h.id
     ), ordered AS (
       SELECT r.*, h.version AS head_version,
              COALESCE(LAG(r.hash) OVER (PARTITION BY r.type, r.id ORDER BY r.key), h.hash) AS current_hash
         FROM r LEFT JOIN h ON h.type = r.type AND h.id = r.id
     ), decided AS (
       SELECT *, CASE WHEN current_hash IS NULL OR current_hash <> hash THEN 1 ELSE 0 END AS changed FROM ordered
     )
     SELECT key, type, id, hash, patient_key, ${shardKeySql('patient_key')} AS shard_key, changed,
            CASE WHEN head_version IS NULL THEN 0 ELSE 1 END AS existed,
            COALESCE(head_version, 0) + SUM(changed) OVER (PARTITION BY type, id ORDER BY key ROWS UNBOUNDED PRECEDING) AS version,
            MAX(CASE WHEN changed = 1 THEN key END) OVER (PARTITION BY type, id) AS last
       FROM decided`,
  );
  let counts: StagedWriteCounts;
  try {
    counts = await writeDecided(tx, batch, now);
  } catch (e) {
    // The transaction rolls back (and the table with it); a failing DROP in an aborted transaction must not hide e.
    await tx.run(`DROP TABLE ${DECISIONS}`).catch(() => undefined);
    throw e;
  }
  await tx.run(`DROP TABLE ${DECISIONS}`);
  return counts;
}

async function writeDecided(tx: Database, batch: StagedBatch, now: Date): Promise<StagedWriteCounts> {
  const files = batch.files;
  const counts = await tx.all<{ type: string; status: WriteStatus; count: number | bigint }>(
    `SELECT type, CASE WHEN changed = 0 THEN 'unchanged' WHEN version = 1 THEN 'created' ELSE 'updated' END AS status,
            COUNT(*) AS count
       FROM ${DECISIONS} GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const result = counts.map((c) => ({ type: c.type, status: c.status, count: Number(c.count) }));
  const decided = result.reduce((n, c) => n + c.count, 0);
  if (decided !== batch.count) throw incomplete(batch, `records ${decided} of the batch's ${batch.count}`);
  const stored = result.reduce((n, c) => n + (c.status === 'unchanged' ? 0 : c.count), 0);
  if (stored === 0) return result;
  const longest = 3 * files.longestLine; // UTF-16 code units to a bound on UTF-8 bytes
  const versions = await tx.staged(files.versions, VERSION_STAGE, longest);
  const inserted = await tx.execute(
    `INSERT INTO resource_version (type, id, version, last_updated, patient_key, hash, source, content, shard_key)
     SELECT d.type, d.id, d.version, $1, d.patient_key, d.hash, $2, v.content, d.shard_key
       FROM ${DECISIONS} d JOIN ${versions} v ON v.key = d.key
      WHERE d.changed = 1`,
    [now, batch.source],
  );
  if (inserted !== stored) throw incomplete(batch, `bodies of ${inserted} of the batch's ${stored} new versions`);
  await addToWriteStamp(tx, inserted);
  const [moved] = await tx.all<{ n: number | bigint }>(
    `SELECT COUNT(*) AS n FROM ${DECISIONS} WHERE key = last AND existed = 1`,
  );
  if (Number(moved?.n ?? 0) > 0) {
    await dropMovedHeads(tx, { relation: `(SELECT type, id FROM ${DECISIONS} WHERE key = last AND existed = 1)` });
  }
  await tx.run(
    `INSERT INTO resource_head (type, id, version, hash, last_updated, patient_key, shard_key)
     SELECT type, id, version, hash, $1, patient_key, shard_key FROM ${DECISIONS} WHERE key = last`,
    [now],
  );
  const indexed = async (table: StagedTable, stage: StageColumns) =>
    `FROM ${DECISIONS} d JOIN ${await tx.staged(files[table], stage, 0)} s ON s.key = d.key WHERE d.key = d.last`;
  if (files.tokens.length > 0) {
    await tx.run(
      `INSERT INTO search_token SELECT d.type, d.id, s.param, s.system, s.code, d.shard_key ${await indexed('tokens', TOKEN_STAGE)}`,
    );
  }
  if (files.dates.length > 0) {
    await tx.run(
      `INSERT INTO search_date SELECT d.type, d.id, s.param, s.low, s.high, d.shard_key ${await indexed('dates', DATE_STAGE)}`,
    );
  }
  if (files.references.length > 0) {
    await tx.run(
      `INSERT INTO search_reference SELECT d.type, d.id, s.param, s.target, d.shard_key ${await indexed('references', REFERENCE_STAGE)}`,
    );
  }
  return result;
}

function incomplete(batch: StagedBatch, what: string): HealthmeshError {
  return new HealthmeshError('STORE_STAGING_INCOMPLETE', `the staged files held the ${what}`, {
    ...(batch.files.records[0] !== undefined && { file: batch.files.records[0] }),
  });
}
