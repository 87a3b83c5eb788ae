import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { HealthmeshError } from '../core/index.js';
import type { LinkageKey } from './linkage-token.js';
import { x25519, x25519Scalar } from './linkage-token.js';

function decodePoint(p: string): Buffer {
  const b = Buffer.from(p, 'base64url');
  if (b.length !== 32 || !/^[A-Za-z0-9_-]{43}$/.test(p)) {
    throw new HealthmeshError('LINKAGE_INVALID_SUBMISSION', 'a linkage point must be 32 bytes in base64url');
  }
  return b;
}

/**
 * One hub's part in one federated distinct count (docs/linkage.md). Every set of tokens travels a ring through
 * all hubs; each hub multiplies every point it handles by its own per-query scalar r_h, and points from other
 * hubs also by its linkage scalar k_h (its own tokens carry k_h already). After the ring every person's point is
 * [Π r_h k_h]·H(rrn) whichever hub it started at, so equal people give equal values, and no hub ever sees a value
 * it could compare with its own tokens. Output is sorted, so order says nothing about which person is which.
 */
export class LinkageBlinder {
  private readonly linkage: KeyObject;
  private readonly query: KeyObject;

  /** `queryScalar`: fresh random bytes per query (kept only while the query runs). */
  constructor(key: LinkageKey, queryScalar: Uint8Array = randomBytes(32)) {
    this.linkage = x25519Scalar(key.scalar);
    this.query = x25519Scalar(queryScalar);
  }

  /**
   * The first step of this hub's own set: its distinct tokens blinded by r_h, padded with random dummies to the
   * next multiple of `block` above the count, so the hubs downstream learn the size only to within a block. The
   * number of dummies goes to the coordinator alone, which subtracts it.
   */
  start(tokens: Iterable<string>, block: number): { points: string[]; dummies: number } {
    const out: string[] = [];
    for (const t of new Set(tokens)) out.push(x25519(this.query, decodePoint(t)).toString('base64url'));
    const padded = Math.ceil((out.length + 1) / block) * block;
    const dummies = padded - out.length;
    for (let i = 0; i < dummies; i++) out.push(x25519(this.query, randomBytes(32)).toString('base64url'));
    return { points: out.sort(), dummies };
  }

  /**
   * A matching protocol's steps keep order (the consent reach of mydata): `blind` gives [r_h]·t for this hub's own
   * tokens and `forwardInOrder` [r_h k_h]·p for another hub's points, each in the order given, so the hub that
   * sent a set can tell which of its own entries came back equal. Only the sender knows what its order means.
   */
  blind(tokens: readonly string[]): string[] {
    return tokens.map((t) => x25519(this.query, decodePoint(t)).toString('base64url'));
  }

  forwardInOrder(points: readonly string[]): string[] {
    return points.map((p) => x25519(this.query, x25519(this.linkage, decodePoint(p))).toString('base64url'));
  }

  /** Random points, as many as asked: padding that no hub's token can equal. */
  dummies(n: number): string[] {
    return Array.from({ length: n }, () => x25519(this.query, randomBytes(32)).toString('base64url'));
  }

  /** Another hub's set passing through: [r_h k_h]·p for each point. */
  forward(points: readonly string[]): string[] {
    return points.map((p) => x25519(this.query, x25519(this.linkage, decodePoint(p))).toString('base64url')).sort();
  }
}

/** The hubs a set visits after its origin, in ring order. */
export function ringAfter(hubs: readonly string[], origin: string): string[] {
  const i = hubs.indexOf(origin);
  if (i === -1) throw new HealthmeshError('LINKAGE_INVALID_SUBMISSION', `${origin} is not in the ring`);
  return [...hubs.slice(i + 1), ...hubs.slice(0, i)];
}

/**
 * The coordinator's merge: the number of distinct people across the hubs' fully blinded sets, less the dummies
 * the hubs added. Each person counts once however many hubs treated them.
 */
export function distinctCount(fullyBlinded: readonly (readonly string[])[], dummies: number): number {
  const seen = new Set<string>();
  for (const set of fullyBlinded) for (const p of set) seen.add(p);
  const n = seen.size - dummies;
  if (n < 0) throw new HealthmeshError('LINKAGE_INVALID_SUBMISSION', 'more dummies reported than points received');
  return n;
}
