import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Role } from '../../access/index.js';
import type { SessionTokens } from '../../accounts/index.js';
import { OIDC_COOKIE } from '../../accounts/index.js';
import { HealthmeshError } from '../../core/index.js';
import type { Hub } from '../../hub/index.js';
import type { SignUp } from '../api-schemas.js';
import {
  AuthOptions,
  LoginBody,
  Me,
  OidcCallbackQuery,
  RefreshBody,
  SessionAnswer,
  SignUpAnswer,
  SignUpBody,
} from '../api-schemas.js';
import { SignInLimit } from '../sign-in-limit.js';

/** The console's page a finished OpenID sign-in returns to: the refresh token (spent at once) rides in the fragment. */
const CONSOLE = '/';

/**
 * Sign-in, refresh, sign-out and the caller's identity (docs/accounts.md). Sign-in and refresh are public (they are
 * how a credential is got) and audited by the accounts module itself, success and refusal alike, without the
 * password or the sign-in name; a refused one is 401 with its code and no hint beyond it. Sign-in attempts are
 * limited per client address (`auth.signInPerMinute`, sign-in-limit.ts) on top of the per-name lockout.
 */
export function authRoutes(ctx: { hub: Hub }) {
  const { hub } = ctx;
  const { accounts } = hub;
  return async (app: FastifyInstance) => {
    const publicRoute = { allow: 'public' } as const;
    const limit = new SignInLimit(hub.config.auth.signInPerMinute, hub.clock);
    app.post<{ Body: { name: string; password: string } }>(
      '/auth/login',
      {
        config: publicRoute,
        preHandler: limit.check,
        schema: { body: LoginBody, response: { 200: SessionAnswer } },
      },
      async (req) => {
        req.auditedByRoute = true;
        const { account, ...tokens } = await accounts.signIn(req.body.name, req.body.password);
        return answer(tokens, { id: account.id, handle: account.handle, role: account.role });
      },
    );
    // A person's own sign-up as an applicant: the account waits for an admin (docs/accounts.md). Limited per client
    // like sign-in, since it too is open to anyone and costs an argon2id hash.
    app.post<{ Body: SignUp }>(
      '/auth/sign-up',
      {
        config: publicRoute,
        preHandler: limit.check,
        schema: { body: SignUpBody, response: { 201: SignUpAnswer } },
      },
      async (req, reply) => {
        req.auditedByRoute = true;
        const { handle, role, signInName, password } = req.body;
        const account = await accounts.signUp({
          handle,
          role,
          password,
          ...(signInName !== undefined && { signInName }),
        });
        return reply.code(201).send({ handle: account.handle, role: account.role, status: 'pending' });
      },
    );
    app.post<{ Body: { refreshToken: string } }>(
      '/auth/refresh',
      { config: publicRoute, schema: { body: RefreshBody, response: { 200: SessionAnswer } } },
      async (req) => {
        req.auditedByRoute = true;
        return answer(await accounts.refresh(req.body.refreshToken));
      },
    );
    // What the login page offers (no data: whether an OpenID Provider is configured).
    app.get('/auth/options', { config: publicRoute, schema: { response: { 200: AuthOptions } } }, async () => ({
      oidc: accounts.oidc !== undefined,
    }));

    const authenticated = { allow: 'authenticated' } as const;
    app.post('/auth/logout', { config: authenticated }, async (req) => {
      const ended = await accounts.signOut(principalOf(req));
      req.auditAction = { action: 'sign-out', target: `session:${req.principal?.session ?? 'none'}` };
      return hub.gate.text({ signedOut: ended });
    });
    app.get('/auth/me', { config: authenticated, schema: { response: { 200: Me } } }, async (req) => {
      const p = principalOf(req);
      req.auditAction = { action: 'whoami', target: 'auth/me' };
      return hub.gate.text({
        name: p.name,
        role: p.role,
        account: p.account ?? null,
        session: p.session !== undefined,
      });
    });

    // The hospital's OpenID Provider: code flow with PKCE, state and nonce (accounts/oidc-sign-in.ts).
    app.get('/auth/oidc/start', { config: publicRoute }, async (_req, reply) => {
      if (!accounts.oidc)
        throw new HealthmeshError('AUTH_OIDC_NOT_CONFIGURED', 'this hub has no OpenID Provider (auth.oidc)');
      const { url, cookie, maxAgeSeconds } = await accounts.oidc.start();
      setPendingCookie(reply, cookie, maxAgeSeconds, hub);
      return reply.redirect(url, 302);
    });
    app.get(
      '/auth/oidc/callback',
      { config: publicRoute, schema: { querystring: OidcCallbackQuery } },
      async (req, reply) => {
        req.auditedByRoute = true;
        const oidc = hub.config.auth.oidc;
        if (!oidc) throw new HealthmeshError('AUTH_OIDC_NOT_CONFIGURED', 'this hub has no OpenID Provider (auth.oidc)');
        // The URL the provider redirected to, as registered (a proxy in front may have changed host or scheme).
        const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
        const current = new URL(`${oidc.redirectUri}${query}`);
        setPendingCookie(reply, '', 0, hub);
        try {
          const { refreshToken } = await accounts.signInOidc(
            current,
            cookieOf(req, OIDC_COOKIE),
            oidc.defaultRole as Role,
          );
          // The console spends it at once (POST /auth/refresh), so the copy left in the browser's history is dead.
          return reply.redirect(`${CONSOLE}#oidc=${encodeURIComponent(refreshToken)}`, 302);
        } catch (e) {
          if (!(e instanceof HealthmeshError)) throw e;
          return reply.redirect(`${CONSOLE}#oidc-error=${e.code}`, 302);
        }
      },
    );
  };
}

function answer(tokens: SessionTokens, account?: { id: string; handle: string; role: Role }) {
  return {
    accessToken: tokens.accessToken,
    expiresAt: tokens.expiresAt,
    refreshToken: tokens.refreshToken,
    refreshExpiresAt: tokens.refreshExpiresAt,
    ...(account && { account }),
  };
}

function principalOf(req: FastifyRequest) {
  if (!req.principal) throw new HealthmeshError('AUTH_MISSING_TOKEN', 'this route needs a signed-in caller');
  return req.principal;
}

function setPendingCookie(reply: FastifyReply, value: string, maxAge: number, hub: Hub): void {
  const secure = hub.config.auth.oidc?.redirectUri.startsWith('https:') ? '; Secure' : '';
  reply.header(
    'set-cookie',
    `${OIDC_COOKIE}=${value}; Path=/auth/oidc; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`,
  );
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name && v.length > 0 && v.join('=') !== '') return v.join('=');
  }
  return undefined;
}
