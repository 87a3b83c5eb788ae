import type { KeyObject } from 'node:crypto';
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A signed statement of how far the audit chain reached: its last sequence number and hash, the number of entries,
 * when, and the first keyed entry. Each checkpoint links to the one before it (`prev`, the SHA-256 of that line), so
 * a line cut out of the middle of the file breaks the links; the last one is recorded in the chain itself by an
 * `audit-checkpoint` entry, so cutting the last line off is detected too.
 */
export interface AuditCheckpoint {
  v: 1;
  /** 1, 2, 3 … in the order written. */
  n: number;
  seq: number;
  hash: string;
  count: number;
  at: string;
  keyedFrom: number;
  prev: string;
  /** RFC 7638 thumbprint of the hub's Ed25519 key that signed it. */
  kid: string;
  /** Ed25519 signature (base64url) over every field above, in this order. */
  sig: string;
}

/** What signs checkpoints: the hub's Ed25519 identity, handed over by the module that owns it (federation). */
export interface CheckpointSigner {
  privateKey: KeyObject;
  kid: string;
}

/** A fault in the checkpoint file, naming the checkpoint (by its number) and the entry it covers. */
export interface CheckpointFault {
  checkpoint: number;
  seq: number;
  reason: string;
}

export const GENESIS = '0'.repeat(64);

function signedPayload(c: Omit<AuditCheckpoint, 'sig'>): Buffer {
  return Buffer.from(JSON.stringify([c.v, c.n, c.seq, c.hash, c.count, c.at, c.keyedFrom, c.prev, c.kid]));
}

export function lineHash(line: string): string {
  return createHash('sha256').update(line).digest('hex');
}

/** Sign a checkpoint and give its line (no newline). */
export function signCheckpoint(c: Omit<AuditCheckpoint, 'sig' | 'v' | 'kid'>, signer: CheckpointSigner): string {
  const unsigned = { v: 1 as const, ...c, kid: signer.kid };
  const sig = sign(null, signedPayload(unsigned), signer.privateKey).toString('base64url');
  const full: AuditCheckpoint = { ...unsigned, sig };
  return JSON.stringify(full);
}

function parseLine(line: string): AuditCheckpoint | undefined {
  let c: Partial<AuditCheckpoint>;
  try {
    c = JSON.parse(line) as Partial<AuditCheckpoint>;
  } catch {
    return undefined;
  }
  const ints = [c.n, c.seq, c.count, c.keyedFrom];
  const strings = [c.hash, c.at, c.prev, c.kid, c.sig];
  if (c.v !== 1 || !ints.every((x) => Number.isSafeInteger(x)) || !strings.every((x) => typeof x === 'string'))
    return undefined;
  return c as AuditCheckpoint;
}

/**
 * The append-only file of signed checkpoints, outside the store (`<hub>/audit/checkpoints.jsonl`, owner-only).
 * Writers append under the store's writer lock (AuditLog.checkpoint), so processes sharing one PostgreSQL hub never
 * interleave lines.
 */
export class CheckpointFile {
  constructor(readonly path: string) {}

  /** The file's lines, in order (none when it does not exist). */
  lines(): string[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
  }

  append(line: string): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const fd = openSync(this.path, 'a', 0o600);
    try {
      writeSync(fd, `${line}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/**
 * Check the lines of a checkpoint file from `fromIndex` on (all by default): well-formed, numbered 1, 2, 3 … by
 * position, each linked to the line before, signed by the hub's key, and stating the key file's `keyedFrom`.
 * Returns the checkpoints checked, or the first fault.
 */
export function checkCheckpoints(
  lines: readonly string[],
  publicKey: KeyObject | undefined,
  keyedFrom: number,
  fromIndex = 0,
): { checkpoints: AuditCheckpoint[]; fault?: CheckpointFault } {
  const checkpoints: AuditCheckpoint[] = [];
  let prev = fromIndex > 0 && lines[fromIndex - 1] !== undefined ? lineHash(lines[fromIndex - 1]!) : GENESIS;
  for (let i = fromIndex; i < lines.length; i++) {
    const line = lines[i]!;
    const n = i + 1;
    const c = parseLine(line);
    const fault = (reason: string) => ({ checkpoints, fault: { checkpoint: n, seq: c?.seq ?? 0, reason } });
    if (!c) return fault(`line ${n} of the checkpoint file is not a checkpoint`);
    if (c.n !== n)
      return fault(
        c.n > n
          ? `checkpoint ${n} is missing (line ${n} holds checkpoint ${c.n})`
          : `line ${n} holds checkpoint ${c.n}`,
      );
    if (c.prev !== prev) return fault(`checkpoint ${n} does not link to the checkpoint before it`);
    if (!publicKey) return fault(`checkpoint ${n} cannot be checked: the hub has no identity key`);
    const { sig, ...unsigned } = c;
    if (!verify(null, signedPayload(unsigned), publicKey, Buffer.from(sig, 'base64url')))
      return fault(`the signature of checkpoint ${n} does not verify`);
    if (c.keyedFrom !== keyedFrom)
      return fault(`checkpoint ${n} says the audit key starts at entry ${c.keyedFrom}, the key file ${keyedFrom}`);
    checkpoints.push(c);
    prev = lineHash(line);
  }
  return { checkpoints };
}

/** The public half of a signer's key. */
export function publicKeyOf(signer: CheckpointSigner | undefined): KeyObject | undefined {
  return signer && createPublicKey(signer.privateKey);
}
