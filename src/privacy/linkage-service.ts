import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HealthmeshError } from '../core/index.js';
import type { LinkageKey } from './linkage-token.js';
import { issueLinkageKey } from './linkage-token.js';

/**
 * The linkage service (the role a designated data-combination agency plays): it alone holds the master key and
 * issues each hub its own linkage scalar. A directory with `master.key` (owner-only) and `issued.ndjson`, the
 * record of what was issued to whom (hub, key id, time; never the key).
 */
export class LinkageService {
  private constructor(
    readonly dir: string,
    private readonly master: Buffer,
  ) {}

  static init(dir: string): LinkageService {
    const d = resolve(dir);
    const keyFile = join(d, 'master.key');
    if (existsSync(keyFile)) {
      throw new HealthmeshError('LINKAGE_ALREADY_INITIALISED', `a linkage service already exists in ${d}`, {
        file: keyFile,
      });
    }
    mkdirSync(d, { recursive: true, mode: 0o700 });
    const master = randomBytes(32);
    writeFileSync(keyFile, master, { mode: 0o600, flag: 'wx' });
    return new LinkageService(d, master);
  }

  static open(dir: string): LinkageService {
    const d = resolve(dir);
    const keyFile = join(d, 'master.key');
    if (!existsSync(keyFile)) {
      throw new HealthmeshError(
        'LINKAGE_NOT_INITIALISED',
        `no linkage service in ${d}: run \`healthmesh linkage init\``,
        {
          file: keyFile,
        },
      );
    }
    const master = readFileSync(keyFile);
    if (master.length !== 32)
      throw new HealthmeshError('LINKAGE_INVALID_KEY', `${keyFile} must hold 32 bytes`, { file: keyFile });
    return new LinkageService(d, master);
  }

  /** Derive and record the key of one hub (the same hub always gets the same key from one service). */
  issue(hub: string, now: Date): LinkageKey {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(hub)) {
      throw new HealthmeshError('LINKAGE_INVALID_KEY', `hub name ${hub} is not a lower-case hub name`);
    }
    const key = issueLinkageKey(this.master, hub, now);
    appendFileSync(
      join(this.dir, 'issued.ndjson'),
      `${JSON.stringify({ hub, keyId: key.keyId, issuedAt: key.issuedAt })}\n`,
      {
        mode: 0o600,
      },
    );
    return key;
  }
}
