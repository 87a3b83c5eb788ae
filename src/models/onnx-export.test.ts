import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { simulateRisk } from '../../test/support/simulated-risk.js';
import type { FeatureMatrix } from './index.js';
import {
  boostedToOnnx,
  featureMatrix,
  fitBoosted,
  fitLogistic,
  logisticToOnnx,
  ONNX_INPUT,
  ONNX_OUTPUT,
  predictBoosted,
  predictLogistic,
  seededRandom,
} from './index.js';

/** Run an exported model in ONNX Runtime on the matrix's rows. */
async function runOnnx(bytes: Uint8Array, m: FeatureMatrix): Promise<Float64Array> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const input = new ort.Tensor('float64', m.values, [m.rows, m.names.length]);
    const result = await session.run({ [ONNX_INPUT]: input });
    const out = result[ONNX_OUTPUT]!;
    expect(out.dims).toEqual([m.rows, 1]);
    return Float64Array.from(out.data as Float64Array | Float32Array);
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Some values replaced by NaN, to exercise the learned default directions. */
function withGaps(m: FeatureMatrix, fraction: number, seed: number): FeatureMatrix {
  const rng = seededRandom(seed);
  const values = Float64Array.from(m.values, (v) => (rng.next() < fraction ? Number.NaN : v));
  return featureMatrix(m.names, values, m.outcome);
}

describe('ONNX export, checked in onnxruntime-node', () => {
  it('reproduces logistic regression probabilities to 1e-6', async () => {
    const { matrix } = simulateRisk(5000, 8, 41);
    const model = fitLogistic(matrix);
    const ours = predictLogistic(model, matrix);
    const theirs = await runOnnx(logisticToOnnx(model), matrix);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-6);
  });

  it('reproduces boosted-tree probabilities to 1e-6, missing values included', async () => {
    const train = withGaps(simulateRisk(6000, 6, 42, true).matrix, 0.1, 1);
    const model = fitBoosted(train, { trees: 80, maxDepth: 5, learningRate: 0.2 });
    expect(model.trees.some((t) => t.missingLeft.some((left, k) => left && t.feature[k]! >= 0))).toBe(true);
    const scored = withGaps(simulateRisk(4000, 6, 43, true).matrix, 0.15, 2);
    const ours = predictBoosted(model, scored);
    const theirs = await runOnnx(boostedToOnnx(model), scored);
    expect(maxAbsDiff(ours, theirs)).toBeLessThan(1e-6);
  });

  it('exports a boosted model that kept no trees as its base rate', async () => {
    const { matrix } = simulateRisk(500, 2, 44);
    const model = { ...fitBoosted(matrix, { trees: 1 }), trees: [] };
    const theirs = await runOnnx(boostedToOnnx(model), matrix);
    const base = 1 / (1 + Math.exp(-model.baseScore));
    expect(maxAbsDiff(theirs, new Float64Array(matrix.rows).fill(base))).toBeLessThan(1e-6);
  });
});
