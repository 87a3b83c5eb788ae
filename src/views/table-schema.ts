import { createHash } from 'node:crypto';
import { HealthmeshError } from '../core/index.js';
import type { Migration, SqlValue } from '../store/index.js';
import type { ColumnInfo } from './view-compiler.js';

/**
 * The views module's own tables. `view_table` records what each analytic table was built from (the hash of its
 * ViewDefinition and bound constants: a changed view is rebuilt); `view_source` is the change log's other half:
 * which version of each resource a view last flattened. A refresh flattens exactly the current resources whose
 * version differs from it, which needs no clock and misses nothing however ingests interleave.
 */
export const viewMigrations: readonly Migration[] = [
  {
    module: 'views',
    version: 1,
    name: 'analytic table registry and flattened versions',
    statements: [
      `CREATE TABLE view_table (
        view VARCHAR NOT NULL PRIMARY KEY,
        table_name VARCHAR NOT NULL,
        definition_hash VARCHAR NOT NULL,
        refreshed_at TIMESTAMPTZ NOT NULL,
        row_count BIGINT NOT NULL
      )`,
      `CREATE TABLE view_source (
        view VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        version INTEGER NOT NULL
      )`,
    ],
  },
  {
    module: 'views',
    version: 2,
    name: 'indexes where the engine keeps them',
    statements: [],
    indexes: [['view_source', ['view', 'id']]],
  },
  {
    // Each row carries the shard key of the resource it records (its patient key, or '' outside every patient's
    // compartment), so a Citus cluster keeps it in the shard of that person's resources and analytic rows, and a
    // refresh joins it to the heads within each shard (changed-versions.ts). Made anew: the views engine version 3
    // (materialised-view.ts) rebuilds every table, which refills it; nothing of the old rows is needed.
    module: 'views',
    version: 3,
    name: 'flattened versions carry the shard key and are distributed by it',
    statements: [
      'DROP TABLE view_source',
      `CREATE TABLE view_source (
        view VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        shard_key VARCHAR NOT NULL
      )`,
    ],
    distribution: [['view_source', 'shard_key']],
    indexes: [['view_source', ['view', 'id']]],
  },
  {
    // What a table was made as (`tableLayout`): a rebuild finding the table empty and of the same layout keeps it
    // instead of making it anew (analytic-tables.ts). NULL for tables made before: those are made anew once.
    module: 'views',
    version: 4,
    name: 'the layout each analytic table was made with',
    statements: ['ALTER TABLE view_table ADD COLUMN layout_hash VARCHAR'],
  },
];

/** The SQL type of a column: a subset DuckDB and PostgreSQL both speak. Lists and complex values are JSON text. */
export function sqlType(c: ColumnInfo): 'BOOLEAN' | 'BIGINT' | 'DOUBLE' | 'VARCHAR' {
  if (c.collection) return 'VARCHAR';
  switch (c.type) {
    case 'boolean':
      return 'BOOLEAN';
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
    case 'integer64':
      return 'BIGINT';
    case 'decimal':
      return 'DOUBLE';
    default:
      return 'VARCHAR';
  }
}

/** Internal column holding the resource a row came from, so a changed resource's rows can be replaced. */
export const SOURCE_COLUMN = '_resource_id';

/**
 * Internal column of every analytic table with a `patient_key`: the patient key, or `''` for a row without a patient
 * subject (an Observation of a Device or with no subject). Citus refuses NULL in a distribution column, and a patient
 * key is never empty (a keyed hash), so `''` names no person; as the resource store's `shard_key`, it hashes a
 * person's rows to the shard of their events, resources and consent decisions (docs/citus.md).
 */
export const SHARD_COLUMN = '_shard_key';

/** Where a table's `_shard_key` comes from: the index of its `patient_key` column, or -1 for a table without one. */
export function shardSource(columns: readonly ColumnInfo[]): number {
  return columns.findIndex((c) => c.name === 'patient_key');
}

/**
 * The column a Citus cluster distributes a view's table by (`Database.distribute`), or undefined where it stays on
 * the coordinator. The Patient view's `id` is the patient key (`resource-keys.ts`) and never NULL; a view with a
 * `patient_key` is distributed by its `_shard_key`, which is that key or `''`. Joins from these tables to the
 * person-level tables name the distribution column (`_shard_key` or `id`), which Citus runs within each shard; a view
 * with neither stays local.
 */
export function distributionColumn(resource: string, columns: readonly ColumnInfo[]): string | undefined {
  if (resource === 'Patient' && columns.some((c) => c.name === 'id')) return 'id';
  return shardSource(columns) >= 0 ? SHARD_COLUMN : undefined;
}

/** The indexes a view's table gets when it is made: a changed resource's rows go by its id; features look a person's rows up. */
export function tableIndexes(columns: readonly ColumnInfo[]): string[][] {
  return [[SOURCE_COLUMN], ...(columns.some((c) => c.name === 'patient_key') ? [['patient_key']] : [])];
}

/**
 * A hash of everything that making a view's table decides: its columns and types, its placement on a cluster and its
 * indexes. Two definitions with the same layout (another `%region`, description or path) make the same table.
 */
export function tableLayout(table: string, resource: string, columns: readonly ColumnInfo[]): string {
  const made = [createTableSql(table, columns), distributionColumn(resource, columns) ?? null, tableIndexes(columns)];
  return createHash('sha256').update(JSON.stringify(made)).digest('hex').slice(0, 32);
}

export function createTableSql(table: string, columns: readonly ColumnInfo[]): string {
  // DOUBLE alone is DuckDB's; both engines speak DOUBLE PRECISION.
  const cols = columns.map((c) => `"${c.name}" ${sqlType(c) === 'DOUBLE' ? 'DOUBLE PRECISION' : sqlType(c)}`);
  const internal = [`"${SOURCE_COLUMN}" VARCHAR NOT NULL`];
  if (shardSource(columns) >= 0) internal.push(`"${SHARD_COLUMN}" VARCHAR NOT NULL`);
  return `CREATE TABLE "${table}" (${[...cols, ...internal].join(', ')})`;
}

/** Convert one row's values to what the table's SQL types take; a value of the wrong type is an error. */
export function toSqlRow(
  columns: readonly ColumnInfo[],
  types: readonly string[],
  values: readonly unknown[],
): SqlValue[] {
  const out: SqlValue[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      out[i] = null;
      continue;
    }
    switch (types[i]) {
      case 'BOOLEAN':
        if (typeof v !== 'boolean') throw wrongType(columns[i]!, v);
        out[i] = v;
        break;
      case 'BIGINT':
        if (typeof v !== 'number' || !Number.isInteger(v)) throw wrongType(columns[i]!, v);
        out[i] = v;
        break;
      case 'DOUBLE':
        if (typeof v !== 'number') throw wrongType(columns[i]!, v);
        out[i] = v;
        break;
      default:
        out[i] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
  }
  return out;
}

function wrongType(c: ColumnInfo, v: unknown): HealthmeshError {
  return new HealthmeshError(
    'VIEW_EVALUATION',
    `column '${c.name}' is declared ${c.type} but its path gave ${JSON.stringify(v).slice(0, 80)}`,
    { path: c.name },
  );
}
