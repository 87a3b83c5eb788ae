import { expect, it } from 'vitest';
import { loadRiskTable, riskReference } from '../../test/support/risk-data.js';
import { describeWithSharedData } from '../../test/support/shared-data.js';
import {
  fitBoostedTuned,
  fitLogistic,
  modelCard,
  predictBoosted,
  predictLogistic,
  randomSplit,
  rocAnalysis,
  seededRandom,
  selectRows,
} from './index.js';
import type { RiskModel } from './model-card.js';
import { fitLearner } from './model-training.js';

const tuningOf = (m: RiskModel) => (m.kind === 'boosted' ? m.diagnostics.tuning : undefined);

describeWithSharedData('boosted-tree defaults chosen by internal cross-validation', () => {
  const pima = (() => {
    const ref = riskReference().pima;
    return loadRiskTable('pima-indians-diabetes.csv', ',', ref.predictors);
  })();

  it('keeps up with logistic regression on Pima over five random 70/30 splits (mean held-out AUROC)', () => {
    const logistic: number[] = [];
    const boosted: number[] = [];
    for (let seed = 1; seed <= 5; seed++) {
      const split = randomSplit(pima.rows, 0.3, seededRandom(seed), pima.outcome!);
      const train = selectRows(pima, split.train);
      const test = selectRows(pima, split.test);
      logistic.push(rocAnalysis(predictLogistic(fitLogistic(train), test), test.outcome!).auroc);
      const { model } = fitBoostedTuned(train, { seed });
      boosted.push(rocAnalysis(predictBoosted(model, test), test.outcome!).auroc);
      // Shallow trees and a round count far from the fixed 100 trees of depth 6 that overfit here.
      expect(model.options.maxDepth).toBeLessThanOrEqual(3);
      expect(model.trees).toHaveLength(model.diagnostics.tuning!.chosen.trees);
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    console.log(`Pima, 5 splits: boosted ${mean(boosted).toFixed(4)}, logistic ${mean(logistic).toFixed(4)}`);
    expect(mean(boosted)).toBeGreaterThanOrEqual(mean(logistic) - 0.01);
  }, 60_000);

  it('records the grid, the chosen setting and its CV score; out-of-fold predictions cover every row', () => {
    const { model, outOfFold, fold } = fitBoostedTuned(pima, { seed: 2 });
    const tuning = model.diagnostics.tuning!;
    expect(tuning.folds).toBe(5);
    expect(tuning.grid).toHaveLength(3);
    const best = Math.min(...tuning.grid.map((g) => g.cvLogLoss));
    expect(tuning.cvLogLoss).toBe(best);
    expect(tuning.grid.find((g) => g.cvLogLoss === best)).toMatchObject(tuning.chosen);
    // Out-of-fold log-loss well below the prevalence-only model's (~0.647 on Pima).
    expect(tuning.cvLogLoss).toBeLessThan(0.52);
    expect(outOfFold.every((p) => p > 0 && p < 1)).toBe(true);
    expect(new Set(fold)).toEqual(new Set([0, 1, 2, 3, 4]));
    // Stratified: every fold keeps the prevalence within one row.
    const events = pima.outcome!.reduce((a, b) => a + b, 0);
    for (let f = 0; f < 5; f++) {
      const inFold = pima.outcome!.filter((_, i) => fold[i] === f);
      expect(Math.abs(inFold.reduce((a, b) => a + b, 0) - events / 5)).toBeLessThanOrEqual(1);
    }
    expect(rocAnalysis(outOfFold, pima.outcome!).auroc).toBeGreaterThan(0.8);
  }, 30_000);

  it('tunes only when the spec gives no hyper-parameter, and the card says how the setting was chosen', () => {
    const tuned = fitLearner({ kind: 'boosted' }, pima);
    const card = modelCard(tuned.model, pima, {
      title: 't',
      cohort: { description: 'Pima', outcome: 'diabetes' },
      evaluations: tuned.evaluations,
      intendedUse: 'tests',
      limitations: ['tests', ...tuned.limitations],
    });
    expect(card.learner.settings.chosenBy).toMatch(/^internal 5-fold cross-validation with early stopping/);
    expect(card.learner.settings.maxDepth).toBe(tuningOf(tuned.model)!.chosen.maxDepth);
    expect(card.evaluations.map((e) => e.name)).toEqual([
      'internal 5-fold cross-validation of the training rows, boosted trees (out-of-fold)',
      'internal 5-fold cross-validation of the training rows, logistic regression on the same folds (out-of-fold)',
    ]);
    const [b, l] = card.evaluations.map((e) => e.report.overall.auroc!);
    expect(card.limitations.some((x) => x.startsWith('Boosted trees fall behind'))).toBe(b! < l! - 0.01);

    const fixed = fitLearner({ kind: 'boosted', trees: 20, maxDepth: 2 }, pima);
    expect(fixed.model.kind).toBe('boosted');
    expect(tuningOf(fixed.model)).toBeUndefined();
    expect(fixed.evaluations).toEqual([]);
  }, 30_000);
});
