import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { HealthmeshError } from '../core/index.js';
import type { Database } from '../store/index.js';

/**
 * The hub's audit key: the HMAC-SHA-256 secret that keys the audit chain, and the first entry it keys. Entries before
 * `keyedFrom` were written by a hub that predates the key and keep their unkeyed SHA-256 hashes; the first keyed
 * entry's HMAC covers the last unkeyed hash, so they cannot be rewritten either once a keyed entry follows them.
 * Kept owner-only in `secrets/` beside the pseudonymisation secret, never in the store: whoever can write the store
 * (a database administrator, a copy of the DuckDB file) cannot recompute a keyed chain.
 */
export interface AuditKey {
  secret: Buffer;
  keyedFrom: number;
}

interface AuditKeyFile {
  v: 1;
  key: string;
  keyedFrom: number;
}

/** Write a fresh audit key keying entries from `keyedFrom` on (owner-only; refuses to overwrite a key). */
export function writeAuditKey(path: string, keyedFrom = 1): AuditKey {
  const key: AuditKey = { secret: randomBytes(32), keyedFrom };
  const file: AuditKeyFile = { v: 1, key: key.secret.toString('base64url'), keyedFrom };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(file)}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

/** Read the audit key written by `healthmesh init` (or by the upgrade of an older hub). */
export function readAuditKey(path: string): AuditKey {
  let parsed: Partial<AuditKeyFile>;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<AuditKeyFile>;
  } catch (e) {
    throw new HealthmeshError('CONFIG_INVALID', `${path}: ${(e as Error).message}`, { file: path });
  }
  const secret = typeof parsed.key === 'string' ? Buffer.from(parsed.key, 'base64url') : Buffer.alloc(0);
  if (parsed.v !== 1 || secret.length !== 32 || !Number.isSafeInteger(parsed.keyedFrom) || Number(parsed.keyedFrom) < 1)
    throw new HealthmeshError('CONFIG_INVALID', `${path} is not a healthmesh audit key`, { file: path });
  return { secret, keyedFrom: Number(parsed.keyedFrom) };
}

/**
 * The hub's audit key, made on first open for a hub that predates it. Upgrade path: the existing entries are not
 * rewritten (re-keying them would also launder any edit made before the upgrade); the key starts keying at the next
 * entry, recorded in the key file. The entry count is read while holding the store's writer lock, so no entry can be
 * appended between reading it and writing the file; two processes upgrading at once both end up with the first file.
 */
export async function openAuditKey(db: Database, path: string): Promise<AuditKey> {
  if (existsSync(path)) return readAuditKey(path);
  return db.transaction(async (t) => {
    const [table] = await t.all<{ n: number }>(
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = 'audit_log'",
    );
    let next = 1;
    if (Number(table?.n ?? 0) > 0) {
      const [last] = await t.all<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM audit_log');
      next = Number(last?.seq ?? 0) + 1;
    }
    try {
      return writeAuditKey(path, next);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readAuditKey(path);
      throw e;
    }
  });
}
