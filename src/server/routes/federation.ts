import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HealthmeshError } from '../../core/index.js';
import type { Federation, ReplyTo } from '../../federation/index.js';
import { SIGNATURE_HEADER } from '../../federation/index.js';

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

    app.get('/federation/identity', { config: { peerAuth: true } }, async (req) => {
      req.auditedByRoute = true;
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
        const claimed = signature ? peekClaims(signature) : undefined;
        if (claimed) req.federationReplyTo = claimed;
        const claims = await federation.receiver.verify({ method: req.method, path: req.url, body: text, signature });
        req.federationReplyTo = { peer: claims.iss, nonce: claims.nonce };
        let parsed: unknown;
        try {
          parsed = text === '' ? {} : JSON.parse(text);
        } catch (e) {
          throw new HealthmeshError('API_BAD_REQUEST', `request body is not valid JSON: ${(e as Error).message}`);
        }
        return { result: await federation.receiver.dispatch(claims, req.params.operation, parsed) };
      },
    );
  };
}

/** The claimed signer and nonce, unverified: only to address a signed refusal back to whoever asked. */
function peekClaims(jws: string): ReplyTo | undefined {
  try {
    const c = JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    return typeof c.iss === 'string' && typeof c.nonce === 'string' ? { peer: c.iss, nonce: c.nonce } : undefined;
  } catch {
    return undefined;
  }
}
