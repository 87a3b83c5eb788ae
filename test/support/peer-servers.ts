import type { FastifyInstance } from 'fastify';
import type { Federation } from '../../src/federation/index.js';

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
