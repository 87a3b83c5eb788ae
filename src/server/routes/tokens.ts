import type { FastifyInstance } from 'fastify';
import type { Role } from '../../access/index.js';
import type { Hub } from '../../hub/index.js';
import type { TokenCreate } from '../api-schemas.js';
import { TokenCreateBody, TokenCreated, TokenList, TokenParams, TokenRevoked } from '../api-schemas.js';

/**
 * Admins manage the hub's bearer tokens (services, scripts) while it serves, as `healthmesh token` does from the
 * command line: list holders, make a token (shown once, only its hash kept), revoke a holder's tokens — refused from
 * the holder's next request. Each change is audited with the holder's name and role, never the token.
 */
export function tokenRoutes(ctx: { hub: Hub }) {
  const { tokens } = ctx.hub;
  return async (app: FastifyInstance) => {
    const config = { allow: ['admin'] } as const;
    app.get('/tokens', { config, schema: { response: { 200: TokenList } } }, async (req) => {
      req.auditAction = { action: 'token-list', target: 'tokens' };
      return (await tokens.list()).map((t) => ({ ...t, createdAt: t.createdAt.toISOString() }));
    });
    app.post<{ Body: TokenCreate }>(
      '/tokens',
      { config, schema: { body: TokenCreateBody, response: { 201: TokenCreated } } },
      async (req, reply) => {
        const { name, role, sources } = req.body;
        const token = await tokens.create(name, role as Role, { ...(sources !== undefined && { sources }) });
        req.auditAction = { action: 'token-create', target: `token/${name}`, detail: { role } };
        return reply.code(201).send({ name, role, token });
      },
    );
    app.delete<{ Params: { name: string } }>(
      '/tokens/:name',
      { config, schema: { params: TokenParams, response: { 200: TokenRevoked } } },
      async (req) => {
        const revoked = await tokens.revoke(req.params.name);
        req.auditAction = { action: 'token-revoke', target: `token/${req.params.name}`, detail: { revoked } };
        return { name: req.params.name, revoked };
      },
    );
  };
}
