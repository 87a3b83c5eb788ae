import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelCardInput } from '../src/models/index.js';
import {
  evaluatePredictions,
  featureColumns,
  featureMatrix,
  fitLogistic,
  hubModelRegistry,
  modelCard,
  predictLogistic,
  randomSplit,
  seededRandom,
  selectRows,
  validateFeatureSpec,
} from '../src/models/index.js';
import { toPrecision } from '../src/privacy/index.js';
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
    // Issue 14's model-card attacks. A rare outcome: 8 events in 400 rows, so prevalence × rows gave the withheld 8.
    const rare = simulateRisk(400, 2, 3).matrix;
    const rareY = new Uint8Array(400);
    for (let i = 0; i < 400; i += 57) rareY[i] = 1;
    const rareM = featureMatrix(rare.names, rare.values, rareY);
    const rareFit = fitLogistic(rareM, { l2: 1 });
    await registry.register('rare-event', rareFit, modelCard(rareFit, rareM, card(1)), 'test');
    // A wearable recorded for 4 of 600 people, filled with their mean and flagged by an indicator, as training
    // does: the card's mean and SD were the 4 people's, and the indicator's mean (596/600) told it was 4.
    const base = simulateRisk(600, 2, 17).matrix;
    const raw = new Float64Array(600 * 3);
    const filled = new Float64Array(600 * 4);
    const worn = [9000, 12000, 15000, 4000];
    const wornMean = worn.reduce((a, b) => a + b, 0) / 4;
    for (let i = 0; i < 600; i++) {
      const w = i < 4 ? worn[i]! : Number.NaN;
      raw.set([base.values[i * 2]!, base.values[i * 2 + 1]!, w], i * 3);
      filled.set([base.values[i * 2]!, base.values[i * 2 + 1]!, i < 4 ? w : wornMean, i < 4 ? 0 : 1], i * 4);
    }
    const rawW = featureMatrix(['x0', 'x1', 'steps'], raw, base.outcome);
    const filledW = featureMatrix(['x0', 'x1', 'steps', 'steps_missing'], filled, base.outcome);
    const wearFit = fitLogistic(filledW, { l2: 1 });
    const spec = validateFeatureSpec({
      name: 'wearable',
      conceptSets: { steps: { concepts: [{ system: 'http://loinc.org', code: '55423-8' }] } },
      population: { indexDate: '2021-01-01' },
      features: [
        { name: 'x0', kind: 'age' },
        { name: 'x1', kind: 'age' },
        { name: 'steps', kind: 'lifelog', conceptSet: 'steps', window: { end: 0 }, missing: 'indicator' },
      ],
    });
    const plan = { spec, columns: featureColumns(spec), fill: { steps: wornMean } };
    await registry.register('wearable', wearFit, modelCard(wearFit, filledW, card(1), rawW), 'test', plan);
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
    expect(res.json().models).toContainEqual(
      expect.objectContaining({ id: 'sim-risk', latestVersion: 2, kind: 'logistic', title: 'Simulated risk (L2 5)' }),
    );
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
    // Statistics leave on the precision grid (three significant digits by default).
    expect(overall.auroc).toBe(toPrecision(exactOverall.auroc, 3));
  });

  const asResearcher = (url: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${researcher}` } });

  it('does not let prevalence × rows recover a withheld event count', async () => {
    const exact = (await get('/models/rare-event')).json().card.trainingData;
    expect(exact.events).toBe(8);
    const t = (await asResearcher('/models/rare-event')).json().card.trainingData;
    expect(t.events).toBeNull();
    expect(t.rows).toBe(400);
    // Prevalence is derived from the released parts: with the events withheld there is none.
    expect(t.prevalence).toBeNull();
  });

  it('releases neither the mean and SD of a feature 4 people recorded nor anything that counts them', async () => {
    const exact = (await get('/models/wearable')).json().card.trainingData.features;
    expect(exact.find((f: { name: string }) => f.name === 'steps')).toMatchObject({ missing: 596, mean: 10000 });
    const body = (await asResearcher('/models/wearable')).json();
    const features = body.card.trainingData.features as {
      name: string;
      missing: number | null;
      mean: number | null;
      sd: number | null;
    }[];
    const steps = features.find((f) => f.name === 'steps')!;
    const indicator = features.find((f) => f.name === 'steps_missing')!;
    expect(steps).toEqual({ name: 'steps', missing: null, mean: null, sd: null });
    // The indicator's mean is missing / rows: withheld with its small complement.
    expect(indicator.mean).toBeNull();
    expect(indicator.sd).toBeNull();
    // A 0/1 feature of large groups still gets its proportion, from released counts.
    expect(features.find((f) => f.name === 'x0')!.mean).not.toBeNull();
    // Nowhere in the released card is the 4 people's mean (10000) or anything on its precision grid.
    expect(JSON.stringify(body.card)).not.toMatch(/\b1e\+?4\b|10000/);
    // Nor can a prediction with the wearable left out carry the 4 people's mean (the fill) back.
    const predict = await app.inject({
      method: 'POST',
      url: '/models/wearable/predict',
      headers: { authorization: `Bearer ${researcher}` },
      payload: { features: { x0: 0.1, x1: -0.2, steps: null } },
    });
    expect(predict.statusCode).toBe(403);
    expect(predict.body).not.toMatch(/10000|596|\b4\b/);
  });

  it('serves a researcher a prediction for a vector from a well-supported model, on the precision grid', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/models/sim-risk/predict',
      headers: { authorization: `Bearer ${researcher}` },
      payload: { features: { x0: 0.1, x1: -0.2, x2: 0.3 } },
    });
    expect(res.statusCode).toBe(200);
    const p = res.json().probabilities[0] as number;
    expect(p).toBe(toPrecision(p, 3));
    expect(res.json().riskAssessment.prediction[0].probabilityDecimal).toBe(p);
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
