import type { FastifyInstance } from 'fastify';
import type { Federation, OperationRegistry } from '../../src/federation/index.js';
import { openFederation } from '../../src/federation/index.js';
import type { Hub } from '../../src/hub/index.js';
import type { ServerOptions } from '../../src/server/index.js';
import { buildServer } from '../../src/server/index.js';

/** Open a hub's federation on `operations` and serve it, with `options`, on a free loopback port. */
export async function serveFederated(
  hub: Hub,
  operations: OperationRegistry,
  options: Omit<ServerOptions, 'federation'> = {},
): Promise<{ app: FastifyInstance; federation: Federation }> {
  const federation = await openFederation(hub, operations);
  const app = await buildServer(hub, { ...options, federation });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, federation };
}

/**
 * Peer every listening hub with every other, both ways: a URL is known only once a server listens on its port,
 * so tests peer after starting them all.
 */
export function peerEachOther(servers: ReadonlyMap<string, { app: FastifyInstance; federation: Federation }>): void {
  for (const [name, s] of servers) {
    for (const [other, o] of servers) {
      if (other === name) continue;
      s.federation.peers.add({ name: other, url: o.app.listeningOrigin, publicKey: o.federation.identity.publicJwk });
    }
  }
}
