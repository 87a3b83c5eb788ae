import { fixedClock } from '../../src/core/index.js';
import { migrate, PostgresDatabase, resourceStoreMigrations } from '../../src/store/index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /**
     * Template databases on the run's cluster (every node of a Citus one), made by the project's global setup:
     * `empty` (Citus: the extension in it and the nodes registered), `store` (that, plus the resource store's
     * migrations) and `migrated` (`empty` plus every module's migrations and the analytic tables, empty). Undefined
     * when `HEALTHMESH_TEST_TEMPLATES=off`: each test database is then made from scratch.
     */
    postgresTemplates: { empty: string; store: string; migrated: string } | undefined;
  }
}

export const TEMPLATE_EMPTY = 'hm_template_empty';
export const TEMPLATE_MIGRATED = 'hm_template_migrated';
export const TEMPLATE_STORE = 'hm_template_store';

/** Whether the run makes test databases from templates (`HEALTHMESH_TEST_TEMPLATES=off` turns it off). */
export function templatesWanted(): boolean {
  return process.env.HEALTHMESH_TEST_TEMPLATES !== 'off';
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Run `sql` on a node's `postgres` database, which has no Citus extension (so nothing is propagated from it). */
export async function onNode(nodeUrl: string, sql: string): Promise<void> {
  const db = await PostgresDatabase.open(nodeUrl, { maxConnections: 1 });
  try {
    await db.run(sql);
  } finally {
    await db.close();
  }
}

/** Run `sql` on every node's `postgres` database at once (each node is its own server); waits for all of them. */
export async function onNodes(nodeUrls: readonly string[], sql: string): Promise<void> {
  const outcomes = await Promise.allSettled(nodeUrls.map((url) => onNode(url, sql)));
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Citus's metadata is per database: the extension in the database on every node, then the coordinator told where
 * it and its workers listen (README of the vendored build).
 */
export async function registerCitusNodes(coordinatorUrl: string, workerUrls: readonly string[]): Promise<void> {
  for (const url of [coordinatorUrl, ...workerUrls]) {
    const db = await PostgresDatabase.open(url, { maxConnections: 1 });
    try {
      await db.run('CREATE EXTENSION IF NOT EXISTS citus');
    } finally {
      await db.close();
    }
  }
  const c = await PostgresDatabase.open(coordinatorUrl, { maxConnections: 1 });
  try {
    const at = new URL(coordinatorUrl);
    await c.run('SELECT citus_set_coordinator_host($1, $2)', [at.hostname, Number(at.port)]);
    for (const w of workerUrls) {
      const u = new URL(w);
      await c.run('SELECT citus_add_node($1, $2)', [u.hostname, Number(u.port)]);
    }
  } finally {
    await c.close();
  }
}

/**
 * Make the three templates on the cluster whose `postgres` databases are `coordinatorUrl` and `workerUrls` (none on
 * plain PostgreSQL). A test hub's database is then a file copy of `migrated` (`CREATE DATABASE … TEMPLATE`), not a
 * run of every migration: on Citus each distributed table is made shard by shard on the workers, seconds per hub.
 * The migrations still run here once per project (a failing one fails the setup), and every hub's open runs
 * `migrate` again, which finds them applied, as on any reopened hub. A copied Citus database is a whole cluster's
 * metadata and shards: the same database name on every node, the same node addresses, shards named by the same ids.
 */
export async function makeTemplates(
  coordinatorUrl: string,
  workerUrls: readonly string[],
): Promise<{ empty: string; store: string; migrated: string }> {
  const nodes = [coordinatorUrl, ...workerUrls];
  for (const node of nodes) await onNode(node, `CREATE DATABASE ${TEMPLATE_EMPTY}`);
  if (workerUrls.length > 0) {
    await registerCitusNodes(
      withDatabase(coordinatorUrl, TEMPLATE_EMPTY),
      workerUrls.map((w) => withDatabase(w, TEMPLATE_EMPTY)),
    );
  }
  await freeze(nodes, TEMPLATE_EMPTY);
  for (const name of [TEMPLATE_STORE, TEMPLATE_MIGRATED]) {
    for (const node of nodes) await onNode(node, `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_EMPTY}`);
  }
  // The store's own tests and the views' tests migrate the store on a database of their own, each test: on Citus
  // its migrations took 2.4 s a database (five distributed tables made shard by shard), so they run here once.
  const store = await PostgresDatabase.open(withDatabase(coordinatorUrl, TEMPLATE_STORE));
  try {
    await migrate(store, resourceStoreMigrations, new Date());
  } finally {
    await store.close();
  }
  await freeze(nodes, TEMPLATE_STORE);
  // Imported here, not at the top: test-engine.ts imports this file into every engine-looped test, and the store's
  // own tests need not load every module.
  const { ALL_MIGRATIONS } = await import('../../src/hub/index.js');
  const { AnalyticTables } = await import('../../src/views/index.js');
  const db = await PostgresDatabase.open(withDatabase(coordinatorUrl, TEMPLATE_MIGRATED));
  try {
    await migrate(db, ALL_MIGRATIONS, new Date());
    // The analytic tables as a refresh makes them over an empty store, under a `%region` no test hub has: a hub's
    // first refresh rebuilds them for its own region and keeps these empty tables of the same layout
    // (`AnalyticTables.recreate`), where making nine distributed tables cost a Citus hub's init about 4 s.
    await AnalyticTables.over(db, { region: 'template', clock: fixedClock(new Date()) }).refresh();
  } finally {
    await db.close();
  }
  await freeze(nodes, TEMPLATE_MIGRATED);
  return { empty: TEMPLATE_EMPTY, store: TEMPLATE_STORE, migrated: TEMPLATE_MIGRATED };
}

/**
 * Close a template to sessions, so `CREATE DATABASE … TEMPLATE` (which refuses a source anyone is connected to) can
 * copy it: no new connections, then the ones still open ended — on Citus the maintenance daemon each node starts per
 * database, and the coordinator's cached connections to the workers.
 */
async function freeze(nodes: readonly string[], name: string): Promise<void> {
  for (const node of nodes) {
    await onNode(node, `ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true`);
    const db = await PostgresDatabase.open(node, { maxConnections: 1 });
    try {
      for (let i = 0; ; i++) {
        const [left] = await db.all<{ n: number }>(
          'SELECT COUNT(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [name],
        );
        if (left?.n === 0) break;
        if (i === 100) throw new Error(`sessions on the template ${name} do not end`);
        await db.run('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
        await db.run('SELECT pg_sleep(0.05)');
      }
    } finally {
      await db.close();
    }
  }
}
