import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelCardInput } from '../src/models/index.js';
import {
  evaluatePredictions,
  fitLogistic,
  hubModelRegistry,
  modelCard,
  predictLogistic,
  randomSplit,
  seededRandom,
  selectRows,
} from '../src/models/index.js';
import { buildServer } from '../src/server/index.js';
import { simulateRisk } from './support/simulated-risk.js';
import { tempHub } from './support/temp-hub.js';

describe('GET /models and /models/{id}', () => {
  let app: FastifyInstance;
  let token: string;
  let researcher: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const t = await tempHub('models-api');
    cleanup = t.cleanup;
    token = t.adminToken;
    const { matrix } = simulateRisk(2000, 3, 11, true);
    const split = randomSplit(matrix.rows, 0.25, seededRandom(5), matrix.outcome);
    const train = selectRows(matrix, split.train);
    const test = selectRows(matrix, split.test);
    const card = (l2: number): ModelCardInput => ({
      title: `Simulated risk (L2 ${l2})`,
      cohort: { description: 'simulated adults', outcome: 'simulated event' },
      evaluations: [
        {
          name: 'held-out',
          report: evaluatePredictions(predictLogistic(fitLogistic(train, { l2 }), test), test.outcome!),
        },
      ],
      intendedUse: 'testing the API',
      limitations: ['simulated data'],
    });
    const registry = await hubModelRegistry(t.hub);
    await registry.register('sim-risk', fitLogistic(train), modelCard(fitLogistic(train), train, card(0)), 'test');
    const ridge = fitLogistic(train, { l2: 5 });
    await registry.register('sim-risk', ridge, modelCard(ridge, train, card(5)), 'test');
    researcher = await t.hub.tokens.create('analyst', 'researcher');
    app = await buildServer(t.hub);
  });
  afterAll(async () => {
    await app?.close();
    await cleanup?.();
  });

  const get = (url: string, auth = true) =>
    app.inject({ method: 'GET', url, headers: auth ? { authorization: `Bearer ${token}` } : {} });

  it('lists the latest version of each model', async () => {
    const res = await get('/models');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      models: [{ id: 'sim-risk', latestVersion: 2, kind: 'logistic', title: 'Simulated risk (L2 5)' }],
    });
  });

  it('gives a version with its card, evaluation and the list of versions, without the model body', async () => {
    const latest = (await get('/models/sim-risk')).json();
    expect(latest).toMatchObject({ id: 'sim-risk', version: 2, versions: [1, 2], features: ['x0', 'x1', 'x2'] });
    expect(latest.card.evaluations[0].report.overall.auroc).toBeGreaterThan(0.6);
    expect(latest.card.evaluations[0].report.roc.fpr.length).toBeGreaterThan(2);
    expect(latest).not.toHaveProperty('model');
    const first = (await get('/models/sim-risk?version=1')).json();
    expect(first.card.title).toBe('Simulated risk (L2 0)');
  });

  it('releases the card under disclosure control to a researcher, as stored to an admin', async () => {
    const admin = (await get('/models/sim-risk')).json();
    expect(admin.disclosureControlled).toBe(false);
    const res = await app.inject({
      method: 'GET',
      url: '/models/sim-risk',
      headers: { authorization: `Bearer ${researcher}` },
    });
    const released = res.json();
    expect(released.disclosureControlled).toBe(true);
    const exactOverall = admin.card.evaluations[0].report.overall;
    const overall = released.card.evaluations[0].report.overall;
    for (const [n, exact] of [
      [overall.n, exactOverall.n],
      [overall.events, exactOverall.events],
      [released.card.trainingData.rows, admin.card.trainingData.rows],
    ] as [number, number][]) {
      expect(n % 5).toBe(0);
      expect(Math.abs(n - exact)).toBeLessThanOrEqual(2.5);
    }
    for (const b of overall.calibrationCurve) expect(b.n).toBeGreaterThanOrEqual(10);
    expect(overall.auroc).toBe(exactOverall.auroc);
  });

  it('answers 404 for an unknown model or version, 400 for a malformed version, 401 without a token', async () => {
    expect((await get('/models/nothing')).statusCode).toBe(404);
    expect((await get('/models/sim-risk?version=9')).statusCode).toBe(404);
    const bad = await get('/models/sim-risk?version=two');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('version');
    expect((await get('/models', false)).statusCode).toBe(401);
  });
});
