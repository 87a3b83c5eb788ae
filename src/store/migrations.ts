import { HealthmeshError } from '../core/index.js';
import type { Database } from './database.js';

/**
 * One schema step of one module. Modules own their tables (the store its resource tables, access its audit
 * log) and each numbers its own steps; `schema_migrations` records what has run.
 */
export interface Migration {
  module: string;
  version: number;
  name: string;
  /** SQL run in order; a function builds its statement for the engine (`Database.bodyType`). */
  statements: readonly (string | ((db: Database) => string))[];
  /** Indexes of the step's tables, kept by the engines that keep them (`Database.index`). */
  indexes?: readonly (readonly [table: string, columns: readonly string[]])[];
  /** Logical keys of the step's tables, kept by the engines that can afford them (`Database.key`). */
  keys?: readonly (readonly [table: string, columns: readonly string[]])[];
  /**
   * Where the step's new tables live on a cluster (`Database.distribute`): spread by a person column (`patient_key`),
   * or `null` for a small table copied to every node. Tables not named stay on the coordinator.
   */
  distribution?: readonly (readonly [table: string, column: string | null])[];
}

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  module VARCHAR NOT NULL,
  version INTEGER NOT NULL,
  name VARCHAR NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (module, version)
)`;

/**
 * Apply every migration not yet recorded, each in its own transaction, in (module order, version) order. Each
 * transaction holds the writer's lock (across processes on PostgreSQL) and checks again that its step has not
 * run: two processes opening one hub at once apply each step once.
 */
export async function migrate(db: Database, migrations: readonly Migration[], now: Date): Promise<Migration[]> {
  await db.transaction((tx) => tx.run(VERSION_TABLE));
  const done = new Set(
    (await db.all<{ module: string; version: number }>('SELECT module, version FROM schema_migrations')).map(
      (r) => `${r.module}:${r.version}`,
    ),
  );
  const applied: Migration[] = [];
  for (const m of migrations) {
    if (done.has(`${m.module}:${m.version}`)) continue;
    try {
      const ran = await db.transaction(async (tx) => {
        const [already] = await tx.all('SELECT 1 AS x FROM schema_migrations WHERE module = $1 AND version = $2', [
          m.module,
          m.version,
        ]);
        if (already) return false;
        for (const sql of m.statements) await tx.run(typeof sql === 'string' ? sql : sql(tx));
        for (const [table, column] of m.distribution ?? []) await tx.distribute(table, column);
        for (const [table, columns] of m.indexes ?? []) await tx.index(table, columns);
        for (const [table, columns] of m.keys ?? []) await tx.key(table, columns);
        await tx.run('INSERT INTO schema_migrations (module, version, name, applied_at) VALUES ($1, $2, $3, $4)', [
          m.module,
          m.version,
          m.name,
          now,
        ]);
        return true;
      });
      if (ran) applied.push(m);
    } catch (e) {
      throw new HealthmeshError(
        'STORE_MIGRATION_FAILED',
        `migration ${m.module} ${m.version} (${m.name}) failed: ${e instanceof Error ? e.message : String(e)}`,
        {},
        { cause: e },
      );
    }
  }
  return applied;
}
