import { describe, expect, it } from 'vitest';
import { simulateRisk } from '../../test/support/simulated-risk.js';
import { ReleaseGate } from '../privacy/index.js';
import { evaluatePredictions, fitLogistic, modelCard, predictLogistic, releaseModelCard } from './index.js';

const GATE = new ReleaseGate({ threshold: 10, rounding: 5, minCellSize: 10 });

describe('releaseModelCard', () => {
  it('withholds subgroups and calibration bins of too few people and rounds the counts', () => {
    const { matrix } = simulateRisk(600, 3, 5, true);
    const model = fitLogistic(matrix);
    const p = predictLogistic(model, matrix);
    // A region of 6 people beside one of 594: the small one must not be released.
    const region = Array.from({ length: matrix.rows }, (_, i) => (i < 6 ? 'island' : 'mainland'));
    const report = evaluatePredictions(p, matrix.outcome!, { groupings: [{ name: 'region', labels: region }] });
    const card = modelCard(model, matrix, {
      title: 'Simulated',
      cohort: { description: 'simulated', outcome: 'event' },
      evaluations: [{ name: 'in-sample', report }],
      intendedUse: 'testing',
      limitations: ['simulated'],
    });
    const released = releaseModelCard(card, GATE).value;
    const groups = released.evaluations[0]!.report.subgroups.region!;
    expect(groups.find((g) => g.group === 'island')).toEqual({ group: 'island', withheld: true });
    const mainland = groups.find((g) => g.group === 'mainland') as { n: number | null; events: number | null };
    expect(mainland.n).toBe(595);
    expect((mainland.events ?? 0) % 5).toBe(0);
    expect(released.trainingData.rows).toBe(600);
    const overall = released.evaluations[0]!.report.overall as { calibrationCurve: { n: number }[] };
    expect(overall.calibrationCurve.every((b) => b.n >= 10)).toBe(true);
    // The stored card is untouched.
    expect(card.evaluations[0]!.report.subgroups.region!.find((g) => g.group === 'island')?.n).toBe(6);
  });
});
