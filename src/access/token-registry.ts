import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { checkSourceName, HealthmeshError } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';

/**
 * What a person or machine does at a hub: `admin` runs it; `steward` curates its data and reviews access; `researcher`
 * and `developer` (an AI-healthcare startup) analyse within what they were granted; `validator` runs the
 * demonstration hub's validations; `citizen` owns a personal health record; `service` is a machine feeding records.
 */
export type Role = 'admin' | 'steward' | 'researcher' | 'developer' | 'validator' | 'citizen' | 'service';

export const ROLES: readonly Role[] = [
  'admin',
  'steward',
  'researcher',
  'developer',
  'validator',
  'citizen',
  'service',
];

/** Who is calling, as established from a bearer token. */
export interface Principal {
  name: string;
  role: Role;
  /**
   * The sources a service token may write under (bound at `token create --source`); empty for other roles and for
   * a service token bound to none, which writes only the hub's `defaultSource` (see `mayWriteSource`).
   */
  sources?: readonly string[];
  /** The account of a person or machine signed in with a session token (accounts module); absent for bearer tokens. */
  account?: string;
  /** The session of a session token: what sign-out ends. */
  session?: string;
  /**
   * Set for an app a citizen granted access (mydata/): SMART-style `patient/*.read`, the citizen's own records,
   * read-only. `name` and `role` are the citizen's; `grant` names the grant (what revocation ends).
   */
  scope?: 'patient/*.read';
  grant?: string;
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
  {
    module: 'access',
    version: 3,
    name: 'sources a token may write under',
    // Comma-separated source names (each matches SOURCE_NAME, so has no comma); NULL: none bound.
    statements: ['ALTER TABLE access_token ADD COLUMN sources VARCHAR'],
  },
];

/** Tokens are 256 random bits, so a plain SHA-256 suffices to store them (no slow KDF needed). */
function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Bearer tokens: only their hashes are stored; the plaintext is shown once, at creation. */
export class TokenRegistry {
  private cache = new Map<string, Principal>();
  /** Bumped by every revocation: a lookup that began before one may not cache what it read. */
  private revocations = 0;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /**
   * Make a token for `name` and return it (shown once). `sources` binds a service token to the sources it may
   * write under; only service tokens take them (admin and steward may name any source, researchers write nothing).
   */
  async create(name: string, role: Role, options: { sources?: readonly string[] } = {}): Promise<string> {
    if (!ROLES.includes(role)) {
      throw new HealthmeshError('AUTH_INVALID_ROLE', `role '${role}' is not one of ${ROLES.join(', ')}`, {
        path: 'role',
      });
    }
    const sources = [...new Set((options.sources ?? []).map((s) => checkSourceName(s, 'source')))];
    if (sources.length > 0 && role !== 'service') {
      throw new HealthmeshError(
        'AUTH_INVALID_ROLE',
        `only service tokens are bound to sources; role '${role}' ${role === 'researcher' ? 'writes nothing' : 'may name any source'}`,
        { path: 'source' },
      );
    }
    if (name.trim() === '')
      throw new HealthmeshError('AUTH_INVALID_ROLE', 'a token needs the name of its holder', { path: 'name' });
    const token = `hm_${randomBytes(32).toString('base64url')}`;
    await this.db.run(
      'INSERT INTO access_token (token_hash, name, role, created_at, sources) VALUES ($1, $2, $3, $4, $5)',
      [hashToken(token), name, role, this.clock.now(), sources.length > 0 ? sources.join(',') : null],
    );
    return token;
  }

  /** The principal behind a token, or undefined if the token is unknown. */
  async verify(token: string): Promise<Principal | undefined> {
    const h = hashToken(token);
    const cached = this.cache.get(h);
    if (cached) return cached;
    const revocations = this.revocations;
    const rows = await this.db.all<{ token_hash: string; name: string; role: Role; sources: string | null }>(
      'SELECT token_hash, name, role, sources FROM access_token WHERE token_hash = $1',
      [h],
    );
    const row = rows[0];
    if (!row || !timingSafeEqual(Buffer.from(row.token_hash), Buffer.from(h))) return undefined;
    const principal: Principal = { name: row.name, role: row.role, sources: sourcesOf(row.sources) };
    // A DuckDB store is open in this process alone, so every revocation passes `revoke` below; on PostgreSQL another
    // process (the CLI) may revoke, and the next request must see it: no cache there. A revocation that ran while
    // this lookup read the row has purged the cache already: caching now would let the revoked token in until
    // restart (this one request began before the revocation and is answered as read).
    if (this.db.engine === 'duckdb' && revocations === this.revocations) this.cache.set(h, principal);
    return principal;
  }

  /** Every token's holder and role, oldest first (the tokens themselves are not kept). */
  async list(): Promise<{ name: string; role: Role; sources: string[]; createdAt: Date }[]> {
    const rows = await this.db.all<{ name: string; role: Role; sources: string | null; created_at: Date }>(
      'SELECT name, role, sources, created_at FROM access_token ORDER BY created_at, name',
    );
    return rows.map((r) => ({ name: r.name, role: r.role, sources: sourcesOf(r.sources), createdAt: r.created_at }));
  }

  /** Revoke every token held by `name`; returns how many were revoked. */
  async revoke(name: string): Promise<number> {
    const before = await this.db.all<{ n: unknown }>('SELECT COUNT(*) AS n FROM access_token WHERE name = $1', [name]);
    await this.db.run('DELETE FROM access_token WHERE name = $1', [name]);
    this.revocations++;
    for (const [h, p] of this.cache) if (p.name === name) this.cache.delete(h);
    return Number(before[0]?.n ?? 0);
  }
}

function sourcesOf(column: string | null): string[] {
  return column === null || column === '' ? [] : column.split(',');
}
