import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog, Principal } from '../access/index.js';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Database } from '../store/index.js';

/** The only scope a citizen grants an app: their own records, read-only (SMART on FHIR's `patient/*.read`). */
export const APP_SCOPE = 'patient/*.read';
/** The longest a grant may run; a citizen renews it if they still want to. */
export const MAX_GRANT_DAYS = 90;

/** A grant as its citizen sees it (never its token). */
export interface AppGrant {
  id: string;
  app: string;
  scope: typeof APP_SCOPE;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Apps a citizen lets read their records: a token shown once, bound to the citizen and to `patient/*.read`, that
 * ends at its expiry or when the citizen revokes it. The server admits such a token on the citizen's own GET routes
 * only (`checkAllowed`).
 */
export class AppGrants {
  constructor(
    private readonly db: Database,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** A new grant for `app` for `days` days (at most `MAX_GRANT_DAYS`); its token is shown once. */
  async grant(citizen: Principal, app: string, days: number): Promise<AppGrant & { token: string }> {
    if (citizen.scope !== undefined) {
      throw new HealthmeshError('AUTH_FORBIDDEN', 'an app may not grant access to other apps');
    }
    if (!/^[\p{L}\p{N} ._-]{1,60}$/u.test(app)) {
      throw new HealthmeshError(
        'MYDATA_INVALID_REQUEST',
        'app must be a name of 1 to 60 letters, digits, spaces, . _ -',
        {
          path: 'app',
        },
      );
    }
    if (!Number.isInteger(days) || days < 1 || days > MAX_GRANT_DAYS) {
      throw new HealthmeshError('MYDATA_INVALID_REQUEST', `days must be a whole number from 1 to ${MAX_GRANT_DAYS}`, {
        path: 'days',
      });
    }
    const id = `grant_${randomBytes(9).toString('base64url')}`;
    const token = `hmapp_${randomBytes(32).toString('base64url')}`;
    const now = this.clock.now();
    const expires = new Date(now.getTime() + days * 86_400_000);
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO app_grant (id, token_hash, citizen, app, scope, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [id, hashToken(token), citizen.name, app, APP_SCOPE, now, expires],
      );
      await this.audit.append(
        { actor: citizen.name, action: 'app-grant', target: `grant/${id}`, outcome: 'success', detail: { days } },
        tx,
      );
    });
    return {
      id,
      app,
      scope: APP_SCOPE,
      createdAt: now.toISOString(),
      expiresAt: expires.toISOString(),
      revokedAt: null,
      token,
    };
  }

  /** A citizen's grants, newest first. */
  async list(citizen: string): Promise<AppGrant[]> {
    const rows = await this.db.all<{
      id: string;
      app: string;
      created_at: Date;
      expires_at: Date;
      revoked_at: Date | null;
    }>(
      'SELECT id, app, created_at, expires_at, revoked_at FROM app_grant WHERE citizen = $1 ORDER BY created_at DESC, id',
      [citizen],
    );
    return rows.map((r) => ({
      id: r.id,
      app: r.app,
      scope: APP_SCOPE,
      createdAt: r.created_at.toISOString(),
      expiresAt: r.expires_at.toISOString(),
      revokedAt: r.revoked_at?.toISOString() ?? null,
    }));
  }

  /** End a grant of `citizen` now; its token is refused from the next request. */
  async revoke(citizen: Principal, id: string): Promise<void> {
    if (citizen.scope !== undefined) throw new HealthmeshError('AUTH_FORBIDDEN', 'an app may not revoke grants');
    const now = this.clock.now();
    const found = await this.db.all('SELECT 1 AS one FROM app_grant WHERE id = $1 AND citizen = $2', [
      id,
      citizen.name,
    ]);
    if (found.length === 0) throw new HealthmeshError('MYDATA_GRANT_NOT_FOUND', `no grant ${id.slice(0, 40)} of yours`);
    await this.db.transaction(async (tx) => {
      await tx.run('UPDATE app_grant SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [now, id]);
      await this.audit.append(
        { actor: citizen.name, action: 'app-revoke', target: `grant/${id}`, outcome: 'success' },
        tx,
      );
    });
  }

  /** The principal an app's token stands for, or undefined if unknown, expired or revoked. */
  async verify(token: string): Promise<Principal | undefined> {
    const rows = await this.db.all<{ id: string; citizen: string; expires_at: Date; revoked_at: Date | null }>(
      'SELECT id, citizen, expires_at, revoked_at FROM app_grant WHERE token_hash = $1',
      [hashToken(token)],
    );
    const row = rows[0];
    if (row === undefined || row.revoked_at !== null || row.expires_at.getTime() <= this.clock.now().getTime()) {
      return undefined;
    }
    return { name: row.citizen, role: 'citizen', scope: APP_SCOPE, grant: row.id };
  }
}
