import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Federation, ReplyTo } from '../../federation/index.js';
import { claimedSender, SIGNATURE_HEADER } from '../../federation/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route authenticates peers by signature, not users by bearer token. */
    peerAuth?: boolean;
  }
  interface FastifyRequest {
    /** Whom a federation response answers (set once the request's claims were read). */
    federationReplyTo?: ReplyTo;
  }
}

/**
 * `/federation/...`: hub-to-hub operations. Peers authenticate by signature (docs/federation.md), so these
 * routes skip the bearer-token hook; the receiver audits each refusal and each operation itself, and every
 * response, refusals included, is signed here.
 */
export function federationRoutes(federation: Federation) {
  return async (app: FastifyInstance): Promise<void> => {
    // The signature covers the exact body bytes, so these routes take the body as text and parse it themselves.
    app.removeContentTypeParser(['application/json']);
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));

    app.addHook('onSend', async (req, reply, payload) => {
      const body = typeof payload === 'string' ? payload : payload === null || payload === undefined ? '' : undefined;
      if (body === undefined) return payload;
      const to = req.federationReplyTo ?? { peer: '', nonce: '' };
      reply.header(SIGNATURE_HEADER, await federation.receiver.signResponse(reply.statusCode, body, to));
      return body;
    });

    // Public information, so no credential; the app's own hook audits it like any request.
    app.get('/federation/identity', { config: { peerAuth: true } }, async () => {
      return {
        name: federation.identity.name,
        publicKey: federation.identity.publicJwk,
        thumbprint: federation.identity.thumbprint,
        operations: federation.operations.names(),
      };
    });

    app.post<{ Params: { operation: string } }>(
      '/federation/:operation',
      { config: { peerAuth: true } },
      async (req: FastifyRequest<{ Params: { operation: string } }>) => {
        req.auditedByRoute = true;
        const text = typeof req.body === 'string' ? req.body : '';
        const header = req.headers[SIGNATURE_HEADER];
        const signature = typeof header === 'string' ? header : undefined;
        const claimed = signature ? claimedSender(signature) : undefined;
        if (claimed) req.federationReplyTo = { peer: claimed.iss, nonce: claimed.nonce };
        const claims = await federation.receiver.verify({ method: req.method, path: req.url, body: text, signature });
        req.federationReplyTo = { peer: claims.iss, nonce: claims.nonce };
        return { result: await federation.receiver.dispatch(claims, req.params.operation, text) };
      },
    );
  };
}
