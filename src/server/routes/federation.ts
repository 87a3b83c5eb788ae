import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HealthmeshError, isHealthmeshError } from '../../core/index.js';
import type { Federation, ReplyTo, RequestClaims } from '../../federation/index.js';
import { claimedSender, SIGNATURE_HEADER } from '../../federation/index.js';
import { FederationParams } from '../api-schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Whom a federation response answers (set once the request's claims were read). */
    federationReplyTo?: ReplyTo;
    /** The claims of a signature header that passed every check but the body's hash. */
    federationClaims?: RequestClaims;
  }
}

/**
 * `/federation/...`: hub-to-hub operations. Peers authenticate by signature (docs/federation.md), so these
 * routes skip the bearer-token hook; the receiver audits each refusal and each operation itself, and every
 * response, refusals included, is signed here. The signature header is checked as the request arrives, before its
 * body is read, and the body is read up to `maxBodyBytes`: an unsigned caller cannot make the hub buffer anything.
 */
export function federationRoutes(federation: Federation, limits: { maxBodyBytes: number }) {
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

    // Public information, so no credential; counted by the app's hook like any request without a token.
    app.get('/federation/identity', { config: { allow: 'public' } }, async () => {
      return {
        name: federation.identity.name,
        publicKey: federation.identity.publicJwk,
        thumbprint: federation.identity.thumbprint,
        operations: federation.operations.names(),
      };
    });

    app.post<{ Params: { operation: string } }>(
      '/federation/:operation',
      {
        // Peers authenticate by signature (checked below, before the body is read), never by bearer token.
        config: { allow: 'peer' },
        schema: { params: FederationParams },
        bodyLimit: limits.maxBodyBytes,
        onRequest: async (req) => {
          req.auditedByRoute = true;
          const header = req.headers[SIGNATURE_HEADER];
          const signature = typeof header === 'string' ? header : undefined;
          const claimed = signature ? claimedSender(signature) : undefined;
          if (claimed) req.federationReplyTo = { peer: claimed.iss, nonce: claimed.nonce };
          const claims = await federation.receiver
            .verifyHeader({ method: req.method, path: req.url, signature })
            .catch((e: unknown) => {
              // Counted by the app's hook with the other requests that proved no identity, not audited one by one.
              if (federation.receiver.isHeaderRefusal(e)) {
                req.auditedByRoute = false;
                req.anonymousRefusal = isHealthmeshError(e) ? e.code : 'INTERNAL';
              }
              throw e;
            });
          req.federationReplyTo = { peer: claims.iss, nonce: claims.nonce };
          req.federationClaims = claims;
        },
        // A body over the limit is refused by Fastify before the handler: audited here like the receiver's refusals.
        onError: async (req, _reply, error) => {
          if ((error as { code?: unknown }).code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return;
          const header = req.headers[SIGNATURE_HEADER];
          await federation.receiver.auditRefusal(
            { method: req.method, path: req.url, signature: typeof header === 'string' ? header : undefined },
            new HealthmeshError('API_BODY_TOO_LARGE', `the request body exceeds ${limits.maxBodyBytes} bytes`),
          );
        },
      },
      async (req: FastifyRequest<{ Params: { operation: string } }>) => {
        const text = typeof req.body === 'string' ? req.body : '';
        const claims = req.federationClaims!;
        const header = req.headers[SIGNATURE_HEADER];
        const signature = typeof header === 'string' ? header : undefined;
        await federation.receiver.verifyBody(claims, { method: req.method, path: req.url, body: text, signature });
        return { result: await federation.receiver.dispatch(claims, req.params.operation, text) };
      },
    );
  };
}
