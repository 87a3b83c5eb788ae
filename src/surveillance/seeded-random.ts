/**
 * A small seeded generator (mulberry32) so forecasts are reproducible run to run; forecasters take one as a
 * parameter instead of reaching for Math.random (the project's rule: randomness is injectable).
 */
export interface RandomSource {
  /** A uniform number in [0, 1). */
  next(): number;
}

/** mulberry32: 32-bit state, passes the statistical tests that matter for shuffling and resampling. */
export function seededRandom(seed: number): RandomSource {
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

/** Fisher–Yates shuffle in place. */
export function shuffleInPlace(values: Float64Array, random: RandomSource): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    const t = values[i] as number;
    values[i] = values[j] as number;
    values[j] = t;
  }
}
