import type { FastifyInstance } from 'fastify';
import type { Role } from '../../access/index.js';
import type { Hub } from '../../hub/index.js';
import type { AccountCreate, AccountPatch } from '../api-schemas.js';
import { AccountCreateBody, AccountList, AccountParams, AccountPatchBody, AccountView } from '../api-schemas.js';

/**
 * Admins manage accounts while the hub serves: list, create, change role or status, unlock, reset a password. Each
 * change is written to the audit log by the accounts module (with the handle and what changed, never the sign-in name
 * or the password) and holds from the holder's next request: sessions are checked against the account every time.
 */
export function accountRoutes(ctx: { hub: Hub }) {
  const { accounts } = ctx.hub;
  return async (app: FastifyInstance) => {
    const config = { allow: ['admin'] } as const;
    app.get('/accounts', { config, schema: { response: { 200: AccountList } } }, async (req) => {
      req.auditAction = { action: 'account-list', target: 'accounts' };
      return accounts.registry.list();
    });
    app.post<{ Body: AccountCreate }>(
      '/accounts',
      { config, schema: { body: AccountCreateBody, response: { 201: AccountView } } },
      async (req, reply) => {
        req.auditedByRoute = true;
        const { handle, role, signInName, password } = req.body;
        const account = await accounts.create(req.principal?.name ?? 'unknown', {
          handle,
          role: role as Role,
          ...(signInName !== undefined && { signInName }),
          ...(password !== undefined && { password }),
        });
        return reply.code(201).send(account);
      },
    );
    app.patch<{ Params: { id: string }; Body: AccountPatch }>(
      '/accounts/:id',
      { config, schema: { params: AccountParams, body: AccountPatchBody, response: { 200: AccountView } } },
      async (req) => {
        req.auditedByRoute = true;
        const { role, status, unlock, password } = req.body;
        return accounts.update(req.principal?.name ?? 'unknown', req.params.id, {
          ...(role !== undefined && { role: role as Role }),
          ...(status !== undefined && { status }),
          ...(unlock !== undefined && { unlock }),
          ...(password !== undefined && { password }),
        });
      },
    );
  };
}
