import { createHash } from 'node:crypto';
import { HealthmeshError } from '../core/index.js';
import type { SqlValue } from '../store/index.js';
import type { BuiltInView } from './builtin-views.js';
import { sqlType, toSqlRow } from './table-schema.js';
import type { PathEngine } from './view-compiler.js';
import { CompiledView } from './view-compiler.js';

/**
 * Bump when flattening semantics or the tables' layout change, so every table is rebuilt once. 2: tables with a
 * `patient_key` carry `_shard_key` (table-schema.ts), and a Citus cluster distributes them by it when it makes them.
 * 3: `view_source` carries the shard key and was made anew by views migration 3, so every table is refilled with it.
 */
const ENGINE_VERSION = 3;

/** A built-in view compiled for one hub: its table, the SQL type of each column and the hash of what built it. */
export interface MaterialisedView {
  name: string;
  table: string;
  view: CompiledView;
  hash: string;
  sqlTypes: ReturnType<typeof sqlType>[];
}

/** The analytic table a view is materialised as (any view: built-in or given to `AnalyticTables`). */
export function tableOfView(name: string): string {
  return `view_${name}`;
}

/** Compile `b` with `%region` bound; the main thread and the flatten workers build their views the same way. */
export function materialise(b: BuiltInView, region: string, engine: PathEngine | undefined): MaterialisedView {
  const view = CompiledView.compile(b.definition, { constants: { region }, ...(engine && { engine }) });
  const hash = createHash('sha256')
    .update(JSON.stringify([ENGINE_VERSION, b.definition, region, engine ?? 'compiled']))
    .digest('hex');
  return { name: b.name, table: tableOfView(b.name), view, hash, sqlTypes: view.columns.map(sqlType) };
}

/** An evaluation error, named with the view and the resource it failed on. */
export function located(err: unknown, view: string, type: string, id: string): unknown {
  if (err instanceof HealthmeshError) {
    return new HealthmeshError(err.code, `view ${view}, ${type}/${id}: ${err.message}`, err.location, { cause: err });
  }
  return err;
}

let lastMs = Number.NaN;
let lastIso = '';

/**
 * The `meta` a view sees: stored content leaves versionId/lastUpdated to the store's columns (resource-store.ts).
 * The parsed body is the caller's own, so its meta is completed in place; resources written by one ingest share
 * one timestamp, so the last one's ISO text is kept.
 */
export function withVersionMeta(resource: Record<string, unknown>, version: number, lastUpdatedMs: number): void {
  if (lastUpdatedMs !== lastMs) {
    lastMs = lastUpdatedMs;
    lastIso = new Date(lastUpdatedMs).toISOString();
  }
  const meta = resource.meta;
  if (meta !== null && typeof meta === 'object' && !Array.isArray(meta)) {
    const m = meta as Record<string, unknown>;
    m.versionId = String(version);
    m.lastUpdated = lastIso;
  } else {
    resource.meta = { versionId: String(version), lastUpdated: lastIso };
  }
}

/**
 * Resources given in memory as the rows `b`'s analytic table would hold for them (`%region` bound as the hub binds
 * it; columns in the view's order, values as the table's SQL types take them), for SQL over records the store does
 * not hold (a citizen's records at a peer, read for one answer).
 */
export function rowsOfResources(
  b: BuiltInView,
  region: string,
  resources: readonly Record<string, unknown>[],
): { columns: { name: string; sqlType: string }[]; rows: SqlValue[][] } {
  const m = materialise(b, region, undefined);
  const rows: SqlValue[][] = [];
  for (const r of resources) {
    for (const values of m.view.rows(r)) rows.push(toSqlRow(m.view.columns, m.sqlTypes, values));
  }
  // DOUBLE alone is DuckDB's; both engines speak DOUBLE PRECISION (as createTableSql writes it).
  const columns = m.view.columns.map((c, i) => ({
    name: c.name,
    sqlType: m.sqlTypes[i] === 'DOUBLE' ? 'DOUBLE PRECISION' : m.sqlTypes[i]!,
  }));
  return { columns, rows };
}
