import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HealthmeshError } from '../core/index.js';

/**
 * The hub's accounts secret (`secrets/accounts.key`, owner-only, 32 random bytes), from which two keys are derived:
 * one keys the hashes of sign-in names and OpenID subjects (a staff member's email must not reach the store in
 * clear, yet a sign-in must find its account), the other signs the hub's session tokens. It is its own file, not the
 * pseudonymisation secret: rotating one must not change the other.
 */
export interface AccountKeys {
  /** HMAC-SHA-256 key of sign-in names and (issuer, subject) pairs. */
  names: Buffer;
  /** HS256 key of access tokens: a token signed at another hub fails its signature here. */
  sessions: Uint8Array;
  /** A256GCM key of the cookie that carries an OpenID sign-in's state, nonce and PKCE verifier to the callback. */
  pending: Uint8Array;
}

/** Where a hub keeps its accounts secret. */
export function accountsKeyPath(secretsDir: string): string {
  return join(secretsDir, 'accounts.key');
}

/** The hub's account keys, the secret made at the first open of a hub (a new one, or one made before accounts). */
export function openAccountKeys(path: string): AccountKeys {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Two processes opening one hub at once: the first file wins, both read it.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const secret = readFileSync(path);
  if (secret.length !== 32)
    throw new HealthmeshError('CONFIG_INVALID', `${path} is not a healthmesh accounts key`, { file: path });
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
  return {
    names: derive('healthmesh accounts: names'),
    sessions: new Uint8Array(derive('healthmesh accounts: sessions')),
    pending: new Uint8Array(derive('healthmesh accounts: oidc pending')),
  };
}

/**
 * The keyed hash under which a sign-in name is stored and looked up. Names are compared as people type them: Unicode
 * NFC, trimmed, lower-case (an email's domain is case-insensitive, and `Kim@Hospital` is meant as `kim@hospital`).
 */
export function signInNameHash(keys: AccountKeys, name: string): string {
  return createHmac('sha256', keys.names)
    .update(`name\0${name.normalize('NFC').trim().toLowerCase()}`)
    .digest('hex');
}

/** The keyed hash of an OpenID Provider's (issuer, subject) pair: the account it signs in, never stored in clear. */
export function oidcSubjectHash(keys: AccountKeys, issuer: string, subject: string): string {
  return createHmac('sha256', keys.names).update(`oidc\0${issuer}\0${subject}`).digest('hex');
}
