import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';

export type Role = 'admin' | 'steward' | 'researcher' | 'service';

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
}
