import { createHash, randomBytes } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Principal, Role } from '../access/index.js';
import type { AuthConfig, Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Database } from '../store/index.js';
import type { Account, AccountStatus } from './account-registry.js';

/** What a sign-in or a refresh gives: a short-lived access token and the refresh token that renews it. */
export interface SessionTokens {
  accessToken: string;
  /** When the access token expires (ISO time): the console refreshes before. */
  expiresAt: string;
  refreshToken: string;
  /** When the session ends unless its holder signs out before (ISO time). */
  refreshExpiresAt: string;
  session: string;
}

/** Refresh tokens are 256 random bits: a plain SHA-256 suffices to store them, as for bearer tokens. */
const hashRefresh = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * The hub's sessions. An access token is a JWT signed (HS256) under the hub's session key with the hub as issuer and
 * audience, `sub` the account and `sid` the session, expiring after `auth.sessionMinutes`: another hub has another
 * key and name, so it refuses it. Each use is checked against the session's row too, so signing out, disabling the
 * account or resetting its password ends it at once, and a role changed by an admin holds from the next request.
 * A refresh token is stored hashed and rotated on every use; the one it replaced, presented again, ends the session
 * (someone holds a copy).
 */
export class SessionTokensIssuer {
  private readonly issuer: string;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly key: Uint8Array,
    hubName: string,
    private readonly auth: AuthConfig,
  ) {
    this.issuer = `urn:healthmesh:hub:${hubName}`;
  }

  /** Start a session for an account that has just signed in. */
  async start(account: Account): Promise<SessionTokens> {
    const session = randomBytes(16).toString('base64url');
    const refreshToken = newRefreshToken();
    const now = this.clock.now();
    const refreshExpires = new Date(now.getTime() + this.auth.refreshHours * 3_600_000);
    // Sessions past their end are dead for good (no access token outlives its session): each sign-in sweeps them, so
    // the table holds the live sessions and those of the last `auth.refreshHours`.
    await this.db.run('DELETE FROM account_session WHERE refresh_expires_at < $1', [now]);
    await this.db.run(
      `INSERT INTO account_session (id, account_id, refresh_hash, previous_refresh_hash, created_at, refresh_expires_at, ended_at)
       VALUES ($1, $2, $3, NULL, $4, $5, NULL)`,
      [session, account.id, hashRefresh(refreshToken), now, refreshExpires],
    );
    return this.tokens(account.id, session, refreshToken, refreshExpires);
  }

  /**
   * The principal behind an access token; `undefined` for one not signed by this hub for itself or whose session
   * ended; `AUTH_SESSION_EXPIRED` for one past its time.
   */
  async verify(token: string): Promise<Principal | undefined> {
    let claims: { sub?: string; sid?: unknown };
    try {
      ({ payload: claims } = await jwtVerify(token, this.key, {
        issuer: this.issuer,
        audience: this.issuer,
        algorithms: ['HS256'],
        currentDate: this.clock.now(),
      }));
    } catch (e) {
      if (e instanceof errors.JWTExpired)
        throw new HealthmeshError('AUTH_SESSION_EXPIRED', 'the session token has expired: refresh it or sign in again');
      return undefined;
    }
    if (typeof claims.sub !== 'string' || typeof claims.sid !== 'string') return undefined;
    const [row] = await this.db.all<{ handle: string; role: Role; status: AccountStatus; ended_at: Date | null }>(
      `SELECT a.handle, a.role, a.status, s.ended_at FROM account_session s JOIN account a ON a.id = s.account_id
       WHERE s.id = $1 AND s.account_id = $2`,
      [claims.sid, claims.sub],
    );
    if (!row || row.ended_at !== null || row.status !== 'active') return undefined;
    return { name: row.handle, role: row.role, account: claims.sub, session: claims.sid };
  }

  /** New tokens for a refresh token (which is then spent), or `AUTH_INVALID_TOKEN` / `AUTH_SESSION_EXPIRED`. */
  async refresh(refreshToken: string): Promise<SessionTokens & { handle: string }> {
    const h = hashRefresh(refreshToken);
    const now = this.clock.now();
    const next = newRefreshToken();
    const found = await this.db.transaction(async (t) => {
      const [row] = await t.all<{
        id: string;
        account_id: string;
        handle: string;
        status: AccountStatus;
        refresh_hash: string;
        refresh_expires_at: Date;
        ended_at: Date | null;
      }>(
        `SELECT s.id, s.account_id, a.handle, a.status, s.refresh_hash, s.refresh_expires_at, s.ended_at
         FROM account_session s JOIN account a ON a.id = s.account_id
         WHERE s.refresh_hash = $1 OR s.previous_refresh_hash = $1`,
        [h],
      );
      if (!row || row.ended_at !== null || row.status !== 'active') return 'invalid' as const;
      if (row.refresh_hash !== h) {
        // A spent refresh token came back: whoever holds it is not the session's holder, or both are. End it.
        await t.run('UPDATE account_session SET ended_at = $2 WHERE id = $1', [row.id, now]);
        return 'reused' as const;
      }
      if (row.refresh_expires_at.getTime() <= now.getTime()) return 'expired' as const;
      await t.run('UPDATE account_session SET refresh_hash = $2, previous_refresh_hash = $3 WHERE id = $1', [
        row.id,
        hashRefresh(next),
        h,
      ]);
      return { session: row.id, account: row.account_id, handle: row.handle, expires: row.refresh_expires_at };
    });
    if (found === 'expired')
      throw new HealthmeshError('AUTH_SESSION_EXPIRED', 'the session has ended by its time: sign in again');
    if (found === 'invalid' || found === 'reused')
      throw new HealthmeshError('AUTH_INVALID_TOKEN', 'the refresh token is not valid for this hub');
    return { ...(await this.tokens(found.account, found.session, next, found.expires)), handle: found.handle };
  }

  /** End one session now (sign-out): its access and refresh tokens are refused from the next request. */
  async end(session: string): Promise<void> {
    await this.db.run('UPDATE account_session SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL', [
      session,
      this.clock.now(),
    ]);
  }

  /** End every session of an account (disabled, or its password reset). */
  async endAllOf(account: string): Promise<void> {
    await this.db.run('UPDATE account_session SET ended_at = $2 WHERE account_id = $1 AND ended_at IS NULL', [
      account,
      this.clock.now(),
    ]);
  }

  private async tokens(account: string, session: string, refreshToken: string, refreshExpires: Date) {
    const now = this.clock.now();
    // Never past the session's own end.
    const expires = new Date(Math.min(now.getTime() + this.auth.sessionMinutes * 60_000, refreshExpires.getTime()));
    const accessToken = await new SignJWT({ sid: session })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.issuer)
      .setSubject(account)
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setExpirationTime(Math.floor(expires.getTime() / 1000))
      .sign(this.key);
    return {
      accessToken,
      expiresAt: expires.toISOString(),
      refreshToken,
      refreshExpiresAt: refreshExpires.toISOString(),
      session,
    };
  }
}

function newRefreshToken(): string {
  return `hmr_${randomBytes(32).toString('base64url')}`;
}
