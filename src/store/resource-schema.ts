import type { Migration } from './migrations.js';

/**
 * The store's shard key of a patient key: the key itself, or `''` for a resource outside every patient's compartment
 * (Organization, Practitioner, Medication, ...). Citus refuses NULL in a distribution column, and patient keys are
 * never empty (they are keyed hashes), so `''` names no person.
 */
export function shardKey(patientKey: string | null): string {
  return patientKey ?? '';
}

/** `shardKey` in SQL over a patient-key column. */
export const shardKeySql = (patientKey: string): string => `COALESCE(${patientKey}, '')`;

/** The store's tables a cluster spreads by `shard_key` (migration 6). */
const SHARDED = ['resource_version', 'resource_head', 'search_token', 'search_date', 'search_reference'] as const;

/**
 * The resource store's tables. `resource_version` keeps every version (content without meta.versionId and
 * meta.lastUpdated, which come from the columns); `resource_head` holds the current version of each resource.
 * The search_* tables index current versions only; search dates are epoch milliseconds (BIGINT): portable, and
 * cheap to compare and to append.
 *
 * `resource_head` has no primary key since store version 2: one (type, id) per head is kept by the single writer,
 * which plans every batch against the heads it looked up under the writer's lock (`planWrites`). DuckDB rewrote
 * the key's whole index at every checkpoint, so a write's cost grew with the store: at 2.4M heads a 10,000-row
 * insert paid a 1.0 s checkpoint (0.16 s without the key), and 1M rows into 1.2M cost 2.8 + 1.7 s (0.8 + 0.2 s
 * without). It never served a read either: lookups with bound parameters scanned (34 ms at 3M rows with or
 * without it).
 */
export const resourceStoreMigrations: readonly Migration[] = [
  {
    module: 'store',
    version: 1,
    name: 'resource versions, heads and search indexes',
    statements: [
      // The body's type is the engine's (`Database.bodyType`): a store made before DuckDB compressed bodies keeps
      // them as they are, since a table's compression is fixed when it is made.
      (db) => `CREATE TABLE resource_version (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        last_updated TIMESTAMPTZ NOT NULL,
        patient_key VARCHAR,
        hash VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        content ${db.bodyType} NOT NULL
      )`,
      `CREATE TABLE resource_head (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        hash VARCHAR NOT NULL,
        last_updated TIMESTAMPTZ NOT NULL,
        patient_key VARCHAR,
        PRIMARY KEY (type, id)
      )`,
      `CREATE TABLE search_token (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        param VARCHAR NOT NULL,
        system VARCHAR,
        code VARCHAR NOT NULL
      )`,
      `CREATE TABLE search_date (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        param VARCHAR NOT NULL,
        low BIGINT NOT NULL,
        high BIGINT NOT NULL
      )`,
      `CREATE TABLE search_reference (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        param VARCHAR NOT NULL,
        target VARCHAR NOT NULL
      )`,
    ],
  },
  {
    module: 'store',
    version: 2,
    name: 'resource heads without a primary key index',
    // Portable (no ALTER ... DROP CONSTRAINT in DuckDB): copy into a table without the key and swap names.
    statements: [
      `CREATE TABLE resource_head_v2 (
        type VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        hash VARCHAR NOT NULL,
        last_updated TIMESTAMPTZ NOT NULL,
        patient_key VARCHAR
      )`,
      'INSERT INTO resource_head_v2 SELECT type, id, version, hash, last_updated, patient_key FROM resource_head',
      'DROP TABLE resource_head',
      'ALTER TABLE resource_head_v2 RENAME TO resource_head',
    ],
  },
  {
    module: 'store',
    version: 3,
    name: 'indexes where the engine keeps them',
    statements: [],
    indexes: [
      ['resource_head', ['type', 'id']],
      ['resource_head', ['patient_key']],
      ['resource_version', ['type', 'id', 'version']],
      ['search_token', ['type', 'param', 'code']],
      ['search_token', ['type', 'id']],
      ['search_date', ['type', 'param']],
      ['search_date', ['type', 'id']],
      ['search_reference', ['type', 'param', 'target']],
      ['search_reference', ['type', 'id']],
    ],
  },
  {
    module: 'store',
    version: 4,
    name: 'logical keys where the engine keeps them',
    statements: [],
    // One head per resource and one row per version. PostgreSQL keeps them as unique indexes (replacing the
    // plain ones of version 3); DuckDB keeps neither (see above and `Database.key`).
    keys: [
      ['resource_head', ['type', 'id']],
      ['resource_version', ['type', 'id', 'version']],
    ],
  },
  {
    module: 'store',
    version: 5,
    name: 'the write stamp as a counter',
    // The number of versions ever committed, kept by each write in its transaction (`ResourceStore.writeStamp`).
    statements: [
      'CREATE TABLE store_stamp (n BIGINT NOT NULL)',
      'INSERT INTO store_stamp SELECT COUNT(*) FROM resource_version',
    ],
  },
  {
    module: 'store',
    version: 6,
    name: 'a shard key on every resource row',
    // Every row of a resource carries its shard key (`shardKey`), so a Citus coordinator spreads the store by it,
    // co-located with the person-level tables distributed by `patient_key` (same values, same type): a resource's
    // versions, head and index rows sit in its patient's shard. The index tables had no patient column at all. One
    // engine-neutral schema: DuckDB and PostgreSQL without Citus keep the column and ignore the distribution.
    statements: [
      ...SHARDED.map((t) => `ALTER TABLE ${t} ADD COLUMN shard_key VARCHAR`),
      `UPDATE resource_version SET shard_key = ${shardKeySql('patient_key')}`,
      `UPDATE resource_head SET shard_key = ${shardKeySql('patient_key')}`,
      ...SHARDED.slice(2).map(
        (t) =>
          `UPDATE ${t} SET shard_key = COALESCE((SELECT h.shard_key FROM resource_head h WHERE h.type = ${t}.type AND h.id = ${t}.id), '')`,
      ),
    ],
    distribution: SHARDED.map((t) => [t, 'shard_key'] as const),
  },
];
