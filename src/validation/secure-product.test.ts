import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addRing, dotRing, firstShare, helperProduct, pairMasks, ringVector, secondShare } from './secure-product.js';

const MASK64 = (1n << 64n) - 1n;
const words = (n: number) => new Uint32Array(randomBytes(8 * n).buffer.slice(0, 8 * n));
const big = (v: Uint32Array, i: number) => (BigInt(v[2 * i + 1]!) << 32n) | BigInt(v[2 * i]!);
const plainDot = (a: Uint32Array, b: Uint32Array) => {
  let s = 0n;
  for (let i = 0; i < a.length / 2; i++) s += big(a, i) * big(b, i);
  return s & MASK64;
};
const counts = (n: number, max: number, seed: number) => {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % (max + 1);
  });
};

describe('the secure scalar product', () => {
  it('computes a dot product of random ring vectors mod 2^64 as BigInt does', () => {
    for (const n of [1, 7, 8, 9, 1000]) {
      const a = words(n);
      const b = words(n);
      expect(dotRing(a, b), `n ${n}`).toBe(plainDot(a, b));
      const sum = addRing(a, b);
      for (let i = 0; i < n; i++) expect(big(sum, i)).toBe((big(a, i) + big(b, i)) & MASK64);
    }
    // The largest words: every partial product and carry at its limit.
    const ones = new Uint32Array(2 * 64).fill(0xffffffff);
    expect(dotRing(ones, ones)).toBe(plainDot(ones, ones));
  });

  it("gives the helper the plain dot product of A's and B's vectors", () => {
    const e = counts(5000, 40, 1);
    const c = counts(5000, 3000, 2);
    const seed = randomBytes(32);
    const m = pairMasks(seed, e.length);
    const got = helperProduct(firstShare(ringVector(e), m), secondShare(ringVector(c), m));
    expect(got).toBe(BigInt(e.reduce((s, v, i) => s + v * c[i]!, 0)));
  });

  it('gives the helper messages that depend on the seed, not only on the data', () => {
    const e1 = ringVector(counts(256, 5, 3));
    const e2 = ringVector(counts(256, 5, 4));
    const c1 = ringVector(counts(256, 90, 5));
    const c2 = ringVector(counts(256, 90, 6));
    const seed = randomBytes(32);
    const m = pairMasks(seed, 256);
    const other = pairMasks(randomBytes(32), 256);
    const bytes = (v: Uint32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    const same = (a: Uint32Array, b: Uint32Array) => bytes(a).equals(bytes(b));
    // Two datasets, one seed: different x and y (the masks are added, not xor-ed away).
    expect(same(firstShare(e1, m).vector, firstShare(e2, m).vector)).toBe(false);
    expect(same(secondShare(c1, m).vector, secondShare(c2, m).vector)).toBe(false);
    // One dataset, two seeds: every message differs, so H cannot match a message to data it has seen.
    expect(same(firstShare(e1, m).vector, firstShare(e1, other).vector)).toBe(false);
    expect(same(secondShare(c1, m).vector, secondShare(c1, other).vector)).toBe(false);
    expect(firstShare(e1, m).scalar).not.toBe(firstShare(e1, other).scalar);
    expect(secondShare(c1, m).scalar).not.toBe(secondShare(c1, other).scalar);
    // And the same seed gives the same masks at A and B, which is what makes H's sum exact.
    expect(same(pairMasks(seed, 256).ra, m.ra)).toBe(true);
    // A zero vector's message is the mask itself: x carries no trace of e beyond e + Ra.
    const zero = ringVector(new Array<number>(256).fill(0));
    expect(same(firstShare(zero, m).vector, m.ra)).toBe(true);
  });

  it('refuses a value that is not a count', () => {
    expect(() => ringVector([1, -1])).toThrow(RangeError);
    expect(() => ringVector([0.5])).toThrow(RangeError);
  });
});
