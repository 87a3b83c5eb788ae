import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/support/error-code.js';
import { simulateRisk } from '../../test/support/simulated-risk.js';
import { binOf, fitBinEdges } from './feature-binning.js';
import type { BoostedModel, FeatureMatrix } from './index.js';
import {
  boostedScores,
  featureMatrix,
  featureMatrixFromRows,
  fitBoosted,
  fitLogistic,
  predictBoosted,
  predictLogistic,
  rocAnalysis,
  seededRandom,
} from './index.js';

function meanLogLoss(p: Float64Array, y: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s -= y[i]! === 1 ? Math.log(p[i]!) : Math.log(1 - p[i]!);
  return s / p.length;
}

/** Depth and the training rows reaching each leaf, walking the raw thresholds. */
function leafStats(model: BoostedModel, m: FeatureMatrix): { maxDepth: number; minLeafRows: number } {
  let maxDepth = 0;
  let minLeafRows = Number.POSITIVE_INFINITY;
  const p = m.names.length;
  for (const tree of model.trees) {
    const counts = new Map<number, number>();
    for (let i = 0; i < m.rows; i++) {
      let node = 0;
      let depth = 0;
      while (tree.feature[node]! >= 0) {
        const v = m.values[i * p + tree.feature[node]!]!;
        const goLeft = Number.isNaN(v) ? tree.missingLeft[node]! : v <= tree.threshold[node]!;
        node = goLeft ? tree.left[node]! : tree.right[node]!;
        depth++;
      }
      maxDepth = Math.max(maxDepth, depth);
      counts.set(node, (counts.get(node) ?? 0) + 1);
    }
    for (const c of counts.values()) minLeafRows = Math.min(minLeafRows, c);
  }
  return { maxDepth, minLeafRows };
}

describe('gradient-boosted trees', () => {
  const train = simulateRisk(8000, 6, 21, true);
  const test = simulateRisk(8000, 6, 22, true);

  it('finds the threshold interaction a linear model misses, near the AUROC of the true risk', () => {
    const model = fitBoosted(train.matrix, { trees: 150, learningRate: 0.1, maxDepth: 3 });
    const y = test.matrix.outcome!;
    const truth = rocAnalysis(test.risk, y).auroc;
    const boosted = rocAnalysis(predictBoosted(model, test.matrix), y).auroc;
    const linear = rocAnalysis(predictLogistic(fitLogistic(train.matrix), test.matrix), y).auroc;
    expect(boosted).toBeGreaterThan(0.97 * truth);
    expect(boosted).toBeGreaterThan(linear);
  });

  it('respects maximum depth and minimum leaf size, and its binned training path equals raw prediction', () => {
    const model = fitBoosted(train.matrix, { trees: 20, maxDepth: 4, minLeafSize: 50, validationFraction: 0 });
    const stats = leafStats(model, train.matrix);
    expect(stats.maxDepth).toBeLessThanOrEqual(4);
    expect(stats.minLeafRows).toBeGreaterThanOrEqual(50);
    const p = predictBoosted(model, train.matrix);
    expect(meanLogLoss(p, train.matrix.outcome!)).toBeCloseTo(model.diagnostics.trainLoss.at(-1)!, 10);
    // Training loss falls with every tree.
    const path = model.diagnostics.trainLoss;
    for (let k = 1; k < path.length; k++) expect(path[k]!).toBeLessThan(path[k - 1]!);
  });

  it('is deterministic for a seed and uses the injected generator', () => {
    const options = { trees: 15, subsample: 0.7, maxDepth: 3 };
    const a = fitBoosted(train.matrix, { ...options, seed: 5 });
    const b = fitBoosted(train.matrix, { ...options, seed: 5 });
    const c = fitBoosted(train.matrix, { ...options, random: seededRandom(6) });
    const d = fitBoosted(train.matrix, { ...options, seed: 6 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.trees)).not.toBe(JSON.stringify(c.trees));
    expect(JSON.stringify(c.trees)).toBe(JSON.stringify(d.trees));
  });

  it('stops early when the validation loss stops improving and keeps the best trees', () => {
    const noisy = simulateRisk(3000, 6, 31);
    const model = fitBoosted(noisy.matrix, { trees: 400, learningRate: 0.3, maxDepth: 5, patience: 5 });
    const d = model.diagnostics;
    expect(d.stoppedEarly).toBe(true);
    expect(model.trees).toHaveLength(d.bestIteration);
    expect(d.validationLoss).toHaveLength(d.bestIteration + 5 + 1);
    expect(Math.min(...d.validationLoss)).toBe(d.validationLoss[d.bestIteration]);
    expect(d.validationRows).toBe(300);
  });

  it('learns where missing values go when missingness carries risk', () => {
    // x0 is missing for a third of rows, and those rows have the outcome far more often.
    const rng = seededRandom(3);
    const rows: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 6000; i++) {
      const missing = rng.next() < 1 / 3;
      const x0 = rng.next() * 2 - 1;
      const x1 = rng.next() * 2 - 1;
      const logit = (missing ? 1.5 : -1 + x0) + 0.5 * x1;
      y.push(rng.next() < 1 / (1 + Math.exp(-logit)) ? 1 : 0);
      rows.push([missing ? Number.NaN : x0, x1]);
    }
    const m = featureMatrixFromRows(['x0', 'x1'], rows, y);
    const model = fitBoosted(m, { trees: 60, maxDepth: 3 });
    const probe = featureMatrixFromRows(
      ['x0', 'x1'],
      [
        [Number.NaN, 0],
        [-0.9, 0],
      ],
    );
    const [missingRisk, lowRisk] = predictBoosted(model, probe);
    expect(missingRisk!).toBeGreaterThan(0.7);
    expect(lowRisk!).toBeLessThan(0.3);
  });

  it('routes a missing value it never saw in training to a side and returns a finite probability', () => {
    const model = fitBoosted(train.matrix, { trees: 10, maxDepth: 3 });
    const row = Array.from(train.matrix.values.subarray(0, 6));
    row[0] = Number.NaN;
    const p = predictBoosted(model, featureMatrixFromRows(train.matrix.names, [row]));
    expect(Number.isFinite(p[0]!)).toBe(true);
  });

  it('never splits on a constant feature and lists it', () => {
    const rows = Array.from({ length: train.matrix.rows }, (_, i) => [train.matrix.values[i * 6]!, 4]);
    const m = featureMatrixFromRows(['x0', 'flat'], rows, train.matrix.outcome!);
    const model = fitBoosted(m, { trees: 10 });
    expect(model.diagnostics.constantFeatures).toEqual(['flat']);
    expect(model.trees.every((t) => !t.feature.includes(1))).toBe(true);
  });

  it('refuses bad input with codes', () => {
    expect(codeOf(() => fitBoosted(featureMatrix(['a'], new Float64Array(0), [])))).toBe('MODEL_EMPTY_DATA');
    expect(codeOf(() => fitBoosted(featureMatrixFromRows(['a'], [[1], [2]], [0, 0])))).toBe('MODEL_SINGLE_CLASS');
    const allMissing = featureMatrixFromRows(
      ['a', 'b'],
      Array.from({ length: 50 }, (_, i) => [i, Number.NaN]),
      Array.from({ length: 50 }, (_, i) => i % 2),
    );
    expect(codeOf(() => fitBoosted(allMissing))).toBe('MODEL_ALL_MISSING_FEATURE');
    const infinite = featureMatrixFromRows(['a'], [[1], [Number.POSITIVE_INFINITY], [3], [4]], [0, 1, 0, 1]);
    expect(codeOf(() => fitBoosted(infinite))).toBe('MODEL_NOT_FINITE');
    expect(codeOf(() => fitBoosted(train.matrix, { learningRate: 0 }))).toBe('MODEL_INVALID_OPTION');
    expect(codeOf(() => fitBoosted(train.matrix, { maxBins: 256 }))).toBe('MODEL_INVALID_OPTION');
    const model = fitBoosted(train.matrix, { trees: 2 });
    const inf = Array.from(train.matrix.values.subarray(0, 6));
    inf[2] = Number.NEGATIVE_INFINITY;
    expect(codeOf(() => boostedScores(model, featureMatrixFromRows(train.matrix.names, [inf])))).toBe(
      'MODEL_NOT_FINITE',
    );
  });
});

describe('quantile binning', () => {
  it('keeps at most 255 value bins and puts x in bin ≤ b exactly when x ≤ edges[b]', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), {
          minLength: 1,
          maxLength: 2000,
        }),
        fc.integer({ min: 2, max: 255 }),
        (xs, maxBins) => {
          const m = featureMatrix(['x'], Float64Array.from(xs));
          const edges = fitBinEdges(m, seededRandom(1), maxBins).edges[0]!;
          expect(edges.length + 1).toBeLessThanOrEqual(maxBins);
          for (let k = 1; k < edges.length; k++) expect(edges[k]!).toBeGreaterThan(edges[k - 1]!);
          for (const x of xs) {
            const bin = binOf(x, edges);
            for (let b = 0; b < edges.length; b++) expect(bin <= b).toBe(x <= edges[b]!);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('separates adjacent doubles (a fast-check counterexample: the midpoint rounded onto the upper value)', () => {
    const xs = [999999.9999999992, 999999.9999999994, 999999.9999999993, 0];
    const edges = fitBinEdges(featureMatrix(['x'], Float64Array.from(xs)), seededRandom(1), 4).edges[0]!;
    expect(edges.length).toBe(3);
    for (let k = 1; k < edges.length; k++) expect(edges[k]!).toBeGreaterThan(edges[k - 1]!);
    for (const x of xs) {
      const bin = binOf(x, edges);
      for (let b = 0; b < edges.length; b++) expect(bin <= b).toBe(x <= edges[b]!);
    }
  });
});
