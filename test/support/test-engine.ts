import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { HubConfig } from '../../src/core/index.js';
import type { Database } from '../../src/store/index.js';
import { DuckDbDatabase, PostgresDatabase } from '../../src/store/index.js';
import { onNode, onNodes, registerCitusNodes, withDatabase } from './template-databases.js';

export { registerCitusNodes } from './template-databases.js';

export type TestEngine = 'duckdb' | 'postgres';

/**
 * The engine this run's engine-looped tests use: vitest's `postgres` project (vitest.config.ts) runs them again with
 * HEALTHMESH_TEST_ENGINE=postgres against the throwaway cluster of `postgres-server.ts`, and its `citus` project runs
 * them (a short list with HEALTHMESH_CITUS_TESTS=short) a third time with HEALTHMESH_TEST_ENGINE=citus on the
 * PostgreSQL engine against a Citus coordinator and two workers (`citus-setup.ts`).
 */
export const TEST_ENGINE: TestEngine = process.env.HEALTHMESH_TEST_ENGINE?.match(/^(postgres|citus)$/)
  ? 'postgres'
  : 'duckdb';

/** Whether this run's PostgreSQL is a Citus cluster (the `citus` project). */
export const TEST_ON_CITUS = process.env.HEALTHMESH_TEST_ENGINE === 'citus';

function clusterUrl(): string {
  const url = inject('postgresUrl');
  if (!url) throw new Error('the postgres test project needs PostgreSQL binaries (Debian postgresql-15); none found');
  return url;
}

/**
 * A fresh PostgreSQL database on the test cluster (on every node of a Citus one); `drop` removes it (closing its
 * sessions first). `migrated` copies the project's migrated template (`template-databases.ts`), as a test hub's
 * store is: the hub's open then finds every migration applied. Otherwise the database is empty (Citus: with the
 * extension in it and the nodes registered), for tests of the store and its migrations themselves.
 */
export async function createTestDatabase(
  options: { migrated?: boolean; store?: boolean } = {},
): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = clusterUrl();
  const name = `hm_${randomBytes(6).toString('hex')}`;
  const workers = TEST_ON_CITUS ? (inject('citusWorkers') ?? []) : [];
  const nodes = [admin, ...workers];
  const templates = inject('postgresTemplates');
  const template =
    templates && (options.migrated ? templates.migrated : options.store ? templates.store : templates.empty);
  // Every node copies its own files, so the nodes copy at once. FILE_COPY copies the template's files whole where
  // PostgreSQL 15's default (WAL_LOG) writes every block of them to the WAL: a template holds hundreds of small
  // relations (on a Citus worker, every shard of every table), and FILE_COPY took 1.3-2.6 s against 1.8-4.1 s for
  // the three nodes' copies (one at a time, under load). Its checkpoint costs little with fsync off.
  await onNodes(nodes, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template} STRATEGY FILE_COPY` : ''}`);
  if (TEST_ON_CITUS && !template)
    await registerCitusNodes(
      withDatabase(admin, name),
      workers.map((w) => withDatabase(w, name)),
    );
  return {
    url: withDatabase(admin, name),
    // The coordinator's first: until its database is gone, its maintenance daemon may connect to the workers' copy
    // again, and a worker's DROP … WITH (FORCE) then fails on that new session (seen with all three at once).
    drop: async () => {
      await dropWithRetry(admin, name);
      await Promise.all(workers.map((worker) => dropWithRetry(worker, name)));
    },
  };
}

/** The `store` section of a test hub on `engine`, and how to remove what it made. */
export async function testStore(
  engine: TestEngine = TEST_ENGINE,
): Promise<{ store: HubConfig['store']; drop: () => Promise<void> }> {
  if (engine === 'duckdb') return { store: { engine: 'duckdb', memoryLimit: '1GB' }, drop: async () => undefined };
  const { url, drop } = await createTestDatabase({ migrated: true });
  return { store: { engine: 'postgres', memoryLimit: '1GB', url }, drop };
}

/**
 * An empty database on `engine` (DuckDB in memory), closed and dropped by `close`. `store`: on PostgreSQL, a copy
 * of the template holding the resource store's migrations (the test's own `migrate` then finds them applied); on
 * DuckDB an empty database still, where migrating costs milliseconds.
 */
export async function openTestDatabase(
  engine: TestEngine = TEST_ENGINE,
  options: { store?: boolean } = {},
): Promise<Database> {
  if (engine === 'duckdb') return DuckDbDatabase.open(':memory:');
  const { url, drop } = await createTestDatabase(options);
  const db = await PostgresDatabase.open(url);
  const close = db.close.bind(db);
  return Object.assign(db, {
    close: async () => {
      await close();
      await drop();
    },
  });
}

/** `{ store }` for `initHub`'s config: the run's engine, a fresh database on PostgreSQL (the cluster goes at the end). */
export async function testHubConfig(): Promise<{ store: HubConfig['store'] }> {
  return { store: (await testStore()).store };
}

/**
 * Point a copied hub directory at a store of its own: a copied DuckDB file is one already, but on PostgreSQL the
 * copy's `hub.json` still names the original's database. The new database holds the migrated schema and no rows.
 */
export async function separateCopiedStore(dir: string): Promise<void> {
  if (TEST_ENGINE === 'duckdb') return;
  const file = join(dir, 'hub.json');
  const config = JSON.parse(readFileSync(file, 'utf8')) as HubConfig;
  config.store = (await testStore()).store;
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

/**
 * `DROP DATABASE … WITH (FORCE)` ends the database's sessions, but on a Citus node the maintenance daemon may open a
 * new one between that and the drop (SQLSTATE 55006, "being accessed by other users"); a few short retries settle it.
 */
async function dropWithRetry(node: string, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await onNode(node, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      return;
    } catch (e) {
      if (attempt >= 5 || !/being accessed by other users/.test(String((e as Error).message))) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  }
}
