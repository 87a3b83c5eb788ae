/**
 * A secure scalar product with a helper (docs/validation.md, "The exact pooled AUROC"): hub A holds a vector e,
 * hub B a vector c, both of K elements of Z_{2^64}; a third hub H learns e·c (mod 2^64) and nothing else, A and B
 * learn nothing of each other's vector. A and B share a seed that H does not know and derive from it masks Ra, Rb
 * (uniform in Z_{2^64}^K) and a scalar r:
 *
 *   A → H: x = e + Ra,  α = x·Rb + r        B → H: y = c + Rb,  β = Ra·c − r
 *   H:     x·y − α − β = e·c + Ra·c + e·Rb + Ra·Rb − e·Rb − Ra·Rb − r − Ra·c + r = e·c
 *
 * x and y are uniform whatever e and c are, and α is uniform because of r, so H's view is e·c and noise (a
 * semi-honest H that colludes with neither). Vectors are little-endian pairs of 32-bit words (low, high) in a
 * Uint32Array of 2K words: the bytes that cross the wire, and arithmetic without BigInt in the loops (a BigInt per
 * element is ~50× slower here).
 */
import { createCipheriv, hkdfSync } from 'node:crypto';

const TWO32 = 4294967296;
const MASK64 = (1n << 64n) - 1n;

/** A vector of Z_{2^64}: element i is words 2i (low) and 2i + 1 (high). */
export type Ring64Vector = Uint32Array;

/** Counts (non-negative integers below 2^53) as a ring vector. */
export function ringVector(counts: ArrayLike<number>): Ring64Vector {
  const v = new Uint32Array(2 * counts.length);
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (!(Number.isInteger(n) && n >= 0 && n < 2 ** 53)) throw new RangeError(`element ${i} is not a count`);
    v[2 * i] = n % TWO32;
    v[2 * i + 1] = Math.floor(n / TWO32);
  }
  return v;
}

/** a + b, element by element, mod 2^64. */
export function addRing(a: Ring64Vector, b: Ring64Vector): Ring64Vector {
  if (a.length !== b.length) throw new RangeError('vectors of different lengths');
  const out = new Uint32Array(a.length);
  for (let i = 0; i < a.length; i += 2) {
    const lo = a[i]! + b[i]!;
    const carry = lo >= TWO32 ? 1 : 0;
    out[i] = lo;
    out[i + 1] = a[i + 1]! + b[i + 1]! + carry;
  }
  return out;
}

/**
 * a·b mod 2^64 in doubles and 32-bit integers: the cross terms aL·bH + aH·bL only matter mod 2^32 (Math.imul);
 * aL·bL is split at 16 bits so each partial product is below 2^48 and exact, and the low accumulator is folded
 * into the high word every 8 elements, before it can pass 2^53.
 */
export function dotRing(a: Ring64Vector, b: Ring64Vector): bigint {
  if (a.length !== b.length) throw new RangeError('vectors of different lengths');
  let lo = 0;
  let hi = 0;
  for (let i = 0, k = 0; i < a.length; i += 2, k++) {
    const aL = a[i]!;
    const bL = b[i]!;
    hi = (hi + Math.imul(aL, b[i + 1]!) + Math.imul(a[i + 1]!, bL)) | 0;
    const p0 = (aL & 0xffff) * bL;
    const p1 = (aL >>> 16) * bL;
    const p1lo = p1 % 65536;
    hi = (hi + (p1 - p1lo) / 65536) | 0;
    lo += p0 + p1lo * 65536;
    if ((k & 7) === 7) {
      const c = Math.floor(lo / TWO32);
      lo -= c * TWO32;
      hi = (hi + c) | 0;
    }
  }
  const c = Math.floor(lo / TWO32);
  lo -= c * TWO32;
  hi = (hi + c) | 0;
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo);
}

/** `cells` uniform elements of Z_{2^64}: the AES-256-CTR keystream of a key HKDF derives from `seed` and `label`. */
function keystream(seed: Uint8Array, label: string, cells: number): Ring64Vector {
  const key = Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), `healthmesh-secure-product/1 ${label}`, 32));
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const bytes = Buffer.concat([cipher.update(Buffer.alloc(8 * cells)), cipher.final()]);
  // A copy: a small Buffer is a view of Node's shared pool, and the vector's bytes are sent as they are.
  return new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 8 * cells));
}

/** The masks A and B derive from their shared seed (H never sees it). */
export interface PairMasks {
  ra: Ring64Vector;
  rb: Ring64Vector;
  r: bigint;
}

/** Ra, Rb and r for vectors of `cells` elements, from a 32-byte seed only A and B hold. */
export function pairMasks(seed: Uint8Array, cells: number): PairMasks {
  if (seed.byteLength < 32) throw new RangeError('the seed must have at least 32 bytes');
  const r = keystream(seed, 'r', 1);
  return {
    ra: keystream(seed, 'Ra', cells),
    rb: keystream(seed, 'Rb', cells),
    r: (BigInt(r[1]!) << 32n) | BigInt(r[0]!),
  };
}

/** A's message to H: x = e + Ra and α = x·Rb + r. */
export function firstShare(e: Ring64Vector, m: PairMasks): { vector: Ring64Vector; scalar: bigint } {
  const x = addRing(e, m.ra);
  return { vector: x, scalar: (dotRing(x, m.rb) + m.r) & MASK64 };
}

/** B's message to H: y = c + Rb and β = Ra·c − r. */
export function secondShare(c: Ring64Vector, m: PairMasks): { vector: Ring64Vector; scalar: bigint } {
  return { vector: addRing(c, m.rb), scalar: (dotRing(m.ra, c) - m.r) & MASK64 };
}

/** H's result: x·y − α − β = e·c (mod 2^64). */
export function helperProduct(
  first: { vector: Ring64Vector; scalar: bigint },
  second: { vector: Ring64Vector; scalar: bigint },
): bigint {
  return (dotRing(first.vector, second.vector) - first.scalar - second.scalar) & MASK64;
}
