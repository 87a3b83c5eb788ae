import { randomBytes } from 'node:crypto';
import type { Algorithm } from '@node-rs/argon2';
import { hash, verify } from '@node-rs/argon2';
import type { Role } from '../access/index.js';
import { ROLES } from '../access/index.js';
import type { AuthConfig, Clock } from '../core/index.js';
import { HealthmeshError, isSourceName } from '../core/index.js';
import type { Database, Migration } from '../store/index.js';
import type { AccountKeys } from './account-keys.js';
import { oidcSubjectHash, signInNameHash } from './account-keys.js';

/** `pending`: made by its holder's own sign-up, it signs in only once an admin makes it active. */
export type AccountStatus = 'active' | 'disabled' | 'pending';

/** The roles a person may ask for at sign-up: applicants for projects. Every other role is given by an admin. */
export const SIGN_UP_ROLES: readonly Role[] = ['researcher', 'developer'];

/** An account as admins see it: never its password hash, sign-in name or OpenID subject (only whether it has them). */
export interface Account {
  id: string;
  /** The name shown in the audit log, projects and the console: an identifier, never an email or a number. */
  handle: string;
  role: Role;
  status: AccountStatus;
  /** Signs in with a password (a local account). */
  password: boolean;
  /** Signs in through the hospital's OpenID Provider. */
  oidc: boolean;
  /** Until when its sign-in name is locked after repeated failures, if it is now. */
  lockedUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export const accountMigrations: readonly Migration[] = [
  {
    module: 'accounts',
    version: 1,
    name: 'accounts, sign-in lockouts, sessions',
    // No key indexes: handles and name hashes are kept unique by `create` under the writer's lock (DuckDB rewrites an
    // updated row of an indexed table as a delete and an insert, which its key check can refuse within a transaction).
    statements: [
      `CREATE TABLE account (
        id VARCHAR NOT NULL,
        handle VARCHAR NOT NULL,
        name_hash VARCHAR,
        oidc_hash VARCHAR,
        role VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        password_hash VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
      )`,
      // Per keyed sign-in name, whether or not an account has it: a name without an account locks the same way, so
      // lockout does not tell which names exist.
      `CREATE TABLE account_lockout (
        name_hash VARCHAR NOT NULL,
        failures INTEGER NOT NULL,
        last_failure_at TIMESTAMPTZ NOT NULL,
        locked_until TIMESTAMPTZ
      )`,
      `CREATE TABLE account_session (
        id VARCHAR NOT NULL,
        account_id VARCHAR NOT NULL,
        refresh_hash VARCHAR NOT NULL,
        previous_refresh_hash VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        refresh_expires_at TIMESTAMPTZ NOT NULL,
        ended_at TIMESTAMPTZ
      )`,
    ],
    indexes: [
      ['account', ['id']],
      ['account_session', ['id']],
      ['account_session', ['refresh_hash']],
    ],
  },
];

type AccountRow = {
  id: string;
  handle: string;
  name_hash: string | null;
  oidc_hash: string | null;
  role: Role;
  status: AccountStatus;
  password_hash: string | null;
  created_at: Date;
  updated_at: Date;
  locked_until: Date | null;
};

const SELECT_ACCOUNT = `SELECT a.id, a.handle, a.name_hash, a.oidc_hash, a.role, a.status, a.password_hash, a.created_at,
  a.updated_at, l.locked_until FROM account a LEFT JOIN account_lockout l ON l.name_hash = a.name_hash`;

/** What an admin may change of an account. */
export interface AccountChanges {
  role?: Role;
  status?: AccountStatus;
  /** A new password (an admin's reset): its holder's sessions end. */
  password?: string;
  /** End a lockout now. */
  unlock?: boolean;
}

/** Argon2id at the library's defaults (19 MiB, 2 passes: OWASP's minimum), ~30 ms a hash here. */
// `Algorithm` is an ambient const enum (not importable as a value under verbatimModuleSyntax): 2 is Argon2id.
const ARGON2 = { algorithm: 2 as Algorithm.Argon2id } as const;

/**
 * A hash of a password nobody has, verified when a sign-in name has no account, so that an unknown name costs the
 * same time as a wrong password.
 */
let decoy: Promise<string> | undefined;

/** An account row to insert: the hashes already made. */
interface NewAccount {
  handle: string;
  role: Role;
  nameHash: string | null;
  oidcHash: string | null;
  passwordHash: string | null;
  status: AccountStatus;
}

/** People's and machines' accounts of a hub: handles, roles, status, password hashes and lockouts. */
export class AccountRegistry {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly keys: AccountKeys,
    private readonly auth: AuthConfig,
  ) {}

  /**
   * Make an account; `signInName` (default: the handle) and `password` make it a local account. `status` is
   * `active` unless given (`pending` for a person's own sign-up).
   */
  async create(input: {
    handle: string;
    role: Role;
    signInName?: string;
    password?: string;
    status?: AccountStatus;
  }): Promise<Account>;
  /** `create`, answering undefined instead of `ACCOUNT_EXISTS` when the handle or sign-in name is taken. */
  async create(
    input: { handle: string; role: Role; signInName?: string; password?: string; status?: AccountStatus },
    options: { taken: 'quiet' },
  ): Promise<Account | undefined>;
  async create(
    input: { handle: string; role: Role; signInName?: string; password?: string; status?: AccountStatus },
    options?: { taken: 'quiet' },
  ): Promise<Account | undefined> {
    const handle = checkHandle(input.handle);
    checkRole(input.role);
    // Hashed before the clash is looked for, so a taken handle costs what a fresh one does.
    const passwordHash = input.password === undefined ? null : await this.hashPassword(input.password);
    const nameHash =
      input.password === undefined ? null : signInNameHash(this.keys, checkSignInName(input.signInName ?? handle));
    return this.insert(
      { handle, role: input.role, nameHash, oidcHash: null, passwordHash, status: input.status ?? 'active' },
      options?.taken === 'quiet',
    );
  }

  /**
   * The account an OpenID Provider's (issuer, subject) signs in, made at its first sign-in with `role` and a
   * handle from `handleHint` (made unique); `created` says which.
   */
  async provisionOidc(
    issuer: string,
    subject: string,
    role: Role,
    handleHint: string,
  ): Promise<{ account: Account; created: boolean }> {
    const oidcHash = oidcSubjectHash(this.keys, issuer, subject);
    const found = await this.rowWhere('a.oidc_hash = $1', [oidcHash]);
    if (found) return { account: accountOf(found, this.clock), created: false };
    for (let n = 0; ; n++) {
      const handle = n === 0 ? handleHint : `${handleHint}-${randomBytes(3).toString('hex')}`;
      try {
        const account = await this.insert({
          handle,
          role,
          nameHash: null,
          oidcHash,
          passwordHash: null,
          status: 'active',
        });
        return { account, created: true };
      } catch (e) {
        if (!(e instanceof HealthmeshError && e.code === 'ACCOUNT_EXISTS') || n > 5) throw e;
      }
    }
  }

  private async insert(a: NewAccount): Promise<Account>;
  private async insert(a: NewAccount, quiet: boolean): Promise<Account | undefined>;
  private async insert(a: NewAccount, quiet = false): Promise<Account | undefined> {
    const id = randomBytes(12).toString('base64url'); // ACCOUNT_ID
    const now = this.clock.now();
    const made = await this.db.transaction(async (t) => {
      const clash = await t.all<{ n: unknown }>(
        'SELECT COUNT(*) AS n FROM account WHERE handle = $1 OR name_hash = $2 OR oidc_hash = $3',
        [a.handle, a.nameHash ?? '', a.oidcHash ?? ''],
      );
      if (Number(clash[0]?.n ?? 0) > 0) {
        if (!quiet)
          throw new HealthmeshError('ACCOUNT_EXISTS', `an account with handle '${a.handle}' or that sign-in exists`);
        // A quiet clash (a sign-up) commits a write as a fresh account would, changing no value, so that its time
        // does not tell a taken handle from a free one (measured: without it, 14 ms faster of ~85 ms).
        await t.run('UPDATE account SET updated_at = updated_at WHERE handle = $1 OR name_hash = $2', [
          a.handle,
          a.nameHash ?? '',
        ]);
        return false;
      }
      await t.run(
        `INSERT INTO account (id, handle, name_hash, oidc_hash, role, status, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
        [id, a.handle, a.nameHash, a.oidcHash, a.role, a.status, a.passwordHash, now],
      );
      return true;
    });
    if (!made) {
      await this.rowWhere('a.id = $1 OR a.handle = $1', [a.handle]); // the read a fresh account's `get` does
      return undefined;
    }
    return this.get(id);
  }

  /** Every account, oldest first. */
  async list(): Promise<Account[]> {
    const rows = await this.db.all<AccountRow>(`${SELECT_ACCOUNT} ORDER BY a.created_at, a.handle`);
    return rows.map((r) => accountOf(r, this.clock));
  }

  /** The account with this id or handle, or `ACCOUNT_UNKNOWN`. */
  async get(idOrHandle: string): Promise<Account> {
    const row = await this.rowWhere('a.id = $1 OR a.handle = $1', [idOrHandle]);
    if (!row) throw new HealthmeshError('ACCOUNT_UNKNOWN', 'no account has that id or handle');
    return accountOf(row, this.clock);
  }

  /** Apply an admin's changes; says whether the holder's sessions must end (disabled, or password reset). */
  async update(idOrHandle: string, changes: AccountChanges): Promise<{ account: Account; endSessions: boolean }> {
    const row = await this.rowWhere('a.id = $1 OR a.handle = $1', [idOrHandle]);
    if (!row) throw new HealthmeshError('ACCOUNT_UNKNOWN', 'no account has that id or handle');
    if (changes.role !== undefined) checkRole(changes.role);
    if (changes.status !== undefined && changes.status !== 'active' && changes.status !== 'disabled')
      throw new HealthmeshError('ACCOUNT_INVALID', 'status must be active (approve, enable) or disabled', {
        path: 'status',
      });
    const passwordHash = changes.password === undefined ? undefined : await this.hashPassword(changes.password);
    if (passwordHash !== undefined && row.name_hash === null)
      throw new HealthmeshError('ACCOUNT_INVALID', 'this account signs in through the OpenID Provider only', {
        path: 'password',
      });
    const now = this.clock.now();
    await this.db.transaction(async (t) => {
      await t.run(`UPDATE account SET role = $2, status = $3, password_hash = $4, updated_at = $5 WHERE id = $1`, [
        row.id,
        changes.role ?? row.role,
        changes.status ?? row.status,
        passwordHash ?? row.password_hash,
        now,
      ]);
      // A reset password starts its holder afresh too.
      // Approval too: a pending account's own tries counted as failures (checkPassword).
      const approved = row.status === 'pending' && changes.status === 'active';
      if ((changes.unlock || passwordHash !== undefined || approved) && row.name_hash !== null)
        await t.run('DELETE FROM account_lockout WHERE name_hash = $1', [row.name_hash]);
    });
    return {
      account: await this.get(row.id),
      endSessions: changes.status === 'disabled' || passwordHash !== undefined,
    };
  }

  /**
   * Check a sign-in name and password: the account, or `AUTH_ACCOUNT_LOCKED` (checked before the password, so a
   * locked name admits no guesses), `AUTH_SIGN_IN_FAILED` (unknown name or wrong password alike, in the same time)
   * or `AUTH_ACCOUNT_DISABLED` (only to someone who knows the password). `account` on the error names who failed,
   * for the audit log, when the name has an account.
   */
  async checkPassword(name: string, password: string): Promise<Account> {
    const nameHash = signInNameHash(this.keys, name);
    const now = this.clock.now();
    const [lock] = await this.db.all<{ locked_until: Date | null }>(
      'SELECT locked_until FROM account_lockout WHERE name_hash = $1',
      [nameHash],
    );
    const row = await this.rowWhere('a.name_hash = $1', [nameHash]);
    const who = row ? accountOf(row, this.clock) : undefined;
    if (lock?.locked_until && lock.locked_until.getTime() > now.getTime())
      throw signInError('AUTH_ACCOUNT_LOCKED', 'this sign-in name is locked after repeated failures; try later', who);
    const ok = row?.password_hash
      ? await verify(row.password_hash, password).catch(() => false)
      : await verify(await decoyHash(), password).then(() => false);
    // A pending account answers as an unknown name does, right password or not, failures counted alike: its
    // maker's own sign-in must not tell them whether their sign-up made it or found the handle taken (signUp).
    if (!ok || !who || who.status === 'pending') {
      await this.recordFailure(nameHash, now);
      throw signInError('AUTH_SIGN_IN_FAILED', 'the sign-in name or password is wrong', who);
    }
    if (who.status !== 'active') throw signInError('AUTH_ACCOUNT_DISABLED', 'this account is disabled', who);
    await this.db.run('DELETE FROM account_lockout WHERE name_hash = $1', [nameHash]);
    return who;
  }

  /**
   * Count a failure against a sign-in name: `maxFailedSignIns` in a row, each within `lockoutMinutes` of the last,
   * lock it for `lockoutMinutes`. Rows of names whose failures and lock have lapsed are removed on the way, so
   * names sprayed by a guesser do not pile up.
   */
  private async recordFailure(nameHash: string, now: Date): Promise<void> {
    const windowMs = this.auth.lockoutMinutes * 60_000;
    const lapsed = new Date(now.getTime() - windowMs);
    await this.db.transaction(async (t) => {
      await t.run(
        'DELETE FROM account_lockout WHERE last_failure_at < $1 AND (locked_until IS NULL OR locked_until < $2)',
        [lapsed, now],
      );
      const [row] = await t.all<{ failures: number; locked_until: Date | null }>(
        'SELECT failures, locked_until FROM account_lockout WHERE name_hash = $1',
        [nameHash],
      );
      // A lock that has ended starts a new count.
      const before =
        row && !(row.locked_until && row.locked_until.getTime() <= now.getTime()) ? Number(row.failures) : 0;
      const failures = before + 1;
      const lockedUntil = failures >= this.auth.maxFailedSignIns ? new Date(now.getTime() + windowMs) : null;
      await t.run('DELETE FROM account_lockout WHERE name_hash = $1', [nameHash]);
      await t.run(
        'INSERT INTO account_lockout (name_hash, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4)',
        [nameHash, lockedUntil ? 0 : failures, now, lockedUntil],
      );
    });
  }

  private async hashPassword(password: string): Promise<string> {
    if (typeof password !== 'string' || [...password].length < this.auth.minPasswordLength)
      throw new HealthmeshError(
        'ACCOUNT_INVALID',
        `a password needs at least ${this.auth.minPasswordLength} characters (auth.minPasswordLength)`,
        { path: 'password' },
      );
    return hash(password, ARGON2);
  }

  private async rowWhere(where: string, params: readonly string[]): Promise<AccountRow | undefined> {
    const rows = await this.db.all<AccountRow>(`${SELECT_ACCOUNT} WHERE ${where}`, params);
    return rows[0];
  }
}

function decoyHash(): Promise<string> {
  decoy ??= hash(randomBytes(32).toString('base64url'), ARGON2);
  return decoy;
}

/** A refused sign-in, carrying the account it was for (if any) for the audit entry, never for the caller. */
export class SignInRefused extends HealthmeshError {
  constructor(
    code: 'AUTH_ACCOUNT_LOCKED' | 'AUTH_SIGN_IN_FAILED' | 'AUTH_ACCOUNT_DISABLED',
    message: string,
    readonly account: Account | undefined,
  ) {
    super(code, message);
  }
}

function signInError(
  code: 'AUTH_ACCOUNT_LOCKED' | 'AUTH_SIGN_IN_FAILED' | 'AUTH_ACCOUNT_DISABLED',
  message: string,
  account: Account | undefined,
): SignInRefused {
  return new SignInRefused(code, message, account);
}

function accountOf(r: AccountRow, clock: Clock): Account {
  const locked = r.locked_until && r.locked_until.getTime() > clock.now().getTime() ? r.locked_until : null;
  return {
    id: r.id,
    handle: r.handle,
    role: r.role,
    status: r.status,
    password: r.password_hash !== null,
    oidc: r.oidc_hash !== null,
    lockedUntil: locked ? locked.toISOString() : null,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** Whether `value` may be a handle (see `checkHandle`). */
export function isHandle(value: unknown): value is string {
  return isSourceName(value) && !value.includes('@');
}

/** The shape of an account id: 96 random bits in base64url. */
export const ACCOUNT_ID = /^[A-Za-z0-9_-]{16}$/;

/**
 * A handle is written to the audit log, projects and the console as it is: it must be an identifier like a source
 * name (`checkSourceName`), so an email, a person's name in Hangul or a registration number cannot be one.
 */
export function checkHandle(value: unknown): string {
  if (isHandle(value)) return value;
  throw new HealthmeshError(
    'ACCOUNT_INVALID',
    "a handle is lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63 characters, not an email or a registration number",
    { path: 'handle' },
  );
}

function checkSignInName(value: unknown): string {
  if (typeof value === 'string' && value.trim() !== '' && value.length <= 320) return value;
  throw new HealthmeshError('ACCOUNT_INVALID', 'a sign-in name is a non-empty text of at most 320 characters', {
    path: 'signInName',
  });
}

function checkRole(role: unknown): asserts role is Role {
  if (!(ROLES as readonly unknown[]).includes(role))
    throw new HealthmeshError('ACCOUNT_INVALID', `role must be one of ${ROLES.join(', ')}`, { path: 'role' });
}
