import type { HubConfig } from '../core/index.js';
import type { Database } from './database.js';
import { DuckDbDatabase } from './duckdb/duckdb-database.js';
import { PostgresDatabase } from './postgres/postgres-database.js';

/** The engine a hub's `store` section names: its DuckDB file at `duckdbPath`, or its PostgreSQL database. */
export async function openDatabase(store: HubConfig['store'], duckdbPath: string): Promise<Database> {
  if (store.engine === 'postgres') return PostgresDatabase.open(store.url!);
  return DuckDbDatabase.open(duckdbPath, { memoryLimit: store.memoryLimit });
}
