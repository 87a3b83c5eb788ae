import { describe, expect, it } from 'vitest';
import type { Random } from '../core/index.js';
import { seededRandom } from '../core/index.js';
import type { ReleasedHistogram } from './index.js';
import { gridCell, poolQuantiles, releaseHistogram, VALUE_GRID_RATIO } from './index.js';

const EXACT = { threshold: 10, rounding: 1, minCellSize: 10 };
const POLICY = { threshold: 10, rounding: 5, minCellSize: 10 };

function cellsOf(values: readonly number[]): { cell: number | null; count: number }[] {
  const m = new Map<number | null, number>();
  for (const v of values) m.set(gridCell(v), (m.get(gridCell(v)) ?? 0) + 1);
  return [...m].map(([cell, count]) => ({ cell, count }));
}

function logNormal(rng: Random, n: number, mu: number, sigma: number): number[] {
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    return Math.exp(mu + sigma * z);
  });
}

/** The p-quantile as the smallest value with at least p·N values at or below it (what the bounds bracket). */
function trueQuantile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

describe('histograms released for pooled quantiles', () => {
  it('bins hold at least the threshold, edges sit on the grid, and both outer bins are open', () => {
    const values = logNormal(seededRandom(1), 437, 1.8, 0.2);
    const h = releaseHistogram(cellsOf(values), EXACT);
    if (h === null) throw new Error('expected a histogram');
    expect(h.counts.length).toBe(h.edges.length + 1);
    expect(h.counts.every((c) => c >= 10)).toBe(true);
    expect(h.counts.reduce((s, c) => s + c, 0)).toBe(437);
    for (const e of h.edges) {
      const i = Math.log(e) / Math.log(VALUE_GRID_RATIO);
      expect(Math.abs(i - Math.round(i))).toBeLessThan(1e-9);
    }
    // No published edge is at or beyond the smallest or largest value: the extremes stay inside open bins.
    expect(h.edges[0]!).toBeGreaterThan(Math.min(...values));
    expect(h.edges.at(-1)!).toBeLessThan(Math.max(...values));
    const rounded = releaseHistogram(cellsOf(values), POLICY);
    expect(rounded?.counts.every((c) => c % 5 === 0)).toBe(true);
  });

  it('releases nothing when two bins of the threshold cannot be filled', () => {
    expect(releaseHistogram(cellsOf(logNormal(seededRandom(2), 19, 1, 0.3)), EXACT)).toBeNull();
    expect(releaseHistogram(cellsOf(logNormal(seededRandom(2), 20, 1, 0.3)), EXACT)?.counts).toEqual([10, 10]);
  });

  it('brackets the pooled quantile of three hubs and estimates it within a bin, over random populations', () => {
    const random = seededRandom(42);
    let maxRelativeError = 0;
    for (let trial = 0; trial < 60; trial++) {
      const hubs = [0, 1, 2].map((h) =>
        logNormal(
          random,
          30 + Math.floor(random.next() * 3000),
          1.5 + 0.3 * h * random.next(),
          0.1 + 0.4 * random.next(),
        ),
      );
      const all = hubs.flat().sort((a, b) => a - b);
      const released = hubs.map((v) => releaseHistogram(cellsOf(v), EXACT)).filter((h): h is ReleasedHistogram => !!h);
      expect(released.length).toBe(3);
      const pooled = poolQuantiles(released, [0.25, 0.5, 0.75]);
      for (const p of [0.25, 0.5, 0.75]) {
        const q = pooled[String(p)];
        if (!q) throw new Error(`trial ${trial}: q${p} should be bounded`);
        const truth = trueQuantile(all, p);
        // The grid places a value in (γ^(i-1), γ^i]: the bounds hold to that cell's floating-point edge.
        expect(truth).toBeGreaterThanOrEqual(q.low * (1 - 1e-12));
        expect(truth).toBeLessThanOrEqual(q.high * (1 + 1e-12));
        expect(q.estimate).toBeGreaterThanOrEqual(q.low);
        expect(q.estimate).toBeLessThanOrEqual(q.high);
        maxRelativeError = Math.max(maxRelativeError, Math.abs(q.estimate - truth) / truth);
      }
    }
    console.log(
      `pooled quartiles over 60 random three-hub populations: largest relative error ${maxRelativeError.toFixed(4)}`,
    );
    expect(maxRelativeError).toBeLessThan(0.05);
  });

  it('stays close with rounded counts, and says null for a quantile inside an open outer bin', () => {
    const random = seededRandom(7);
    const hubs = [800, 1500, 400].map((n, h) => logNormal(random, n, 1.6 + 0.1 * h, 0.25));
    const all = hubs.flat().sort((a, b) => a - b);
    const pooled = poolQuantiles(
      hubs.map((v) => releaseHistogram(cellsOf(v), POLICY)!),
      [0.25, 0.5, 0.75],
    );
    for (const p of [0.25, 0.5, 0.75]) {
      const truth = trueQuantile(all, p);
      expect(Math.abs(pooled[String(p)]!.estimate - truth) / truth).toBeLessThan(0.02);
    }
    // Twenty people: two bins of ten, so the quartiles fall in open bins and have no bound.
    const tiny = releaseHistogram(cellsOf(logNormal(random, 20, 1, 0.3)), EXACT)!;
    expect(poolQuantiles([tiny], [0.25, 0.5, 0.75])).toEqual({ '0.25': null, '0.5': expect.any(Object), '0.75': null });
  });

  it('refuses a malformed histogram naming which one', () => {
    expect(() => poolQuantiles([{ edges: [2, 1], counts: [10, 10, 10] }], [0.5])).toThrow(/histogram 1.*increase/);
    expect(() => poolQuantiles([{ edges: [1], counts: [10] }], [0.5])).toThrow(/histogram 1/);
  });
});
