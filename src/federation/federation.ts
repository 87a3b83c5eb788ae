import { existsSync } from 'node:fs';
import type { HubModule, HubServices } from '../context/index.js';
import { FederationClient } from './federation-client.js';
import type { HubIdentity } from './hub-identity.js';
import { loadIdentity } from './hub-identity.js';
import { federationMigrations, NonceStore } from './nonce-store.js';
import { OperationRegistry } from './operation-registry.js';
import { PeerDirectory } from './peer-directory.js';
import { RequestReceiver } from './request-receiver.js';

/** A hub's federation transport: its identity, its peers, the receiving and the sending side. */
export interface Federation {
  identity: HubIdentity;
  peers: PeerDirectory;
  operations: OperationRegistry;
  receiver: RequestReceiver;
  client: FederationClient;
  /** Default per-peer timeout of a fan-out (hub config `federation.timeoutMs`). */
  timeoutMs: number;
}

/**
 * Federation's tables (the nonces of requests received) are made when the hub opens; the transport itself is
 * built by `openFederation` for a serving hub only, since it needs the operations of modules above this one.
 */
export const federationModule: HubModule<object, object> = {
  name: 'federation',
  migrations: federationMigrations,
  open: (hub) => {
    // The hub's Ed25519 identity also signs the audit log's checkpoints; this module owns the key, so it hands the
    // audit log a signer. A hub without one (made before federation) writes no checkpoints until it has one.
    if (existsSync(hub.paths.identityKey)) {
      const identity = loadIdentity(hub.config.name, hub.paths);
      hub.audit.useSigner({ privateKey: identity.privateKey, kid: identity.thumbprint });
    }
    return {};
  },
};

/**
 * Build the federation transport of an open hub: reads its identity and peers file. `hub.ping` is registered as a
 * built-in operation; other modules register theirs on `operations`.
 */
export async function openFederation(hub: HubServices, operations = new OperationRegistry()): Promise<Federation> {
  const identity = loadIdentity(hub.config.name, hub.paths);
  const peers = PeerDirectory.open(hub.paths.peers);
  const clockSkewMs = hub.config.federation.clockSkewSeconds * 1000;
  if (!operations.has('hub.ping')) {
    operations.register('hub.ping', 'peer', async ({ peer }) =>
      hub.gate.text({ hub: identity.name, to: peer, at: hub.clock.now().toISOString() }),
    );
  }
  const receiver = new RequestReceiver({
    identity,
    peers,
    nonces: new NonceStore(hub.db, hub.clock),
    operations,
    clock: hub.clock,
    audit: hub.audit,
    clockSkewMs,
  });
  return {
    identity,
    peers,
    operations,
    receiver,
    client: new FederationClient(identity, peers, hub.clock, clockSkewMs),
    timeoutMs: hub.config.federation.timeoutMs,
  };
}
