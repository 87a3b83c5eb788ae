/** A source of uniform numbers in [0, 1). Learners, splits and forecasters take one, so runs are reproducible. */
export interface Random {
  next(): number;
}

/**
 * A seeded generator (mulberry32: 32-bit state, passes SmallCrush; ample for subsampling, splits and resampling,
 * not for cryptography). The same seed gives the same stream on every platform. (`synth/` has its own sfc32
 * streams: it needs many independent streams derived from labels.)
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return {
    next(): number {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** Fisher–Yates shuffle of 0..n-1 driven by `rng`. */
export function shuffledIndices(n: number, rng: Random): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace(values: Float64Array, rng: Random): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = values[i] as number;
    values[i] = values[j] as number;
    values[j] = t;
  }
}
