import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { destination } from 'pino';
import type { AuditKey } from '../access/index.js';
import { AuditLog, openAuditKey } from '../access/index.js';
import type { Clock, HubConfig, Logger } from '../core/index.js';
import { createLogger, HealthmeshError, parseConfig, systemClock } from '../core/index.js';
import type { LinkageKey } from '../privacy/index.js';
import { parseLinkageKey } from '../privacy/index.js';
import type { Database, Migration } from '../store/index.js';
import { openDatabase, ResourceStore } from '../store/index.js';
import { DerivedData } from './derived-data.js';
import type { HubPaths } from './hub-paths.js';
import { hubPaths, restrictHubPermissions } from './hub-paths.js';

/** The hub's secrets, read once at open. */
export interface HubKeys {
  /** The 256-bit pseudonymisation secret (patient keys, stored ids, path labels). */
  secret: Buffer;
  /** The key the linkage service issued to this hub, if any: ingest then derives a linkage token per person. */
  linkageKey: LinkageKey | undefined;
  /** The key of the audit chain's HMACs and the first entry it keys (made on first open for an older hub). */
  audit: AuditKey;
}

/**
 * What every module of a hub is opened with: built once, passed in, never global. The Ed25519 identity is not here:
 * federation owns it (federation/hub-identity.ts) and hands the audit log a signer for its checkpoints.
 */
export interface HubContext {
  config: HubConfig;
  paths: HubPaths;
  clock: Clock;
  logger: Logger;
  db: Database;
  audit: AuditLog;
  keys: HubKeys;
  /** The after-commit pipeline: modules register their derived tables, writes run it, readers check it. */
  derived: DerivedData;
}

export interface OpenOptions {
  clock?: Clock;
  logger?: Logger;
  /** Worker threads for large NDJSON files: `false` keeps ingest on the calling thread. */
  parallelIngest?: false | { workers?: number; minFileBytes?: number };
}

/**
 * One module as a hub opens it: its schema steps (all run when the hub opens, before any module is opened) and
 * how to open it from the context and what the modules before it added (`Needs`). `open` returns the services the
 * module adds to the hub; a module that keeps a derived table registers its step on `hub.derived` here.
 */
export interface HubModule<Needs extends object, Adds extends object> {
  readonly name: string;
  readonly migrations: readonly Migration[];
  open(hub: HubContext & Needs, options: OpenOptions): Adds | Promise<Adds>;
  /** Stop what `open` started (processes, timers) when the hub closes, before its store closes. */
  close?(added: Adds): void | Promise<void>;
}

/** An initialised hub's checked configuration, read without opening its store (which a serving hub holds). */
export function readHubConfig(dir: string): { paths: HubPaths; config: HubConfig } {
  const paths = hubPaths(dir);
  if (!existsSync(paths.config)) {
    throw new HealthmeshError('HUB_NOT_INITIALISED', `no hub in ${paths.dir}: run \`healthmesh init\` first`, {
      file: paths.config,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(paths.config, 'utf8'));
  } catch (e) {
    throw new HealthmeshError('CONFIG_INVALID', `${paths.config}: ${(e as Error).message}`, { file: paths.config });
  }
  return { paths, config: parseConfig(parsed, paths.config) };
}

/** Open a hub's context: logger, store connection, secrets, audit log. No schema step runs here. */
export async function openHubContext(paths: HubPaths, config: HubConfig, options: OpenOptions): Promise<HubContext> {
  const clock = options.clock ?? systemClock;
  // Row-level data, token hashes and logs are for the hub's owner alone. Our own files carry explicit modes, but
  // DuckDB creates its store, WAL and spill files itself and takes no mode: the process umask is the one lever
  // that reaches them, so a process that opens a hub creates owner-only files from then on (every file such a
  // process writes is hub data or derived from it). Worker threads cannot set it; they create no files of DuckDB.
  if (isMainThread) process.umask(0o077);
  mkdirSync(dirname(paths.log), { recursive: true, mode: 0o700 });
  const logger =
    options.logger ??
    createLogger({ destination: destination({ dest: paths.log, sync: false, mkdir: true, mode: 0o600 }) });
  const db = await openDatabase(config.store, paths.store);
  try {
    // A hub made before these rules, or a store created under another umask, is tightened at every open.
    restrictHubPermissions(paths);
    const keys: HubKeys = {
      secret: readFileSync(paths.secret),
      linkageKey: existsSync(paths.linkageKey)
        ? parseLinkageKey(readFileSync(paths.linkageKey, 'utf8'), paths.linkageKey, config.name)
        : undefined,
      audit: await openAuditKey(db, paths.auditKey),
    };
    const store = new ResourceStore(db);
    return {
      config,
      paths,
      clock,
      logger,
      db,
      audit: new AuditLog(db, clock, paths.auditAnchor, {
        key: keys.audit,
        checkpointsPath: paths.auditCheckpoints,
        checkpointEvery: config.audit.checkpointEvery,
        logger,
      }),
      keys,
      derived: new DerivedData(db, clock, logger, () => store.writeStamp()),
    };
  } catch (e) {
    await db.close();
    throw e;
  }
}
