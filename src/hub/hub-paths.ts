import { join, resolve } from 'node:path';

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
    linkageKey: join(d, 'secrets', 'linkage.json'),
    peers: join(d, 'peers.json'),
    rejectsDir: join(d, 'rejects'),
    exportsDir: join(d, 'exports'),
    stagingDir: join(d, 'staging'),
    log: join(d, 'logs', 'hub.log'),
    auditAnchor: join(d, 'audit.head'),
  };
}

/** The default data directory: `HEALTHMESH_DIR`, else `.healthmesh` under the working directory. */
export function defaultHubDir(): string {
  return process.env.HEALTHMESH_DIR ?? join(process.cwd(), '.healthmesh');
}
