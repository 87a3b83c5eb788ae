import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeAuditKey } from '../access/index.js';
import type { Accounts } from '../accounts/index.js';
import { accountsModule } from '../accounts/index.js';
import { cohortModule } from '../cohort/index.js';
import type { HubModule, HubPaths, HubServices, OpenOptions } from '../context/index.js';
import {
  accessModule,
  contextModule,
  hubPaths,
  openHubContext,
  privacyModule,
  readHubConfig,
  restrictHubPermissions,
  storeModule,
} from '../context/index.js';
import type { HubConfig } from '../core/index.js';
import { defaultConfig, HealthmeshError } from '../core/index.js';
import { federationModule, writeIdentityKey } from '../federation/index.js';
import type { IngestPipeline } from '../ingest/index.js';
import { ingestModule } from '../ingest/index.js';
import { modelsModule } from '../models/index.js';
import type { AppGrants, Enrolment, MyConsent } from '../mydata/index.js';
import { mydataModule } from '../mydata/index.js';
import type { OutputAirlock } from '../outputs/index.js';
import { outputsModule } from '../outputs/index.js';
import type { ProjectRegistry, ProjectUses } from '../projects/index.js';
import { projectsModule } from '../projects/index.js';
import type { Migration } from '../store/index.js';
import { migrate } from '../store/index.js';
import { surveillanceModule } from '../surveillance/index.js';
import type { SandboxPool } from '../validation/index.js';
import { validationModule } from '../validation/index.js';
import type { AnalyticTables } from '../views/index.js';
import { viewsModule } from '../views/index.js';

/**
 * Every module of a hub, in the order of the module table (docs/architecture.md): each is opened with what the ones
 * before it added, and registers its derived step (if any) in this order, so the after-commit pipeline runs the
 * analytic tables before the event index built from them.
 */
export const HUB_MODULES: readonly HubModule<never, object>[] = [
  contextModule,
  storeModule,
  accessModule,
  privacyModule,
  accountsModule,
  ingestModule,
  viewsModule,
  federationModule,
  cohortModule,
  modelsModule,
  validationModule,
  surveillanceModule,
  projectsModule,
  outputsModule,
  mydataModule,
];

/** Every module's schema steps, in module order: all of them run when a hub opens. */
export const ALL_MIGRATIONS: readonly Migration[] = HUB_MODULES.flatMap((m) => m.migrations);

/** The context every command and route receives: built once at start-up, passed in, never global. */
export interface Hub extends HubServices {
  /** People's and machines' accounts and sessions (accounts module). */
  accounts: Accounts;
  ingest: IngestPipeline;
  /** The analytic tables: listed and profiled by readers, refreshed only by the after-commit pipeline. */
  tables: AnalyticTables;
  /** Access requests, reviews and approved projects (docs/projects.md). */
  projects: ProjectRegistry;
  /** What each project ran at this hub, traced to the runs it left. */
  projectUses: ProjectUses;
  /** The airlock of project workspaces: what may leave them, checked by the gate's rules or a steward. */
  outputs: OutputAirlock;
  /** Citizens' enrolment codes and the records linked to their accounts. */
  enrolment: Enrolment;
  /** Citizens' own consent choices, stored as FHIR Consents. */
  myConsent: MyConsent;
  /** Apps citizens let read their records (`patient/*.read`). */
  appGrants: AppGrants;
  /** Submitted models' sandbox processes kept warm between runs and predictions (validation module). */
  sandboxes: SandboxPool;
  close(): Promise<void>;
}

function writeSecretFile(path: string, content: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, content, { mode: 0o600, flag: 'wx' });
}

/**
 * Create a hub in `dir`: configuration, a random 256-bit pseudonymisation secret, an Ed25519 identity, the audit key
 * and an admin token (all owner-only files), the store with its schema, and the audit log's first signed checkpoint.
 * Fails if a hub is already there.
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
    writeAuditKey(paths.auditKey);
    const hub = await openWith(paths, config, options);
    try {
      const token = await hub.tokens.create('admin', 'admin');
      writeSecretFile(paths.adminToken, `${token}\n`);
      await hub.audit.append({ actor: 'cli', action: 'init', target: `hub:${config.name}`, outcome: 'success' });
      await hub.audit.checkpoint();
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
      paths.auditKey,
      paths.auditCheckpoints,
      paths.adminToken,
      paths.store,
      `${paths.store}.wal`,
      paths.auditAnchor,
    ])
      rmSync(f, { force: true });
    throw e;
  }
}

/**
 * Open an initialised hub: its context, every module's migrations, every module in order; then the derived
 * tables are brought up to the store (a crash between a commit and its refresh, or new view definitions), so a
 * hub that serves starts current and no reader ever rebuilds.
 */
export async function openHub(dir: string, options: OpenOptions = {}): Promise<Hub> {
  const { paths, config } = readHubConfig(dir);
  return openWith(paths, config, options);
}

async function openWith(paths: HubPaths, config: HubConfig, options: OpenOptions): Promise<Hub> {
  const context = await openHubContext(paths, config, options);
  const hub: Record<string, unknown> = { ...context };
  const opened: (typeof HUB_MODULES)[number][] = [];
  const close = async () => {
    // Modules stop what they started (the validation module's warm sandboxes) in reverse order, then the store.
    for (const m of [...opened].reverse()) await m.close?.(hub);
    await context.db.close();
    context.logger.flush();
  };
  try {
    await migrate(context.db, ALL_MIGRATIONS, context.clock.now());
    // Each module sees the context and what the modules before it added: the registry's order is the module
    // table's, so a module's needs (typed on its registration) are always opened before it.
    for (const m of HUB_MODULES) {
      Object.assign(hub, await m.open(hub as never, options));
      opened.push(m);
    }
    const ready = Object.assign(hub, { close }) as unknown as Hub;
    await ready.derived.bringCurrent();
    return ready;
  } catch (e) {
    await close();
    throw e;
  }
}
