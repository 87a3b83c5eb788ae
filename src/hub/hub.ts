import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { destination } from 'pino';
import { AuditLog, auditMigrations, TokenRegistry, tokenMigrations } from '../access/index.js';
import type { Clock, HubConfig, Logger } from '../core/index.js';
import { createLogger, defaultConfig, HealthmeshError, parseConfig, systemClock } from '../core/index.js';
import { ResourceValidator } from '../fhir/index.js';
import { IngestPipeline, PreparePool, ResourcePreparer } from '../ingest/index.js';
import type { LinkageKey } from '../privacy/index.js';
import {
  ConsentDecisions,
  ConsentPolicy,
  consentDecisionMigrations,
  LinkageTokeniser,
  Pseudonymiser,
  parseLinkageKey,
  personLinkageMigrations,
  ReleaseGate,
  ReleaseLog,
  ResourceDeidentifier,
  releaseLogMigrations,
} from '../privacy/index.js';
import type { Database, Migration } from '../store/index.js';
import { migrate, openDatabase, ResourceStore, resourceStoreMigrations } from '../store/index.js';
import type { HubPaths } from './hub-paths.js';
import { hubPaths, restrictHubPermissions } from './hub-paths.js';

/** Every module's schema steps, in dependency order. */
export const ALL_MIGRATIONS: readonly Migration[] = [
  ...resourceStoreMigrations,
  ...auditMigrations,
  ...tokenMigrations,
  ...releaseLogMigrations,
  ...personLinkageMigrations,
  ...consentDecisionMigrations,
];

/** The context every command and route receives: built once at start-up, passed in, never global. */
export interface Hub {
  config: HubConfig;
  paths: HubPaths;
  clock: Clock;
  logger: Logger;
  db: Database;
  store: ResourceStore;
  audit: AuditLog;
  tokens: TokenRegistry;
  /** Keyed pseudonyms of this hub: for sources that bypass the FHIR pipeline (an OMOP CDM's person ids). */
  pseudonymiser: Pseudonymiser;
  ingest: IngestPipeline;
  /** The key the linkage service issued to this hub, if any: ingest then derives a linkage token per person. */
  linkageKey: LinkageKey | undefined;
  /** What this hub has released, for differencing protection; refusals go to the audit log. */
  releases: ReleaseLog;
  /** The one way a statistic leaves the hub: to a peer, or to a principal without row-level rights. */
  gate: ReleaseGate;
  /**
   * Consent at every use (docs/consent.md): the hub's purposes and, per purpose as of a time, the SQL condition that
   * leaves out people whose consent refuses it; kept current with the store's Consents.
   */
  consent: ConsentDecisions;
  close(): Promise<void>;
}

export interface OpenOptions {
  clock?: Clock;
  logger?: Logger;
  /** Worker threads for large NDJSON files: `false` keeps ingest on the calling thread. */
  parallelIngest?: false | { workers?: number; minFileBytes?: number };
}

function writeSecretFile(path: string, content: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
}

/** A fresh Ed25519 identity for hub-to-hub signatures (the federation module reads it). */
export function writeIdentityKey(paths: HubPaths): void {
  const { privateKey } = generateKeyPairSync('ed25519');
  writeSecretFile(paths.identityKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
}

/**
 * Create a hub in `dir`: configuration, a random 256-bit pseudonymisation secret, an Ed25519 identity and an
 * admin token (all owner-only files), and the store with its schema. Fails if a hub is already there.
 */
export async function initHub(
  dir: string,
  options: OpenOptions & { name?: string; config?: Partial<HubConfig> } = {},
): Promise<{ paths: HubPaths; adminToken: string }> {
  const paths = hubPaths(dir);
  if (existsSync(paths.config)) {
    throw new HealthmeshError('HUB_ALREADY_INITIALISED', `a hub already exists in ${paths.dir}`, {
      file: paths.config,
    });
  }
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const config = { ...defaultConfig(options.name ?? 'hub'), ...options.config };
  try {
    // `mkdir` leaves a directory that already existed (and a `secrets/` in it) as it was: tighten before any secret.
    mkdirSync(paths.secretsDir, { recursive: true, mode: 0o700 });
    restrictHubPermissions(paths);
    writeSecretFile(paths.secret, randomBytes(32));
    writeIdentityKey(paths);
    const hub = await openWith(paths, config, options);
    try {
      const token = await hub.tokens.create('admin', 'admin');
      writeSecretFile(paths.adminToken, `${token}\n`);
      await hub.audit.append({ actor: 'cli', action: 'init', target: `hub:${config.name}`, outcome: 'success' });
    } finally {
      await hub.close();
    }
    // Written last: a hub.json means init completed.
    writeFileSync(paths.config, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    restrictHubPermissions(paths);
    return { paths, adminToken: readFileSync(paths.adminToken, 'utf8').trim() };
  } catch (e) {
    // Remove what this init made, so a retry starts clean (only reached when no hub.json existed).
    for (const f of [
      paths.secret,
      paths.identityKey,
      paths.adminToken,
      paths.store,
      `${paths.store}.wal`,
      paths.auditAnchor,
    ])
      rmSync(f, { force: true });
    throw e;
  }
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

/** Open an initialised hub: read its config and secret, open and migrate its store. */
export async function openHub(dir: string, options: OpenOptions = {}): Promise<Hub> {
  const { paths, config } = readHubConfig(dir);
  return openWith(paths, config, options);
}

async function openWith(paths: HubPaths, config: HubConfig, options: OpenOptions): Promise<Hub> {
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
  // A hub made before these rules, or a store created under another umask, is tightened at every open.
  restrictHubPermissions(paths);
  await migrate(db, ALL_MIGRATIONS, clock.now());
  const secret = readFileSync(paths.secret);
  const store = new ResourceStore(db);
  const audit = new AuditLog(db, clock, paths.auditAnchor);
  const tokens = new TokenRegistry(db, clock);
  const pseudonymiser = new Pseudonymiser(secret);
  const linkageKey = existsSync(paths.linkageKey)
    ? parseLinkageKey(readFileSync(paths.linkageKey, 'utf8'), paths.linkageKey, config.name)
    : undefined;
  const preparer = new ResourcePreparer(
    pseudonymiser,
    new ResourceDeidentifier({ birthDatePrecision: config.privacy.birthDatePrecision }),
    linkageKey ? new LinkageTokeniser(linkageKey) : undefined,
  );
  const ingest = new IngestPipeline({
    ...(options.parallelIngest !== false && {
      parallel: {
        workers: options.parallelIngest?.workers ?? PreparePool.defaultSize(),
        minFileBytes: options.parallelIngest?.minFileBytes ?? 16 * 1024 * 1024,
        data: {
          secret: new Uint8Array(secret),
          birthDatePrecision: config.privacy.birthDatePrecision,
          ...(linkageKey && { linkageKey }),
        },
        stagingDir: paths.stagingDir,
      },
    }),
    store,
    validator: ResourceValidator.r4(),
    preparer,
    clock,
    logger,
    pathLabel: (path) => pseudonymiser.pathLabel(path),
    audit: async (e) => {
      await audit.append(e);
    },
  });
  const releases = new ReleaseLog(db, clock, config.privacy.disclosure, (e) => audit.append(e));
  const consent = new ConsentDecisions(db, new ConsentPolicy(config.privacy.consent ?? { purposes: {} }), clock);
  return {
    config,
    paths,
    clock,
    logger,
    db,
    store,
    audit,
    tokens,
    pseudonymiser,
    ingest,
    linkageKey,
    releases,
    gate: new ReleaseGate(config.privacy.disclosure),
    consent,
    async close() {
      await db.close();
      logger.flush();
    },
  };
}
