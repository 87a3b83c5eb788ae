import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { relativeWis, type ScoredForecast } from './forecast-scoring.js';
import { intervalScore } from './interval-score.js';
import { quantileSorted, quantilesOf } from './order-statistics.js';
import { QUANTILE_LEVELS } from './quantile-forecast.js';

function pinballWis(q: ArrayLike<number>, y: number): number {
  // Bracher et al. 2021, eq. 3: WIS = (1 / (K + 1/2)) Σ over all 2K + 1 levels of the pinball loss.
  let s = 0;
  for (let i = 0; i < 23; i++) {
    const tau = QUANTILE_LEVELS[i] as number;
    const v = q[i] as number;
    s += ((y < v ? 1 : 0) - tau) * (v - y);
  }
  return s / 11.5;
}

describe('weighted interval score', () => {
  it('is worked by hand for a point forecast and matches a symmetric one', () => {
    const point = new Float64Array(23).fill(10);
    // Every interval has width 0; y = 14 is 4 above all bounds: (0.5·4 + Σ α/2 · 2/α · 4) / 11.5 = (2 + 44) / 11.5.
    expect(intervalScore(point, 14).wis).toBeCloseTo(46 / 11.5, 12);
    const q = Float64Array.from(QUANTILE_LEVELS, (t) => 100 * t);
    const s = intervalScore(q, 50);
    expect(s.absoluteError).toBe(0);
    expect(s.overprediction + s.underprediction).toBe(0);
    expect(s.covered50 && s.covered95).toBe(true);
    expect(s.wis).toBeCloseTo(pinballWis(q, 50), 12);
  });

  it('equals the quantile (pinball) form of Bracher et al. and its parts add up', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 23, maxLength: 23 }),
        fc.double({ min: 0, max: 1e4, noNaN: true }),
        (raw, y) => {
          const q = Float64Array.from(raw).sort();
          const s = intervalScore(q, y);
          expect(s.wis).toBeCloseTo(pinballWis(q, y), 6);
          expect(s.dispersion + s.overprediction + s.underprediction).toBeCloseTo(s.wis, 6);
        },
      ),
    );
  });

  it('counts coverage with the bounds included, as FluSight does', () => {
    const q = Float64Array.from(QUANTILE_LEVELS, (t) => Math.round(10 * t));
    // Levels 6 and 16 are 0.25 and 0.75: a truth on either bound is covered.
    expect(intervalScore(q, q[6] as number).covered50).toBe(true);
    expect(intervalScore(q, q[16] as number).covered50).toBe(true);
    expect(intervalScore(q, (q[16] as number) + 0.5).covered50).toBe(false);
  });

  it('takes the 50% interval from the 0.25 and 0.75 levels and the 95% one from 0.025 and 0.975', () => {
    // Quantile τ at 1000 τ: the truth 220 lies between q0.20 and q0.25, so a 50% interval read from the 0.20/0.80
    // levels would cover it; 760 lies between q0.75 and q0.80.
    const q = Float64Array.from(QUANTILE_LEVELS, (t) => 1000 * t);
    expect(intervalScore(q, 220).covered50).toBe(false);
    expect(intervalScore(q, 760).covered50).toBe(false);
    expect(intervalScore(q, 250).covered50).toBe(true);
    expect(intervalScore(q, 750).covered50).toBe(true);
    expect(intervalScore(q, 20).covered95).toBe(false);
    expect(intervalScore(q, 25).covered95).toBe(true);
    expect(intervalScore(q, 975).covered95).toBe(true);
    expect(intervalScore(q, 980).covered95).toBe(false);
  });
});

describe('relative WIS', () => {
  const s = (location: string, wis: number): ScoredForecast => ({
    referenceDay: 0,
    location,
    horizon: 0,
    observed: 0,
    wis,
    wisLog: wis,
    absoluteError: 0,
    covered50: true,
    covered95: true,
  });

  it('is the ratio of mean WIS over common forecasts for two models', () => {
    const models = new Map([
      ['a', [s('x', 1), s('y', 3), s('z', 100)]],
      ['b', [s('x', 2), s('y', 6)]],
    ]);
    expect(relativeWis(models, 'b', 'natural').get('a')).toBeCloseTo(0.5, 12);
  });

  it('takes geometric means of pairwise ratios over all models (Cramer et al. 2022)', () => {
    const models = new Map([
      ['a', [s('x', 1)]],
      ['b', [s('x', 2)]],
      ['c', [s('x', 8)]],
    ]);
    // θ_a = (1 · 1/2 · 1/8)^(1/3), θ_b = (2 · 1 · 1/4)^(1/3): θ_a / θ_b = (1/16 ÷ 1/2)^(1/3) = 1/2.
    expect(relativeWis(models, 'b', 'natural').get('a')).toBeCloseTo(0.5, 12);
  });

  it('refuses models that share no forecast', () => {
    const models = new Map([
      ['a', [s('x', 1)]],
      ['b', [s('y', 2)]],
    ]);
    expect(() => relativeWis(models, 'b')).toThrow(
      expect.objectContaining({ code: 'SURVEILLANCE_NO_COMMON_FORECASTS' }),
    );
  });
});

describe('type-7 quantiles in linear time', () => {
  it('match the quantiles of the sorted values, ties included', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 3000 }), (raw) => {
        const values = Float64Array.from(raw);
        const sorted = Float64Array.from(raw).sort();
        const out = new Float64Array(23);
        quantilesOf(values, QUANTILE_LEVELS, out);
        QUANTILE_LEVELS.forEach((p, i) => {
          expect(out[i]).toBeCloseTo(quantileSorted(sorted, p), 9);
        });
      }),
      { numRuns: 200 },
    );
  });
});
