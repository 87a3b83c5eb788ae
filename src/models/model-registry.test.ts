import { describe, expect, it } from 'vitest';
import { asyncCodeOf, codeOf } from '../../test/support/error-code.js';
import { simulateRisk } from '../../test/support/simulated-risk.js';
import { openTestDatabase, TEST_ENGINE } from '../../test/support/test-engine.js';
import { fixedClock } from '../core/index.js';
import { migrate } from '../store/index.js';
import type { ModelCardInput } from './index.js';
import {
  evaluatePredictions,
  fitBoosted,
  fitLogistic,
  ModelRegistry,
  modelCard,
  modelMigrations,
  predictBoosted,
  predictLogistic,
  randomSplit,
  seededRandom,
  selectRows,
} from './index.js';

const ENGINES = [TEST_ENGINE] as const;
const NOW = new Date('2026-03-04T05:06:07Z');

const { matrix } = simulateRisk(3000, 4, 77, true);
const split = randomSplit(matrix.rows, 0.25, seededRandom(3), matrix.outcome);
const train = selectRows(matrix, split.train);
const test = selectRows(matrix, split.test);

function cardInput(report: ReturnType<typeof evaluatePredictions>): ModelCardInput {
  return {
    title: 'Simulated 5-year risk',
    cohort: { description: 'simulated adults', outcome: 'simulated event', horizon: '5 years' },
    features: [{ name: 'x0', description: 'first signal', missing: 'none in training' }],
    evaluations: [{ name: 'held-out 25%', report }],
    intendedUse: 'testing the registry',
    limitations: ['simulated data only'],
  };
}

for (const engine of ENGINES) {
  describe(`ModelRegistry on ${engine}`, () => {
    async function open() {
      const db = await openTestDatabase();
      await migrate(db, modelMigrations, NOW);
      return { db, registry: new ModelRegistry(db, fixedClock(NOW)) };
    }

    it('stores versions with their cards and gives back models that predict identically', async () => {
      const { db, registry } = await open();
      const lr = fitLogistic(train);
      const gb = fitBoosted(train, { trees: 30, maxDepth: 3 });
      const lrCard = modelCard(lr, train, cardInput(evaluatePredictions(predictLogistic(lr, test), test.outcome!)));
      const gbCard = modelCard(gb, train, cardInput(evaluatePredictions(predictBoosted(gb, test), test.outcome!)));
      const v1 = await registry.register('t2d-risk', lr, lrCard, 'analyst');
      const v2 = await registry.register('t2d-risk', gb, gbCard, 'analyst');
      await registry.register('chd-risk', lr, lrCard, 'analyst');
      expect([v1.version, v2.version]).toEqual([1, 2]);
      expect(await registry.versions('t2d-risk')).toEqual([1, 2]);

      const latest = await registry.get('t2d-risk');
      expect(latest.version).toBe(2);
      expect(latest.kind).toBe('boosted');
      expect(latest.createdAt.toISOString()).toBe(NOW.toISOString());
      expect(latest.card).toEqual(gbCard);
      expect(latest.modelHash).toMatch(/^[0-9a-f]{64}$/);
      if (latest.model.kind !== 'boosted') throw new Error('expected the boosted model');
      expect(Array.from(predictBoosted(latest.model, test))).toEqual(Array.from(predictBoosted(gb, test)));

      const first = await registry.get('t2d-risk', 1);
      if (first.model.kind !== 'logistic') throw new Error('expected the logistic model');
      expect(Array.from(predictLogistic(first.model, test))).toEqual(Array.from(predictLogistic(lr, test)));

      expect((await registry.list()).map((l) => [l.id, l.latestVersion, l.kind, l.title])).toEqual([
        ['chd-risk', 1, 'logistic', 'Simulated 5-year risk'],
        ['t2d-risk', 2, 'boosted', 'Simulated 5-year risk'],
      ]);
      // A project's models: listed to those who name the project, or with every model; an id keeps its project.
      await registry.register('p1-risk', lr, lrCard, 'analyst', undefined, 'p-1');
      await registry.register('p2-risk', lr, lrCard, 'analyst', undefined, 'p-2');
      const ids = async (scope?: Parameters<typeof registry.list>[0]) => (await registry.list(scope)).map((l) => l.id);
      expect(await ids()).toEqual(['chd-risk', 't2d-risk']);
      expect(await ids({ projects: ['p-1'] })).toEqual(['chd-risk', 'p1-risk', 't2d-risk']);
      expect(await ids('all')).toEqual(['chd-risk', 'p1-risk', 'p2-risk', 't2d-risk']);
      expect((await registry.get('p1-risk')).project).toBe('p-1');
      await expect(registry.register('p1-risk', lr, lrCard, 'analyst', undefined, 'p-2')).rejects.toMatchObject({
        code: 'MODEL_PROJECT_MISMATCH',
      });
      await expect(registry.register('t2d-risk', lr, lrCard, 'analyst', undefined, 'p-1')).rejects.toMatchObject({
        code: 'MODEL_PROJECT_MISMATCH',
      });
      expect(first.card.trainingData).toMatchObject({ rows: train.rows, events: expect.any(Number) });
      expect(first.card.features.map((f) => f.name)).toEqual(['x0', 'x1', 'x2', 'x3']);
      await db.close();
    });

    it('refuses unknown ids and versions, bad ids, and a stored model edited behind its back', async () => {
      const { db, registry } = await open();
      const lr = fitLogistic(train);
      const card = modelCard(lr, train, cardInput(evaluatePredictions(predictLogistic(lr, test), test.outcome!)));
      expect(await asyncCodeOf(() => registry.get('nothing'))).toBe('MODEL_NOT_FOUND');
      await registry.register('m1', lr, card, 'analyst');
      expect(await asyncCodeOf(() => registry.get('m1', 2))).toBe('MODEL_NOT_FOUND');
      expect(await asyncCodeOf(() => registry.register('Bad Id/..', lr, card, 'analyst'))).toBe('MODEL_INVALID_OPTION');
      const edited = JSON.stringify({ ...lr, coefficients: lr.coefficients.map((b) => b * 2) });
      await db.run('UPDATE model_registry SET model = $1 WHERE model_id = $2', [edited, 'm1']);
      expect(await asyncCodeOf(() => registry.get('m1'))).toBe('MODEL_INVALID_STORED');
      await db.close();
    });
  });
}

describe('model card', () => {
  const lr = fitLogistic(train);
  const report = evaluatePredictions(predictLogistic(lr, test), test.outcome!);

  it('derives the training summary without per-person extremes', () => {
    const card = modelCard(lr, train, cardInput(report));
    expect(card.trainingData.rows).toBe(train.rows);
    expect(card.trainingData.features[0]).not.toHaveProperty('min');
    expect(card.trainingData.features[0]).not.toHaveProperty('max');
    expect(card.learner).toEqual({
      kind: 'logistic',
      settings: { l2: 0, iterations: expect.any(Number), converged: true },
    });
  });

  it('refuses a card without intended use, cohort, limitations, or describing an unknown feature', async () => {
    const good = cardInput(report);
    expect(codeOf(() => modelCard(lr, train, { ...good, intendedUse: ' ' }))).toBe('MODEL_INVALID_CARD');
    expect(codeOf(() => modelCard(lr, train, { ...good, cohort: { description: '', outcome: 'x' } }))).toBe(
      'MODEL_INVALID_CARD',
    );
    expect(codeOf(() => modelCard(lr, train, { ...good, limitations: [] }))).toBe('MODEL_INVALID_CARD');
    expect(codeOf(() => modelCard(lr, train, { ...good, features: [{ name: 'zz' }] }))).toBe('MODEL_INVALID_CARD');
  });
});
