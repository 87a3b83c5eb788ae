import { describe, expect, it } from 'vitest';
import { simulateRisk } from '../../test/support/simulated-risk.js';
import { thinFeature } from './federated-logistic.js';
import { featureMatrix, fitLogistic, NewtonIteration, partialNewtonStep, selectRows, sumNewtonParts } from './index.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe('partition-wise Newton steps (the basis of federated logistic regression)', () => {
  const { matrix } = simulateRisk(6000, 6, 11);
  // Three partitions of unequal size, as three hubs would hold.
  const cuts = [0, 900, 3100, 6000];
  const partitions = [0, 1, 2].map((k) =>
    selectRows(
      matrix,
      Uint32Array.from({ length: cuts[k + 1]! - cuts[k]! }, (_, i) => cuts[k]! + i),
    ),
  );

  it('sums three partitions to the pooled gradient and information', () => {
    const beta = Float64Array.from([0.3, -0.2, 0.1, 0.5, 0, -0.4, 0.2]);
    const pooled = partialNewtonStep(matrix, beta);
    const summed = sumNewtonParts(partitions.map((part) => partialNewtonStep(part, beta)));
    expect(summed.rows).toBe(pooled.rows);
    expect(Math.abs(summed.logLikelihood - pooled.logLikelihood)).toBeLessThan(1e-8);
    expect(maxAbsDiff(summed.gradient, pooled.gradient)).toBeLessThan(1e-9);
    expect(maxAbsDiff(summed.information, pooled.information)).toBeLessThan(1e-8);
  });

  it('reaches the pooled fit to 1e-8 in at most 10 rounds of summed parts', () => {
    const pooled = fitLogistic(matrix);
    const newton = new NewtonIteration(matrix.names);
    let rounds = 0;
    for (;;) {
      rounds++;
      const parts = partitions.map((part) => partialNewtonStep(part, newton.beta));
      if (newton.accept(sumNewtonParts(parts))) break;
    }
    const federated = newton.model();
    expect(rounds).toBeLessThanOrEqual(10);
    expect(federated.diagnostics.converged).toBe(true);
    expect(maxAbsDiff(federated.coefficients, pooled.coefficients)).toBeLessThan(1e-8);
    expect(maxAbsDiff(federated.standardErrors, pooled.standardErrors)).toBeLessThan(1e-8);
  });
});

describe('thinFeature', () => {
  it('names a feature that splits the rows into a group under the threshold, missing or zero or not', () => {
    const rows = 40;
    const values = new Float64Array(rows * 3);
    for (let i = 0; i < rows; i++) {
      values[i * 3] = 30 + i; // age: always recorded and non-zero
      values[i * 3 + 1] = i < 20 ? 1 : 0; // a common binary feature
      values[i * 3 + 2] = i < 3 ? 1 : 0; // a rare one: 3 rows
    }
    const m = featureMatrix(['age', 'common', 'rare'], values, new Uint8Array(rows));
    expect(thinFeature(m, 10)).toBe('rare');
    for (let i = 0; i < rows; i++) values[i * 3 + 2] = i < 5 ? Number.NaN : 2; // 5 missing
    expect(thinFeature(m, 10)).toBe('rare');
    for (let i = 0; i < rows; i++) values[i * 3 + 2] = i < 15 ? Number.NaN : 2;
    expect(thinFeature(m, 10)).toBeUndefined();
  });
});
