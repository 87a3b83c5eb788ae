import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { testHubConfig } from './support/test-engine.js';

/**
 * Issue 16, people and sign-in: password sign-in, lockout, session expiry, refresh rotation, sign-out, a session of
 * one hub at another, admin management while the app serves, self sign-up, the per-client sign-in limit, and no
 * password or sign-in name in clear on disk or in the log. Real hubs (DuckDB in a temporary directory), the real app
 * through `inject`, a clock the test moves.
 */

const EMAIL = 'kim.minji@cnuh.example.kr';
const PASSWORD = 'correct horse battery staple';
const MINUTE = 60_000;

const codeOf = (res: LightMyRequestResponse): string | undefined =>
  (res.json() as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]?.code;

interface Session {
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  account?: { id: string; handle: string; role: string };
}

/** Every byte of every file under `dir`. */
function allBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && statSync(p).size > 0) parts.push(readFileSync(p));
    }
  };
  walk(dir);
  return Buffer.concat(parts);
}

describe('accounts and sign-in', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-accounts-'));
  const clock = fixedClock(new Date());
  let hub: Hub;
  let app: FastifyInstance;
  let admin: string;

  const login = (name: string, password: string) =>
    app.inject({ method: 'POST', url: '/auth/login', payload: { name, password } });
  const me = (token: string) => app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
  const refresh = (refreshToken: string) =>
    app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } });
  const asAdmin = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(payload && { payload }) });

  beforeAll(async () => {
    const dir = join(root, 'hub');
    ({ adminToken: admin } = await initHub(dir, { name: 'gwangju', config: await testHubConfig(), clock }));
    hub = await openHub(dir, { clock });
    app = await buildServer(hub);
    const made = await asAdmin('POST', '/accounts', {
      handle: 'kim.researcher',
      role: 'researcher',
      signInName: EMAIL,
      password: PASSWORD,
    });
    expect(made.statusCode, made.body).toBe(201);
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('signs in with the sign-in name and password, and the session token names the account by its handle', async () => {
    const res = await login(EMAIL, PASSWORD);
    expect(res.statusCode, res.body).toBe(200);
    const s = res.json() as Session;
    expect(s.account).toMatchObject({ handle: 'kim.researcher', role: 'researcher' });
    expect(new Date(s.expiresAt).getTime() - clock.now().getTime()).toBe(15 * MINUTE);
    const who = await me(s.accessToken);
    expect(who.json()).toEqual({ name: 'kim.researcher', role: 'researcher', account: s.account?.id, session: true });
    // The sign-in name is compared as typed by people: case and spaces around it do not matter.
    expect((await login(`  ${EMAIL.toUpperCase()} `, PASSWORD)).statusCode).toBe(200);
  });

  it('refuses a wrong password and an unknown name alike, with 401 AUTH_SIGN_IN_FAILED', async () => {
    const wrong = await login(EMAIL, 'not the password at all');
    const unknown = await login('nobody@cnuh.example.kr', PASSWORD);
    for (const res of [wrong, unknown]) {
      expect(res.statusCode).toBe(401);
      expect(codeOf(res)).toBe('AUTH_SIGN_IN_FAILED');
    }
    expect(wrong.body).toBe(unknown.body);
    // A success clears the count of failures.
    expect((await login(EMAIL, PASSWORD)).statusCode).toBe(200);
  });

  it('locks a sign-in name after five failures in a row, until its time passes or an admin unlocks it', async () => {
    await asAdmin('POST', '/accounts', {
      handle: 'lee.steward',
      role: 'steward',
      signInName: 'lee@cnuh.example.kr',
      password: PASSWORD,
    });
    const fail5 = async () => {
      for (let i = 0; i < 5; i++)
        expect(codeOf(await login('lee@cnuh.example.kr', `wrong password ${i}!!`))).toBe('AUTH_SIGN_IN_FAILED');
    };
    await fail5();
    const locked = await login('lee@cnuh.example.kr', PASSWORD);
    expect(locked.statusCode).toBe(401);
    expect(codeOf(locked)).toBe('AUTH_ACCOUNT_LOCKED');
    const listed = (await asAdmin('GET', '/accounts')).json() as { handle: string; lockedUntil: string | null }[];
    expect(listed.find((a) => a.handle === 'lee.steward')?.lockedUntil).not.toBeNull();
    // An admin unlocks it while the app serves.
    const unlocked = await asAdmin('PATCH', '/accounts/lee.steward', { unlock: true });
    expect(unlocked.statusCode, unlocked.body).toBe(200);
    expect((await login('lee@cnuh.example.kr', PASSWORD)).statusCode).toBe(200);
    // Locked again, it opens by itself after auth.lockoutMinutes.
    await fail5();
    expect(codeOf(await login('lee@cnuh.example.kr', PASSWORD))).toBe('AUTH_ACCOUNT_LOCKED');
    clock.advance(15 * MINUTE + 1000);
    expect((await login('lee@cnuh.example.kr', PASSWORD)).statusCode).toBe(200);
    // A name without an account locks the same way: lockout does not tell which names exist.
    for (let i = 0; i < 5; i++) await login('ghost@cnuh.example.kr', `wrong password ${i}!!`);
    expect(codeOf(await login('ghost@cnuh.example.kr', PASSWORD))).toBe('AUTH_ACCOUNT_LOCKED');
  });

  it('refuses an expired session token with AUTH_SESSION_EXPIRED, and its refresh token renews it', async () => {
    const s = (await login(EMAIL, PASSWORD)).json() as Session;
    expect((await me(s.accessToken)).statusCode).toBe(200);
    clock.advance(15 * MINUTE + 1000);
    const expired = await me(s.accessToken);
    expect(expired.statusCode).toBe(401);
    expect(codeOf(expired)).toBe('AUTH_SESSION_EXPIRED');
    const renewed = await refresh(s.refreshToken);
    expect(renewed.statusCode, renewed.body).toBe(200);
    expect((await me((renewed.json() as Session).accessToken)).statusCode).toBe(200);
  });

  it('ends a session by its time after auth.refreshHours: its refresh token is refused, and its row swept', async () => {
    const s = (await login(EMAIL, PASSWORD)).json() as Session;
    const rows = async () => (await hub.db.all('SELECT id FROM account_session')).length;
    const before = await rows();
    clock.advance(12 * 60 * MINUTE + 1000);
    const late = await refresh(s.refreshToken);
    expect(late.statusCode).toBe(401);
    expect(codeOf(late)).toBe('AUTH_SESSION_EXPIRED');
    expect((await login(EMAIL, PASSWORD)).statusCode).toBe(200);
    // Every session of before has ended by its time; only the new one is left.
    expect(before).toBeGreaterThan(1);
    expect(await rows()).toBe(1);
  });

  it('rotates refresh tokens: a spent one is refused, and presenting it again ends the session', async () => {
    const s = (await login(EMAIL, PASSWORD)).json() as Session;
    const next = (await refresh(s.refreshToken)).json() as Session;
    const again = await refresh(s.refreshToken);
    expect(again.statusCode).toBe(401);
    expect(codeOf(again)).toBe('AUTH_INVALID_TOKEN');
    // The reuse ended the session: its newest tokens are refused too.
    expect(codeOf(await refresh(next.refreshToken))).toBe('AUTH_INVALID_TOKEN');
    expect(codeOf(await me(next.accessToken))).toBe('AUTH_INVALID_TOKEN');
  });

  it('ends a session at sign-out: its access and refresh tokens are refused at once', async () => {
    const s = (await login(EMAIL, PASSWORD)).json() as Session;
    const out = await app.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { authorization: `Bearer ${s.accessToken}` },
    });
    expect(out.statusCode, out.body).toBe(200);
    expect(codeOf(await me(s.accessToken))).toBe('AUTH_INVALID_TOKEN');
    expect(codeOf(await refresh(s.refreshToken))).toBe('AUTH_INVALID_TOKEN');
  });

  it('lets an admin change role and status live; other roles are refused on /accounts with 403', async () => {
    const made = await asAdmin('POST', '/accounts', { handle: 'park.dev', role: 'developer', password: PASSWORD });
    expect(made.statusCode, made.body).toBe(201);
    const s = (await login('park.dev', PASSWORD)).json() as Session;
    for (const [method, url] of [
      ['GET', '/accounts'],
      ['POST', '/accounts'],
      ['PATCH', '/accounts/park.dev'],
    ] as const) {
      const res = await app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${s.accessToken}` },
        ...(method !== 'GET' && { payload: { role: 'admin' } }),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(codeOf(res)).toBe('AUTH_FORBIDDEN');
    }
    expect((await asAdmin('PATCH', '/accounts/park.dev', { role: 'validator' })).statusCode).toBe(200);
    expect((await me(s.accessToken)).json()).toMatchObject({ role: 'validator' });
    expect((await asAdmin('PATCH', '/accounts/park.dev', { status: 'disabled' })).statusCode).toBe(200);
    expect(codeOf(await me(s.accessToken))).toBe('AUTH_INVALID_TOKEN');
    expect(codeOf(await login('park.dev', PASSWORD))).toBe('AUTH_ACCOUNT_DISABLED');
    // A handle must be an identifier: an email or a registration number is refused.
    for (const handle of [EMAIL, '900101-1234567', 'Kim Minji'])
      expect(codeOf(await asAdmin('POST', '/accounts', { handle, role: 'researcher', password: PASSWORD }))).toBe(
        'ACCOUNT_INVALID',
      );
    expect(codeOf(await asAdmin('POST', '/accounts', { handle: 'short.pw', role: 'citizen', password: 'short' }))).toBe(
      'ACCOUNT_INVALID',
    );
    expect(
      codeOf(await asAdmin('POST', '/accounts', { handle: 'park.dev', role: 'citizen', password: PASSWORD })),
    ).toBe('ACCOUNT_EXISTS');
    // Every change and sign-in is in the audit log, by handle.
    const entries = await hub.audit.recent(500);
    const actions = entries.map((e) => `${e.actor} ${e.action} ${e.outcome}`);
    expect(actions).toContain('admin account-update success');
    expect(actions).toContain('park.dev sign-in success');
    expect(actions).toContain('park.dev sign-in denied');
    expect(actions).toContain('anonymous sign-in denied');
  });

  it('refuses a session token of another hub, even one of the same name', async () => {
    const other = join(root, 'other');
    const { adminToken } = await initHub(other, { name: 'gwangju', config: await testHubConfig(), clock });
    const hubB = await openHub(other, { clock });
    const appB = await buildServer(hubB);
    try {
      await appB.inject({
        method: 'POST',
        url: '/accounts',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: { handle: 'kim.researcher', role: 'researcher', signInName: EMAIL, password: PASSWORD },
      });
      const fromA = (await login(EMAIL, PASSWORD)).json() as Session;
      const atB = await appB.inject({ url: '/auth/me', headers: { authorization: `Bearer ${fromA.accessToken}` } });
      expect(atB.statusCode).toBe(401);
      expect(codeOf(atB)).toBe('AUTH_INVALID_TOKEN');
      const refreshAtB = await appB.inject({
        method: 'POST',
        url: '/auth/refresh',
        payload: { refreshToken: fromA.refreshToken },
      });
      expect(codeOf(refreshAtB)).toBe('AUTH_INVALID_TOKEN');
    } finally {
      await appB.close();
      await hubB.close();
    }
  });

  it('keeps a signed-up applicant pending until an admin approves, and audits both', async () => {
    const applicant = 'han.applicant@cnuh.example.kr';
    const signUp = (payload: object) =>
      app.inject({ method: 'POST', url: '/auth/sign-up', payload, remoteAddress: '198.51.100.1' });
    const made = await signUp({ handle: 'han.res', role: 'researcher', signInName: applicant, password: PASSWORD });
    expect(made.statusCode, made.body).toBe(201);
    expect(made.json()).toEqual({ handle: 'han.res', role: 'researcher', status: 'pending' });
    // Waiting: it does not sign in, and even the right password learns no more than a wrong one or an unknown name
    // would (else its maker could tell a sign-up that made an account from one that found the handle taken).
    expect(codeOf(await login(applicant, PASSWORD))).toBe('AUTH_SIGN_IN_FAILED');
    expect(codeOf(await login(applicant, 'not the passphrase'))).toBe('AUTH_SIGN_IN_FAILED');
    const listed = (await asAdmin('GET', '/accounts')).json() as { handle: string; status: string }[];
    expect(listed.find((a) => a.handle === 'han.res')?.status).toBe('pending');
    expect((await asAdmin('PATCH', '/accounts/han.res', { status: 'active' })).statusCode).toBe(200);
    const signedIn = await login(applicant, PASSWORD);
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    expect(signedIn.json()).toMatchObject({ account: { handle: 'han.res', role: 'researcher' } });
    const actions = (await hub.audit.recent(50)).map((e) => `${e.actor} ${e.action} ${e.outcome}`);
    expect(actions).toContain('han.res account-sign-up success');
    expect(actions).toContain('han.res sign-in denied');
    // Only applicants' roles; a handle is an identifier, never the email.
    const asAdminRole = await signUp({ handle: 'mallory', role: 'admin', password: PASSWORD });
    expect([asAdminRole.statusCode, codeOf(asAdminRole)]).toEqual([400, 'API_BAD_REQUEST']);
    expect(codeOf(await signUp({ handle: applicant, role: 'developer', password: PASSWORD }))).toBe('ACCOUNT_INVALID');
  });

  it('answers a sign-up with a taken handle or sign-in name as a fresh one, makes nothing and audits it', async () => {
    const signUp = (payload: object) =>
      app.inject({ method: 'POST', url: '/auth/sign-up', payload, remoteAddress: '198.51.100.2' });
    const before = (await asAdmin('GET', '/accounts')).json() as { handle: string; role: string; status: string }[];
    const fresh = await signUp({
      handle: 'lee.fresh',
      role: 'developer',
      signInName: 'lee.fresh.name',
      password: PASSWORD,
    });
    const takenHandle = await signUp({
      handle: 'han.res',
      role: 'developer',
      signInName: 'other.name',
      password: PASSWORD,
    });
    const takenName = await signUp({ handle: 'kim.new', role: 'developer', signInName: EMAIL, password: PASSWORD });
    expect(fresh.statusCode, fresh.body).toBe(201);
    for (const [res, handle] of [
      [takenHandle, 'han.res'],
      [takenName, 'kim.new'],
    ] as const) {
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toEqual({ handle, role: 'developer', status: 'pending' });
      expect(Object.keys(res.headers).sort()).toEqual(Object.keys(fresh.headers).sort());
    }
    // Its maker's own sign-in tells no more: as for the fresh sign-up's pending account, the name or password is wrong.
    expect(codeOf(await login('other.name', PASSWORD))).toBe('AUTH_SIGN_IN_FAILED');
    expect(codeOf(await login('lee.fresh.name', PASSWORD))).toBe('AUTH_SIGN_IN_FAILED');
    // Nothing was made or changed but the fresh account; the admins see the taken ones as denied in the audit log.
    const after = (await asAdmin('GET', '/accounts')).json() as { handle: string; role: string; status: string }[];
    expect(after.filter((a) => a.handle !== 'lee.fresh')).toEqual(before);
    expect(after.map((a) => a.handle)).not.toContain('kim.new');
    const actions = (await hub.audit.recent(30)).map((e) => `${e.actor} ${e.action} ${e.outcome}`);
    expect(actions).toContain('han.res account-sign-up denied');
    expect(actions).toContain('kim.new account-sign-up denied');
    expect(actions).toContain('lee.fresh account-sign-up success');
  });

  it('answers 429 API_RATE_LIMITED with Retry-After past auth.signInPerMinute from one client, to that client only', async () => {
    const from = (ip: string, url: string, payload: object) =>
      app.inject({ method: 'POST', url, payload, remoteAddress: ip });
    const spray = '203.0.113.9';
    const { signInPerMinute } = hub.config.auth;
    // One password tried across many names: the per-name lockout never trips, the per-client limit does.
    for (let i = 0; i < signInPerMinute; i++) {
      expect(codeOf(await from(spray, '/auth/login', { name: `user${i}`, password: PASSWORD }))).toBe(
        'AUTH_SIGN_IN_FAILED',
      );
    }
    const refused = await from(spray, '/auth/login', { name: 'one.more', password: PASSWORD });
    expect([refused.statusCode, codeOf(refused)]).toEqual([429, 'API_RATE_LIMITED']);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Sign-up from that client is held back too; another client still signs in.
    const signUp = { handle: 'x.y', role: 'developer', password: PASSWORD };
    expect((await from(spray, '/auth/sign-up', signUp)).statusCode).toBe(429);
    expect((await from('198.51.100.3', '/auth/login', { name: EMAIL, password: PASSWORD })).statusCode).toBe(200);
    // Once the minute is over, it may try again.
    clock.advance(retryAfter * 1000);
    expect(codeOf(await from(spray, '/auth/login', { name: 'one.more', password: PASSWORD }))).toBe(
      'AUTH_SIGN_IN_FAILED',
    );
  });

  it('keeps argon2id hashes and never the password or the sign-in name in clear in the hub directory or its log', async () => {
    const [row] = await hub.db.all<{ password_hash: string; name_hash: string }>(
      "SELECT password_hash, name_hash FROM account WHERE handle = 'kim.researcher'",
    );
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$/);
    expect(row?.name_hash).toMatch(/^[0-9a-f]{64}$/);
    // Every value of every table, as the store gives it back (its files may compress text, so bytes alone could miss it).
    const tables = await hub.db.all<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('information_schema', 'pg_catalog')",
    );
    expect(tables.map((t) => t.table_name)).toContain('audit_log');
    let stored = '';
    for (const { table_name } of tables) stored += JSON.stringify(await hub.db.all(`SELECT * FROM ${table_name}`));
    expect(stored).toContain('kim.researcher');
    for (const secret of [PASSWORD, EMAIL, 'lee@cnuh.example.kr', 'ghost@cnuh.example.kr', 'cnuh.example'])
      expect(stored.includes(secret), secret).toBe(false);
    // Closed, so the store's WAL is checkpointed and the log flushed; every file's bytes are searched.
    await app.close();
    await hub.close();
    const bytes = allBytes(root);
    // The search finds what is stored in clear (handles, in the accounts table and the audit log) ...
    expect(bytes.includes(Buffer.from('kim.researcher'))).toBe(true);
    // ... and finds none of these.
    for (const secret of [PASSWORD, EMAIL, 'lee@cnuh.example.kr', 'ghost@cnuh.example.kr', 'cnuh.example'])
      expect(bytes.includes(Buffer.from(secret)), secret).toBe(false);
    hub = await openHub(join(root, 'hub'), { clock });
    app = await buildServer(hub);
    expect((await login(EMAIL, PASSWORD)).statusCode).toBe(200);
  });
});
