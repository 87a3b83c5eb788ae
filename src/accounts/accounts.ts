import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditLog, Principal, Role } from '../access/index.js';
import type { HubContext, HubModule } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import { accountsKeyPath, openAccountKeys } from './account-keys.js';
import type { Account, AccountChanges } from './account-registry.js';
import {
  ACCOUNT_ID,
  AccountRegistry,
  accountMigrations,
  isHandle,
  SIGN_UP_ROLES,
  SignInRefused,
} from './account-registry.js';
import { OidcSignIn } from './oidc-sign-in.js';
import type { SessionTokens } from './session-tokens.js';
import { SessionTokensIssuer } from './session-tokens.js';

/** Who made an admin change: a principal's audit name, or the CLI. */
export type Actor = string;

/**
 * People's and machines' accounts and their sessions (docs/accounts.md): sign-in with a password or through the
 * hospital's OpenID Provider, session tokens, refresh, sign-out, lockout, and the admin's management. Every sign-in
 * (success or refusal), refresh, sign-out and change is audited, naming the account by its handle and id, never by
 * its sign-in name, and never with a password.
 */
export class Accounts {
  /** The hospital's OpenID Provider, when `auth.oidc` is configured. */
  readonly oidc: OidcSignIn | undefined;

  constructor(
    readonly registry: AccountRegistry,
    readonly sessions: SessionTokensIssuer,
    private readonly audit: AuditLog,
    oidc: OidcSignIn | undefined,
  ) {
    this.oidc = oidc;
  }

  /** Sign in with a sign-in name and password: a new session, or a refusal (audited either way). */
  async signIn(name: string, password: string): Promise<SessionTokens & { account: Account }> {
    let account: Account;
    try {
      account = await this.registry.checkPassword(name, password);
    } catch (e) {
      if (e instanceof SignInRefused) {
        await this.audit.append({
          actor: e.account?.handle ?? 'anonymous',
          action: 'sign-in',
          target: e.account ? `account:${e.account.id}` : 'account:unknown',
          outcome: 'denied',
          detail: { method: 'password', code: e.code },
        });
      }
      throw e;
    }
    const tokens = await this.sessions.start(account);
    await this.audit.append({
      actor: account.handle,
      action: 'sign-in',
      target: `account:${account.id}`,
      outcome: 'success',
      detail: { method: 'password', session: tokens.session },
    });
    return { ...tokens, account };
  }

  /**
   * Complete a sign-in through the OpenID Provider: the account its (issuer, subject) signs in, made at the first
   * sign-in with the claimed role or `auth.oidc.defaultRole` (never admin).
   */
  async signInOidc(
    currentUrl: URL,
    cookie: string | undefined,
    defaultRole: Role,
  ): Promise<SessionTokens & { account: Account }> {
    if (!this.oidc)
      throw new HealthmeshError('AUTH_OIDC_NOT_CONFIGURED', 'this hub has no OpenID Provider (auth.oidc)');
    let account: Account | undefined;
    try {
      const who = await this.oidc.callback(currentUrl, cookie);
      const provisioned = await this.registry.provisionOidc(
        who.issuer,
        who.subject,
        who.claimedRole ?? defaultRole,
        'oidc',
      );
      account = provisioned.account;
      if (provisioned.created)
        await this.audit.append({
          actor: 'oidc',
          action: 'account-create',
          target: `account:${account.id}`,
          outcome: 'success',
          detail: { handle: account.handle, role: account.role, method: 'oidc' },
        });
      if (account.status !== 'active') throw new HealthmeshError('AUTH_ACCOUNT_DISABLED', 'this account is disabled');
    } catch (e) {
      await this.audit.append({
        actor: account?.handle ?? 'anonymous',
        action: 'sign-in',
        target: account ? `account:${account.id}` : 'account:unknown',
        outcome: 'denied',
        detail: { method: 'oidc', code: e instanceof HealthmeshError ? e.code : 'INTERNAL' },
      });
      throw e;
    }
    const tokens = await this.sessions.start(account);
    await this.audit.append({
      actor: account.handle,
      action: 'sign-in',
      target: `account:${account.id}`,
      outcome: 'success',
      detail: { method: 'oidc', session: tokens.session },
    });
    return { ...tokens, account };
  }

  /** New tokens for a refresh token (rotated: the one given is spent). */
  async refresh(refreshToken: string): Promise<SessionTokens> {
    try {
      const { handle, ...tokens } = await this.sessions.refresh(refreshToken);
      await this.audit.append({
        actor: handle,
        action: 'session-refresh',
        target: `session:${tokens.session}`,
        outcome: 'success',
      });
      return tokens;
    } catch (e) {
      await this.audit.append({
        actor: 'anonymous',
        action: 'session-refresh',
        target: 'session:unknown',
        outcome: 'denied',
        detail: { code: e instanceof HealthmeshError ? e.code : 'INTERNAL' },
      });
      throw e;
    }
  }

  /** End the caller's session (a bearer token has none: nothing to end). Audited by the request's own entry. */
  async signOut(principal: Principal): Promise<boolean> {
    if (principal.session === undefined) return false;
    await this.sessions.end(principal.session);
    return true;
  }

  /** Make an account (admin); audited with the handle and role, never the sign-in name or password. */
  async create(
    actor: Actor,
    input: { handle: string; role: Role; signInName?: string; password?: string },
  ): Promise<Account> {
    // The handle is checked before it names anything in the log: a refused one may be the email it must not hold.
    return this.audited(actor, 'account-create', auditTarget(input.handle), async () => {
      const account = await this.registry.create(input);
      return { result: account, detail: { id: account.id, role: account.role } };
    });
  }

  /**
   * A person's own sign-up as an applicant (researcher or developer; citizens enrol with a code from their
   * source): a local account that stays `pending`, unable to sign in, until an admin makes it active. Audited with
   * the handle and role, never the sign-in name or password.
   *
   * A handle or sign-in name already taken gets the answer a fresh sign-up gets, after the same work (the password
   * is hashed before the clash is found), and nothing is made: telling the caller would let anyone list the hub's
   * handles. The refusal is audited (`denied`, `ACCOUNT_EXISTS`) for the admins, who never see it as a request.
   */
  async signUp(input: {
    handle: string;
    role: Role;
    signInName?: string;
    password: string;
  }): Promise<{ handle: string; role: Role; status: 'pending' }> {
    const actor = isHandle(input.handle) ? input.handle : 'anonymous';
    const target = auditTarget(input.handle);
    const started = performance.now();
    try {
      return await this.audited(actor, 'account-sign-up', target, async () => {
        if (!SIGN_UP_ROLES.includes(input.role)) {
          throw new HealthmeshError('ACCOUNT_INVALID', `a sign-up asks for one of ${SIGN_UP_ROLES.join(', ')}`, {
            path: 'role',
          });
        }
        const account = await this.registry.create({ ...input, status: 'pending' }, { taken: 'quiet' });
        if (account === undefined) throw new SignUpTaken();
        return {
          result: { handle: account.handle, role: account.role, status: 'pending' as const },
          detail: { id: account.id, role: account.role, status: account.status },
        };
      });
    } catch (e) {
      if (!(e instanceof SignUpTaken)) throw e;
      return { handle: input.handle, role: input.role, status: 'pending' };
    } finally {
      // Both paths hash the password and commit a write, but a fresh account's insert still took a few ms more
      // (measured p50 42.5 against 35.8 ms): every sign-up answers no sooner than the floor, which covers both.
      await sleep(Math.max(0, SIGN_UP_FLOOR_MS - (performance.now() - started)));
    }
  }

  /** Change an account's role or status, unlock it or reset its password (admin); live, audited. */
  async update(actor: Actor, idOrHandle: string, changes: AccountChanges): Promise<Account> {
    return this.audited(actor, 'account-update', auditTarget(idOrHandle), async () => {
      const { account, endSessions } = await this.registry.update(idOrHandle, changes);
      if (endSessions) await this.sessions.endAllOf(account.id);
      return {
        result: account,
        detail: {
          id: account.id,
          ...(changes.role !== undefined && { role: changes.role }),
          ...(changes.status !== undefined && { status: changes.status }),
          ...(changes.unlock === true && { unlock: true }),
          ...(changes.password !== undefined && { passwordReset: true }),
        },
      };
    });
  }

  private async audited<T>(
    actor: Actor,
    action: string,
    target: string,
    work: () => Promise<{ result: T; detail: Record<string, string | number | boolean> }>,
  ): Promise<T> {
    try {
      const { result, detail } = await work();
      await this.audit.append({ actor, action, target, outcome: 'success', detail });
      return result;
    } catch (e) {
      await this.audit.append({
        actor,
        action,
        target,
        outcome: e instanceof SignUpTaken ? 'denied' : 'failure',
        detail: { code: e instanceof HealthmeshError ? e.code : 'INTERNAL' },
      });
      throw e;
    }
  }
}

/** The least time a sign-up takes to answer, well above its work (an argon2id hash and two writes, ~40 ms). */
const SIGN_UP_FLOOR_MS = 250;

/** A sign-up whose handle or sign-in name is taken: audited, then answered as a fresh one (`signUp`). */
class SignUpTaken extends HealthmeshError {
  constructor() {
    super('ACCOUNT_EXISTS', 'the handle or sign-in name is taken');
  }
}

/**
 * How the audit log names an account an admin asked for: by the handle or id as given when it has their shape, else
 * `account:unknown`, since what was typed may be an email or a registration number.
 */
function auditTarget(handleOrId: string): string {
  return isHandle(handleOrId) || ACCOUNT_ID.test(handleOrId) ? `account:${handleOrId}` : 'account:unknown';
}

/** The accounts module: its tables, and `hub.accounts` opened from the hub's accounts secret and `auth` config. */
export const accountsModule: HubModule<object, { accounts: Accounts }> = {
  name: 'accounts',
  migrations: accountMigrations,
  open(hub: HubContext) {
    const keys = openAccountKeys(accountsKeyPath(hub.paths.secretsDir));
    const { auth } = hub.config;
    return {
      accounts: new Accounts(
        new AccountRegistry(hub.db, hub.clock, keys, auth),
        new SessionTokensIssuer(hub.db, hub.clock, keys.sessions, hub.config.name, auth),
        hub.audit,
        auth.oidc ? new OidcSignIn(auth.oidc, keys.pending) : undefined,
      ),
    };
  },
};
