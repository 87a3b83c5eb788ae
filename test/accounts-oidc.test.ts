import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { testHubConfig } from './support/test-engine.js';

/**
 * Issue 16: sign-in through the hospital's OpenID Provider, end to end against a real `oidc-provider` on a loopback
 * port. The test is the browser: it follows the redirects with the cookies each side sets and fills the provider's
 * login and consent forms (its development interactions) over HTTP.
 */

const CLIENT = { id: 'healthmesh-gwangju', secret: 'a-client-secret-of-forty-characters-long!' };
const REDIRECT = 'http://127.0.0.1:9/auth/oidc/callback';

/** A browser's cookie jar for one site: name → value, as Set-Cookie headers left them. */
class Jar {
  private readonly cookies = new Map<string, string>();
  take(headers: Headers): void {
    for (const c of headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

describe("sign-in through the hospital's OpenID Provider", () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-oidc-'));
  let server: Server;
  let issuer: string;
  let hub: Hub;
  let app: FastifyInstance;

  beforeAll(async () => {
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT.id,
          client_secret: CLIENT.secret,
          redirect_uris: [REDIRECT],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ],
      // Whoever types a login at the development form is that account; its role claim is in the ID token.
      async findAccount(_ctx, id) {
        return { accountId: id, claims: async () => ({ sub: id, hm_role: id.split('.')[0] }) };
      },
      claims: { openid: ['sub', 'hm_role'] },
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
    });
    server.on('request', provider.callback());
    const dir = join(root, 'hub');
    await initHub(dir, {
      name: 'gwangju',
      config: {
        ...(await testHubConfig()),
        auth: {
          ...defaultConfig('gwangju').auth,
          oidc: {
            issuer,
            clientId: CLIENT.id,
            clientSecret: CLIENT.secret,
            redirectUri: REDIRECT,
            roleClaim: 'hm_role',
            defaultRole: 'researcher',
          },
        },
      },
      logger: silentLogger(),
    });
    hub = await openHub(dir, { logger: silentLogger() });
    app = await buildServer(hub);
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(root, { recursive: true, force: true });
  });

  /** Start at the hub, sign in at the provider as `login`, and return where the hub's callback sends the browser. */
  async function signIn(login: string, options: { dropHubCookie?: boolean } = {}): Promise<string> {
    const start = await app.inject({ url: '/auth/oidc/start' });
    expect(start.statusCode, start.body).toBe(302);
    const hubCookie = String(start.headers['set-cookie']).split(';')[0]!;
    let url = String(start.headers.location);
    expect(url.startsWith(`${issuer}/`)).toBe(true);
    expect(new URL(url).searchParams.get('code_challenge_method')).toBe('S256');
    const jar = new Jar();
    let method = 'GET';
    let body: string | undefined;
    for (let step = 0; step < 20; step++) {
      if (url.startsWith(REDIRECT)) {
        const callback = await app.inject({
          url: `/auth/oidc/callback${url.slice(REDIRECT.length)}`,
          headers: options.dropHubCookie ? {} : { cookie: hubCookie },
        });
        expect(callback.statusCode, callback.body).toBe(302);
        return String(callback.headers.location);
      }
      const res = await fetch(url, {
        method,
        redirect: 'manual',
        headers: {
          cookie: jar.header(),
          ...(body !== undefined && { 'content-type': 'application/x-www-form-urlencoded' }),
        },
        ...(body !== undefined && { body }),
      });
      jar.take(res.headers);
      if (res.status >= 300 && res.status < 400) {
        url = new URL(res.headers.get('location')!, url).href;
        method = 'GET';
        body = undefined;
        continue;
      }
      const html = await res.text();
      expect(res.status, html.slice(0, 300)).toBe(200);
      // The provider's login form, then its consent form.
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
      if (!action || !prompt) throw new Error(`no form at ${url}: ${html.slice(0, 300)}`);
      url = new URL(action.replaceAll('&amp;', '&'), url).href;
      method = 'POST';
      body = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt }).toString();
    }
    throw new Error('the sign-in did not come back to the hub');
  }

  async function sessionFrom(location: string) {
    const refreshToken = decodeURIComponent(/#oidc=(.+)$/.exec(location)?.[1] ?? '');
    expect(refreshToken).toMatch(/^hmr_/);
    const res = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
    expect(res.statusCode, res.body).toBe(200);
    const { accessToken } = res.json() as { accessToken: string };
    return (await app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${accessToken}` } })).json() as {
      name: string;
      role: string;
      account: string;
    };
  }

  it('offers the provider on the login page', async () => {
    expect((await app.inject({ url: '/auth/options' })).json()).toEqual({ oidc: true });
  });

  it('makes an account at the first sign-in with the claimed role, and signs the same person in to it again', async () => {
    const first = await sessionFrom(await signIn('steward.kim'));
    expect(first.role).toBe('steward');
    expect(first.name).toMatch(/^oidc/);
    const again = await sessionFrom(await signIn('steward.kim'));
    expect(again.account).toBe(first.account);
    const accounts = await hub.accounts.registry.list();
    expect(accounts.filter((a) => a.oidc)).toHaveLength(1);
    // The subject is kept only as a keyed hash.
    const rows = await hub.db.all<{ oidc_hash: string }>('SELECT oidc_hash FROM account WHERE oidc_hash IS NOT NULL');
    expect(rows.map((r) => r.oidc_hash)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
  });

  it('never makes an admin from a claim: a claimed admin gets the default role', async () => {
    const boss = await sessionFrom(await signIn('admin.lee'));
    expect(boss.role).toBe('researcher');
  });

  it('refuses a callback in a browser that did not start the sign-in, and audits it', async () => {
    expect(await signIn('researcher.park', { dropHubCookie: true })).toBe('/#oidc-error=AUTH_OIDC_FAILED');
    const denied = (await hub.audit.recent(50)).filter((e) => e.action === 'sign-in' && e.outcome === 'denied');
    expect(denied.at(-1)?.detail).toMatchObject({ method: 'oidc', code: 'AUTH_OIDC_FAILED' });
  });
});
