import { describe, expect, it } from 'vitest';
import { faultOf as codeOf } from '../../test/support/error-code.js';
import { simulateRisk } from '../../test/support/simulated-risk.js';
import type { FeatureMatrix } from './index.js';
import { featureMatrix, featureMatrixFromRows, fitLogistic, predictLogistic } from './index.js';

/** Two features from the simulator, with `edit` applied to every row. */
function withColumns(edit: (row: number[], i: number) => number[], names = ['a', 'b', 'c']): FeatureMatrix {
  const { matrix } = simulateRisk(400, 2, 5);
  const rows = Array.from({ length: matrix.rows }, (_, i) =>
    edit([matrix.values[2 * i]!, matrix.values[2 * i + 1]!], i),
  );
  return featureMatrixFromRows(names, rows, matrix.outcome!);
}

describe('logistic regression on bad input', () => {
  it('refuses an empty dataset', () => {
    expect(codeOf(() => fitLogistic(featureMatrix(['a'], new Float64Array(0), []))).code).toBe('MODEL_EMPTY_DATA');
  });

  it('refuses an outcome with one class', () => {
    const m = featureMatrixFromRows(['a'], [[1], [2], [3]], [1, 1, 1]);
    expect(codeOf(() => fitLogistic(m)).code).toBe('MODEL_SINGLE_CLASS');
  });

  it('refuses an outcome that is not 0 or 1, naming the row', () => {
    expect(codeOf(() => featureMatrixFromRows(['a'], [[1], [2]], [0, 2]))).toEqual({
      code: 'MODEL_BAD_OUTCOME',
      location: { line: 1 },
    });
  });

  it('refuses a constant feature, naming it', () => {
    expect(codeOf(() => fitLogistic(withColumns((r) => [...r, 7])))).toEqual({
      code: 'MODEL_CONSTANT_FEATURE',
      location: { path: 'c' },
    });
  });

  it('refuses a collinear feature, naming it, and fits it with an L2 penalty', () => {
    const m = withColumns((r) => [...r, 2 * r[0]! - 3 * r[1]! + 1]);
    expect(codeOf(() => fitLogistic(m))).toEqual({ code: 'MODEL_COLLINEAR', location: { path: 'c' } });
    const ridge = fitLogistic(m, { l2: 1 });
    expect(ridge.diagnostics.converged).toBe(true);
    expect(ridge.coefficients.every(Number.isFinite)).toBe(true);
    expect(ridge.standardErrors.every(Number.isFinite)).toBe(true);
  });

  it('refuses perfect separation, and fits it with an L2 penalty', () => {
    const rows = Array.from({ length: 60 }, (_, i) => [i - 30, (i * 7) % 5]);
    const y = rows.map((r) => (r[0]! > 0 ? 1 : 0));
    const m = featureMatrixFromRows(['a', 'b'], rows, y);
    expect(codeOf(() => fitLogistic(m)).code).toBe('MODEL_SEPARATION');
    const ridge = fitLogistic(m, { l2: 0.1 });
    expect(ridge.coefficients.every(Number.isFinite)).toBe(true);
    expect(ridge.coefficients[1]!).toBeGreaterThan(0);
  });

  it('refuses quasi-complete separation (a category with only events)', () => {
    const { matrix } = simulateRisk(300, 1, 9);
    const rows = Array.from({ length: matrix.rows }, (_, i) => [matrix.values[i]!, i % 10 === 0 ? 1 : 0]);
    const y = Array.from(matrix.outcome!, (v, i) => (i % 10 === 0 ? 1 : v));
    expect(codeOf(() => fitLogistic(featureMatrixFromRows(['a', 'flag'], rows, y))).code).toBe('MODEL_SEPARATION');
  });

  it('refuses a feature missing in every row before anything else', () => {
    expect(codeOf(() => fitLogistic(withColumns((r) => [...r, Number.NaN])))).toEqual({
      code: 'MODEL_ALL_MISSING_FEATURE',
      location: { path: 'c' },
    });
  });

  it('refuses a missing value, naming its row and feature', () => {
    const m = withColumns((r, i) => [r[0]!, i === 17 ? Number.NaN : r[1]!], ['a', 'b']);
    expect(codeOf(() => fitLogistic(m))).toEqual({ code: 'MODEL_MISSING_VALUE', location: { line: 17, path: 'b' } });
  });

  it('refuses to predict from a vector with NaN or with other features', () => {
    const m = withColumns((r) => r, ['a', 'b']);
    const model = fitLogistic(m);
    const gap = featureMatrixFromRows(
      ['a', 'b'],
      [
        [0.1, 0.2],
        [Number.NaN, 1],
      ],
    );
    expect(codeOf(() => predictLogistic(model, gap))).toEqual({
      code: 'MODEL_MISSING_VALUE',
      location: { line: 1, path: 'a' },
    });
    const other = featureMatrixFromRows(['b', 'a'], [[0.1, 0.2]]);
    expect(codeOf(() => predictLogistic(model, other)).code).toBe('MODEL_SHAPE_MISMATCH');
  });

  it('flags an unconverged fit when asked, and refuses it otherwise', () => {
    const m = withColumns((r) => r, ['a', 'b']);
    expect(codeOf(() => fitLogistic(m, { maxIterations: 1 })).code).toBe('MODEL_NOT_CONVERGED');
    const partial = fitLogistic(m, { maxIterations: 1, allowNonConvergence: true });
    expect(partial.diagnostics.converged).toBe(false);
    expect(partial.diagnostics.iterations).toBe(1);
  });
});

describe('logistic regression standard errors', () => {
  it('equal the closed form for one binary predictor: log OR and √(1/a + 1/b + 1/c + 1/d)', () => {
    // 2x2 table: exposed 30 events / 20 non-events, unexposed 15 / 45.
    const cells = [
      { x: 1, y: 1, n: 30 },
      { x: 1, y: 0, n: 20 },
      { x: 0, y: 1, n: 15 },
      { x: 0, y: 0, n: 45 },
    ];
    const rows: number[][] = [];
    const y: number[] = [];
    for (const c of cells) {
      for (let k = 0; k < c.n; k++) {
        rows.push([c.x]);
        y.push(c.y);
      }
    }
    const model = fitLogistic(featureMatrixFromRows(['exposed'], rows, y));
    expect(model.coefficients[1]).toBeCloseTo(Math.log((30 * 45) / (20 * 15)), 9);
    expect(model.standardErrors[1]).toBeCloseTo(Math.sqrt(1 / 30 + 1 / 20 + 1 / 15 + 1 / 45), 9);
    expect(model.coefficients[0]).toBeCloseTo(Math.log(15 / 45), 9);
  });
});
