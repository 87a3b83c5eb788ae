import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startPostgres, type ThrowawayPostgres } from './postgres-server.js';
import { makeTemplates, templatesWanted } from './template-databases.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The coordinator's URL, as `postgresUrl` is the plain cluster's (test databases are made there). */
    citusWorkers: string[] | undefined;
    /** The PostgreSQL binaries the nodes run, for tests that start nodes of their own. */
    citusBin: string | undefined;
  }
}

/** The vendored Citus build (`../shared/vendor/README.md`). */
export const CITUS_ARCHIVE = join(import.meta.dirname, '../../../shared/vendor/citus-13.2.2-pg15-amd64.tar.gz');
/** The PostgreSQL 15 minor release the build was compiled against: it calls functions older minors lack. */
const CITUS_BUILT_FOR_MINOR = 20;

/**
 * Where Debian's PostgreSQL 15 lives: `/`, or `HEALTHMESH_CITUS_PG_ROOT`, a folder holding Debian's `postgresql-15`
 * package unpacked (`dpkg -x`), for a machine whose installed PostgreSQL is older than the build and may not be
 * upgraded under the clusters of other runs.
 */
function postgresRoot(): string {
  return process.env.HEALTHMESH_CITUS_PG_ROOT ?? '/';
}

/** Unpack the vendored build into that PostgreSQL 15 (as root, or through sudo) when it is not there yet. */
function installCitus(root: string): void {
  if (existsSync(join(root, 'usr/lib/postgresql/15/lib/citus.so'))) return;
  if (!existsSync(CITUS_ARCHIVE)) throw new Error(`no Citus in ${root} and no archive at ${CITUS_ARCHIVE}`);
  const tar = ['tar', '-xzf', CITUS_ARCHIVE, '-C', root];
  if (process.getuid?.() === 0) execFileSync(tar[0]!, tar.slice(1), { stdio: 'pipe' });
  else execFileSync('sudo', ['-n', ...tar], { stdio: 'pipe' });
}

/** The binaries of that PostgreSQL 15, refused with the fix when its minor release is older than the build's. */
function postgresBin(root: string): string {
  const bin = join(root, 'usr/lib/postgresql/15/bin');
  if (!existsSync(join(bin, 'postgres')))
    throw new Error(`the citus test project needs Debian's postgresql-15 in ${root}`);
  const version = execFileSync(join(bin, 'postgres'), ['--version']).toString();
  const minor = Number(/ 15\.(\d+)/.exec(version)?.[1] ?? 0);
  if (minor < CITUS_BUILT_FOR_MINOR) {
    throw new Error(
      `the vendored Citus needs PostgreSQL 15.${CITUS_BUILT_FOR_MINOR} or later, found ${version.trim()}: ` +
        'apt-get install postgresql-15, or unpack its package into a folder named by HEALTHMESH_CITUS_PG_ROOT',
    );
  }
  return bin;
}

/**
 * Settings of every node. Eight shards per distributed table (Citus's default is 32): test data is small and each
 * shard is a task per query. `wal_level=logical` lets the rebalancer move shards by logical replication.
 */
export const CITUS_NODE_SETTINGS = [
  "-c shared_preload_libraries='citus'",
  '-c citus.shard_count=8',
  '-c wal_level=logical',
  '-c max_wal_senders=20',
  '-c max_replication_slots=20',
  '-c shared_buffers=64MB',
];

let nodes: ThrowawayPostgres[] = [];

function stopAll(): void {
  for (const n of nodes.reverse()) {
    try {
      n.stop();
    } catch {
      // a node a test halted is already down; its directory is removed all the same
    }
  }
  nodes = [];
}

/**
 * Vitest global setup of the `citus` project: a coordinator and two workers on free loopback ports, each a throwaway
 * cluster (`postgres-server.ts`) with Citus preloaded, and the template databases test databases are copied from
 * (`template-databases.ts`), on every node. Everything stops at teardown, and at once if the start fails half-way.
 */
export async function setup(project: TestProject): Promise<void> {
  const root = postgresRoot();
  installCitus(root);
  const bin = postgresBin(root);
  try {
    for (const prefix of ['hm-pg-citus-c-', 'hm-pg-citus-w1-', 'hm-pg-citus-w2-']) {
      const node = await startPostgres({ settings: CITUS_NODE_SETTINGS, prefix, bin });
      if (!node) throw new Error('the citus test project needs PostgreSQL binaries (Debian postgresql-15)');
      nodes.push(node);
    }
  } catch (e) {
    stopAll();
    throw e;
  }
  const [coordinator, ...workers] = nodes as [ThrowawayPostgres, ...ThrowawayPostgres[]];
  try {
    project.provide(
      'postgresTemplates',
      templatesWanted()
        ? await makeTemplates(
            coordinator.url,
            workers.map((w) => w.url),
          )
        : undefined,
    );
  } catch (e) {
    stopAll();
    throw e;
  }
  project.provide('postgresUrl', coordinator.url);
  project.provide(
    'citusWorkers',
    workers.map((w) => w.url),
  );
  project.provide('citusBin', bin);
}

export async function teardown(): Promise<void> {
  stopAll();
}
