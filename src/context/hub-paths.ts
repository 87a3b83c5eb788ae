import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Where a hub keeps each thing under its data directory. */
export interface HubPaths {
  dir: string;
  config: string;
  store: string;
  secretsDir: string;
  secret: string;
  adminToken: string;
  /** The hub's Ed25519 identity (PKCS#8 PEM, owner-only): signs hub-to-hub requests and responses. */
  identityKey: string;
  /** The audit key (owner-only): keys the audit chain's HMACs; never in the store. */
  auditKey: string;
  /** Hub-specific linkage key issued by the linkage service (owner-only), when the hub has one. */
  linkageKey: string;
  /** The hubs this hub talks to: name, URL and public key of each. */
  peers: string;
  rejectsDir: string;
  exportsDir: string;
  /** Prepared rows of a bulk ingest waiting for the store (removed after each run). */
  stagingDir: string;
  log: string;
  auditAnchor: string;
  /** Audit records kept outside the store (owner-only directory). */
  auditDir: string;
  /** Signed audit checkpoints, one JSON line each, appended only. */
  auditCheckpoints: string;
  /** Files of a running `serve` process (owner-only directory). */
  runDir: string;
  /** The serving process's admin endpoint: a unix socket the CLI asks while the store is held (docs/architecture.md). */
  adminSocket: string;
}

export function hubPaths(dir: string): HubPaths {
  const d = resolve(dir);
  return {
    dir: d,
    config: join(d, 'hub.json'),
    store: join(d, 'store.duckdb'),
    secretsDir: join(d, 'secrets'),
    secret: join(d, 'secrets', 'hub.key'),
    adminToken: join(d, 'secrets', 'admin.token'),
    identityKey: join(d, 'secrets', 'identity.pem'),
    auditKey: join(d, 'secrets', 'audit.key'),
    linkageKey: join(d, 'secrets', 'linkage.json'),
    peers: join(d, 'peers.json'),
    rejectsDir: join(d, 'rejects'),
    exportsDir: join(d, 'exports'),
    stagingDir: join(d, 'staging'),
    log: join(d, 'logs', 'hub.log'),
    auditAnchor: join(d, 'audit.head'),
    auditDir: join(d, 'audit'),
    auditCheckpoints: join(d, 'audit', 'checkpoints.jsonl'),
    runDir: join(d, 'run'),
    adminSocket: join(d, 'run', 'admin.sock'),
  };
}

/** The default data directory: `HEALTHMESH_DIR`, else `.healthmesh` under the working directory. */
export function defaultHubDir(): string {
  return process.env.HEALTHMESH_DIR ?? join(process.cwd(), '.healthmesh');
}

/**
 * Make a hub's data directory owner-only: the directory and every directory of the hub's 0700, every file it
 * keeps (configuration, secrets, store and WAL, audit anchor, logs, peers) 0600. Run at `init` and at every open,
 * so a directory that existed before `init` (0755 from `mkdir`), a `secrets/` made by hand, or a hub made before
 * this rule are tightened too. Files the hub creates later are owner-only by their own modes and the umask
 * `openHub` sets. Only what exists is changed; files the hub does not know are left alone.
 */
export function restrictHubPermissions(paths: HubPaths): void {
  const dirs = [
    paths.dir,
    paths.secretsDir,
    dirname(paths.log),
    paths.rejectsDir,
    paths.exportsDir,
    paths.stagingDir,
    paths.runDir,
    paths.auditDir,
  ];
  for (const d of dirs) if (existsSync(d)) chmodSync(d, 0o700);
  const files = [
    paths.config,
    paths.store,
    `${paths.store}.wal`,
    paths.auditAnchor,
    paths.auditCheckpoints,
    paths.peers,
    paths.log,
    ...(existsSync(paths.secretsDir) ? readdirSync(paths.secretsDir).map((f) => join(paths.secretsDir, f)) : []),
  ];
  for (const f of files) if (existsSync(f) && statSync(f).isFile()) chmodSync(f, 0o600);
}
