import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';

export type Role = 'admin' | 'steward' | 'researcher' | 'service';

export const ROLES: readonly Role[] = ['admin', 'steward', 'researcher', 'service'];

/** Who is calling, as established from a bearer token. */
export interface Principal {
  name: string;
  role: Role;
}

export const tokenMigrations: readonly Migration[] = [
  {
    module: 'access',
    version: 2,
    name: 'bearer tokens (hashed)',
    statements: [
      `CREATE TABLE access_token (
        token_hash VARCHAR NOT NULL PRIMARY KEY,
        name VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
      )`,
    ],
  },
];

/** Tokens are 256 random bits, so a plain SHA-256 suffices to store them (no slow KDF needed). */
function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Bearer tokens: only their hashes are stored; the plaintext is shown once, at creation. */
export class TokenRegistry {
  private cache = new Map<string, Principal>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  async create(name: string, role: Role): Promise<string> {
    if (!ROLES.includes(role)) {
      throw new HealthmeshError('AUTH_INVALID_ROLE', `role '${role}' is not one of ${ROLES.join(', ')}`, {
        path: 'role',
      });
    }
    if (name.trim() === '')
      throw new HealthmeshError('AUTH_INVALID_ROLE', 'a token needs the name of its holder', { path: 'name' });
    const token = `hm_${randomBytes(32).toString('base64url')}`;
    await this.db.run('INSERT INTO access_token (token_hash, name, role, created_at) VALUES ($1, $2, $3, $4)', [
      hashToken(token),
      name,
      role,
      this.clock.now(),
    ]);
    return token;
  }

  /** The principal behind a token, or undefined if the token is unknown. */
  async verify(token: string): Promise<Principal | undefined> {
    const h = hashToken(token);
    const cached = this.cache.get(h);
    if (cached) return cached;
    const rows = await this.db.all<{ token_hash: string; name: string; role: Role }>(
      'SELECT token_hash, name, role FROM access_token WHERE token_hash = $1',
      [h],
    );
    const row = rows[0];
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(h))) return undefined;
    const principal = { name: row.name, role: row.role };
    this.cache.set(h, principal);
    return principal;
  }

  /** Every token's holder and role, oldest first (the tokens themselves are not kept). */
  async list(): Promise<{ name: string; role: Role; createdAt: Date }[]> {
    const rows = await this.db.all<{ name: string; role: Role; created_at: Date }>(
      'SELECT name, role, created_at FROM access_token ORDER BY created_at, name',
    );
    return rows.map((r) => ({ name: r.name, role: r.role, createdAt: r.created_at }));
  }

  /** Revoke every token held by `name`; returns how many were revoked. */
  async revoke(name: string): Promise<number> {
    const before = await this.db.all<{ n: unknown }>('SELECT COUNT(*) AS n FROM access_token WHERE name = $1', [name]);
    await this.db.run('DELETE FROM access_token WHERE name = $1', [name]);
    for (const [h, p] of this.cache) if (p.name === name) this.cache.delete(h);
    return Number(before[0]?.n ?? 0);
  }
}
