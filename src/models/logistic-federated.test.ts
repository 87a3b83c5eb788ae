import { describe, expect, it } from 'vitest';
import { simulateRisk } from '../../test/support/simulated-risk.js';
import { fitLogistic, NewtonIteration, partialNewtonStep, selectRows, sumNewtonParts } from './index.js';

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
    pooled.gradient.forEach((g, j) => expect(Math.abs(summed.gradient[j]! - g)).toBeLessThan(1e-9));
    pooled.information.forEach((h, j) => expect(Math.abs(summed.information[j]! - h)).toBeLessThan(1e-8));
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
    federated.coefficients.forEach((b, j) => expect(Math.abs(b - pooled.coefficients[j]!)).toBeLessThan(1e-8));
    federated.standardErrors.forEach((s, j) => expect(Math.abs(s - pooled.standardErrors[j]!)).toBeLessThan(1e-8));
  });
});
