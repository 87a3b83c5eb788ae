import { expect, it } from 'vitest';
import { loadRiskTable, riskReference } from '../../test/support/risk-data.js';
import { describeWithSharedData } from '../../test/support/shared-data.js';
import {
  bandLabeller,
  evaluatePredictions,
  fitLogistic,
  groupingFromColumn,
  predictLogistic,
  rocAnalysis,
} from './index.js';

describeWithSharedData('logistic regression against the published reference fits', () => {
  const cases = [
    { name: 'Pima (768 rows, 8 predictors)', key: 'pima', file: 'pima-indians-diabetes.csv', sep: ',' },
    {
      name: 'Cleveland (297 complete cases, target > 0, 13 numeric codes)',
      key: 'cleveland',
      file: 'heart-cleveland-processed.tsv',
      sep: '\t',
    },
  ] as const;
  for (const c of cases) {
    it(`reproduces coefficients, log-likelihood and in-sample AUROC to 1e-4: ${c.name}`, () => {
      const ref = riskReference()[c.key];
      const m = loadRiskTable(c.file, c.sep, ref.predictors);
      expect(m.rows).toBe(ref.n);
      expect(m.outcome!.reduce((a, b) => a + b, 0)).toBe(ref.events);
      const model = fitLogistic(m);
      expect(model.diagnostics.converged).toBe(true);
      expect(model.coefficients).toHaveLength(ref.coef_intercept_first.length);
      model.coefficients.forEach((b, j) => {
        expect(Math.abs(b - ref.coef_intercept_first[j]!)).toBeLessThan(1e-4);
      });
      expect(Math.abs(model.diagnostics.logLikelihood - ref.loglik)).toBeLessThan(1e-4);
      const auroc = rocAnalysis(predictLogistic(model, m), m.outcome!).auroc;
      expect(Math.abs(auroc - ref.insample_auroc)).toBeLessThan(1e-4);
      // The deviance falls monotonically along the Newton path and ends at −2ℓ.
      const path = model.diagnostics.deviancePath;
      for (let k = 1; k < path.length; k++) expect(path[k]!).toBeLessThanOrEqual(path[k - 1]! + 1e-9);
      expect(path.at(-1)).toBeCloseTo(-2 * model.diagnostics.logLikelihood, 9);
      expect(model.standardErrors.every((s) => Number.isFinite(s) && s > 0)).toBe(true);
    });
  }

  it('is calibrated in the large and in slope on its own training rows (the score equations), by age band too', () => {
    const ref = riskReference().pima;
    const m = loadRiskTable('pima-indians-diabetes.csv', ',', ref.predictors);
    const p = predictLogistic(fitLogistic(m), m);
    const ageBand = groupingFromColumn(m, 'Age', bandLabeller([30, 45]), 'age band');
    const report = evaluatePredictions(p, m.outcome!, { groupings: [ageBand] });
    // An MLE with an intercept solves Σ(y − p) = 0 and Σ(y − p)·logit(p) = 0: recalibration is the identity.
    expect(Math.abs(report.overall.calibrationIntercept!)).toBeLessThan(1e-8);
    expect(Math.abs(report.overall.calibrationSlope! - 1)).toBeLessThan(1e-8);
    expect(Math.abs(report.overall.auroc! - ref.insample_auroc)).toBeLessThan(1e-4);
    const bands = report.subgroups['age band']!;
    expect(bands.map((b) => b.group).sort()).toEqual(['30–45', '<30', '≥45'].sort());
    expect(bands.reduce((a, b) => a + b.n, 0)).toBe(768);
    expect(bands.reduce((a, b) => a + b.events, 0)).toBe(ref.events);
    for (const b of bands) expect(b.auroc!).toBeGreaterThan(0.5);
  });
});
