import { writeFileSync } from 'node:fs';
import { HealthmeshError } from '../core/index.js';
import type { Database } from './database.js';
import type { StageColumns } from './staged-rows.js';
import {
  STAGE_DELIMITER as D,
  DATE_STAGE,
  REFERENCE_STAGE,
  StageBuffer,
  type StagedTable,
  stageField,
  TOKEN_STAGE,
  VERSION_STAGE,
} from './staged-rows.js';
import type { Head, WriteKey, WriteResult } from './write-plan.js';
import { dropMovedHeads, headKey, planWrites } from './write-plan.js';

/** A record of a staged batch: `key` is its number in the staged files. */
export interface StagedRecord extends WriteKey {
  key: number;
}

/** Records whose bodies and search rows wait in staged files (see `StagedRowsWriter`). */
export interface StagedBatch {
  source: string;
  records: readonly StagedRecord[];
  /** The staged files of every chunk the records come from, per table; `longestLine` in UTF-16 code units. */
  files: { [T in StagedTable]: string[] } & { longestLine: number };
  /** Two scratch files of the batch's own: its keys (for the head lookup) and its decisions. */
  keysFile: string;
  decisionsFile: string;
}

const KEY_STAGE: StageColumns = [
  ['type', 'VARCHAR'],
  ['id', 'VARCHAR'],
];

/** Which staged record becomes which version; joined with the staged rows by `key`. */
const DECISION_STAGE: StageColumns = [
  ['key', 'BIGINT'],
  ['type', 'VARCHAR'],
  ['id', 'VARCHAR'],
  ['version', 'INTEGER'],
  ['hash', 'VARCHAR'],
  ['patient_key', 'VARCHAR'],
  ['indexed', 'INTEGER'],
  ['moved', 'INTEGER'],
];

/**
 * Write a staged batch inside `tx`: the same decisions as `ResourceStore.write` (planWrites), but every row is
 * inserted by the engine from the staged files and the batch's decisions, so no body or index row passes
 * through JavaScript here. Fails, and so rolls back, if the staged files miss a row the decisions need.
 */
export async function writeStagedBatch(tx: Database, batch: StagedBatch, now: Date): Promise<WriteResult[]> {
  const plan = planWrites(batch.records, await stagedHeads(tx, batch), now);
  if (plan.stored.length === 0) return plan.results;
  const decisions = new StageBuffer();
  for (const s of plan.stored) {
    const r = batch.records[s.index]!;
    decisions.write(
      `${r.key}${D}${stageField(r.type)}${D}${stageField(r.id)}${D}${s.version}${D}${stageField(r.hash)}${D}${stageField(r.patientKey)}${D}${s.indexed ? 1 : 0}${D}${s.moved ? 1 : 0}\n`,
    );
  }
  writeFileSync(batch.decisionsFile, decisions.bytes(), { mode: 0o600 });
  const files = batch.files;
  const d = tx.stagedRows([batch.decisionsFile], DECISION_STAGE, 0);
  const longest = 3 * files.longestLine; // UTF-16 code units to a bound on UTF-8 bytes
  const inserted = await tx.execute(
    `INSERT INTO resource_version (type, id, version, last_updated, patient_key, hash, source, content)
     SELECT d.type, d.id, d.version, $1, d.patient_key, d.hash, $2, v.content
       FROM ${d} d JOIN ${tx.stagedRows(files.versions, VERSION_STAGE, longest)} v ON v.key = d.key`,
    [now, batch.source],
  );
  if (inserted !== plan.stored.length) {
    throw new HealthmeshError(
      'STORE_STAGING_INCOMPLETE',
      `the staged rows held ${inserted} of the batch's ${plan.stored.length} resource versions`,
      { file: batch.decisionsFile },
    );
  }
  await dropMovedHeads(tx, plan.moved, `(SELECT type, id FROM ${d} WHERE moved = 1)`);
  await tx.run(
    `INSERT INTO resource_head (type, id, version, hash, last_updated, patient_key)
     SELECT d.type, d.id, d.version, d.hash, $1, d.patient_key FROM ${d} d WHERE d.indexed = 1`,
    [now],
  );
  const indexed = (table: StagedTable, stage: StageColumns) =>
    `FROM ${d} d JOIN ${tx.stagedRows(files[table], stage, 0)} s ON s.key = d.key WHERE d.indexed = 1`;
  if (files.tokens.length > 0) {
    await tx.run(
      `INSERT INTO search_token SELECT d.type, d.id, s.param, s.system, s.code ${indexed('tokens', TOKEN_STAGE)}`,
    );
  }
  if (files.dates.length > 0) {
    await tx.run(`INSERT INTO search_date SELECT d.type, d.id, s.param, s.low, s.high ${indexed('dates', DATE_STAGE)}`);
  }
  if (files.references.length > 0) {
    await tx.run(
      `INSERT INTO search_reference SELECT d.type, d.id, s.param, s.target ${indexed('references', REFERENCE_STAGE)}`,
    );
  }
  return plan.results;
}

/** Current heads of the batch's resources, looked up by a join with its staged keys (not a bound list). */
async function stagedHeads(tx: Database, batch: StagedBatch): Promise<Map<string, Head>> {
  const keys = new StageBuffer();
  for (const r of batch.records) keys.write(`${stageField(r.type)}${D}${stageField(r.id)}\n`);
  writeFileSync(batch.keysFile, keys.bytes(), { mode: 0o600 });
  const rows = await tx.all<{ type: string; id: string; version: number; hash: string }>(
    `SELECT h.type, h.id, h.version, h.hash FROM resource_head h
       JOIN (SELECT DISTINCT type, id FROM ${tx.stagedRows([batch.keysFile], KEY_STAGE, 0)}) k
         ON h.type = k.type AND h.id = k.id`,
  );
  const heads = new Map<string, Head>();
  for (const row of rows) heads.set(headKey(row.type, row.id), { version: row.version, hash: row.hash });
  return heads;
}
