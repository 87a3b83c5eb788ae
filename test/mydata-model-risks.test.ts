import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import type { FeatureSpec, ModelCard } from '../src/models/index.js';
import { hubModelRegistry } from '../src/models/index.js';
import type { MyTrainedRisk } from '../src/mydata/index.js';
import { buildServer } from '../src/server/index.js';
import { handCard as card, handLogistic as logistic, planOf } from './support/hand-made-model.js';

/**
 * Issue 18 (citizens), My record: the citizen's risks from the hub's own trained models, with the factors that
 * raise and lower each (coefficient × (value − training mean)) and the risk at the care plan's target. The models
 * are registered with known coefficients so every number the citizen sees can be worked out here.
 */
const SBP = 151;
const CONCEPT_SETS = {
  sbp: { concepts: [{ system: 'http://loinc.org', code: '8480-6' }] },
  bmi: { concepts: [{ system: 'http://loinc.org', code: '39156-5' }] },
};
const AGE = { name: 'age', kind: 'age' } as const;
const SBP_FEATURE = { name: 'sbp', kind: 'latest', conceptSet: 'sbp', window: { start: -365, end: 0 } } as const;
const BMI_FEATURE = { name: 'bmi', kind: 'latest', conceptSet: 'bmi', window: { start: -1095, end: 0 } } as const;
const MEANS: Record<string, number> = { age: 50, sbp: 125, bmi: 24 };

function spec(features: FeatureSpec['features'], minAge = 20): FeatureSpec {
  return {
    name: 'stroke within 5 years',
    conceptSets: CONCEPT_SETS,
    population: { indexDate: '2025-01-01', age: { min: minAge } },
    features,
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe("a citizen's risks from the hub's own trained models", () => {
  const base = mkdtempSync(join(tmpdir(), 'hm-my-model-risks-'));
  let hub: Hub;
  let app: FastifyInstance;
  const tokens: Record<string, string> = {};
  const get = (who: string, url: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${tokens[who]}` } });

  beforeAll(async () => {
    const dir = join(base, 'hub');
    await initHub(dir, { name: 'risks' });
    hub = await openHub(dir, { clock: fixedClock(new Date('2026-03-02T10:00:00Z')) });
    tokens.clinic = await hub.tokens.create('clinic-feed', 'service', { sources: ['clinic'] });
    tokens.kim = await hub.tokens.create('citizen-kim', 'citizen');
    tokens.park = await hub.tokens.create('citizen-park', 'citizen');
    app = await buildServer(hub);
    const patient = 'mrn-4417-kim';
    const ingest = await app.inject({
      method: 'POST',
      url: '/fhir?source=clinic',
      headers: { authorization: `Bearer ${tokens.clinic}`, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify({
        resourceType: 'Bundle',
        type: 'batch',
        entry: [
          {
            resource: { resourceType: 'Patient', id: patient, gender: 'female', birthDate: '1961-04-02' },
            request: { method: 'PUT', url: `Patient/${patient}` },
          },
          {
            resource: {
              resourceType: 'Observation',
              id: 'bp-1',
              status: 'final',
              code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
              subject: { reference: `Patient/${patient}` },
              effectiveDateTime: '2026-02-10T09:00:00Z',
              valueQuantity: { value: SBP, unit: 'mmHg' },
            },
            request: { method: 'PUT', url: 'Observation/bp-1' },
          },
          {
            resource: {
              resourceType: 'Condition',
              id: 'htn-1',
              code: { coding: [{ system: 'http://snomed.info/sct', code: '38341003', display: 'Hypertension' }] },
              subject: { reference: `Patient/${patient}` },
              onsetDateTime: '2019-03-01',
            },
            request: { method: 'PUT', url: 'Condition/htn-1' },
          },
        ],
      }),
    });
    expect(ingest.statusCode).toBe(200);
    const issued = await app.inject({
      method: 'POST',
      url: '/mydata/enrolment-codes',
      headers: { authorization: `Bearer ${tokens.clinic}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ patientId: patient, source: 'clinic' }),
    });
    const enrol = await app.inject({
      method: 'POST',
      url: '/me/enrol',
      headers: { authorization: `Bearer ${tokens.kim}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ code: issued.json().code }),
    });
    expect(enrol.statusCode).toBe(201);

    const registry = await hubModelRegistry(hub);
    const ageSbp = spec([AGE, SBP_FEATURE]);
    await registry.register(
      'stroke-logit',
      logistic(['age', 'sbp'], [-8, 0.03, 0.04]),
      card('logistic', ['age', 'sbp'], [0.03, 0.04], MEANS),
      'test',
      planOf(ageSbp),
    );
    await registry.register(
      'stroke-cox',
      {
        kind: 'cox',
        features: ['age', 'sbp'],
        coefficients: [0.02, 0.03],
        horizon: 1826,
        baselineCumHazard: 0.001,
        ties: 'efron',
      },
      card('cox', ['age', 'sbp'], [0.02, 0.03], MEANS),
      'test',
      planOf(ageSbp),
    );
    // One tree: systolic ≤ 140 adds −1 to the log-odds, above it +0.5.
    await registry.register(
      'stroke-boosted',
      {
        kind: 'boosted',
        features: ['age', 'sbp'],
        baseScore: -1,
        trees: [
          {
            feature: [1, -1, -1],
            threshold: [140, 0, 0],
            missingLeft: [true, false, false],
            left: [1, -1, -1],
            right: [2, -1, -1],
            value: [0, -1, 0.5],
          },
        ],
        options: {
          trees: 1,
          learningRate: 1,
          maxDepth: 1,
          minLeafSize: 20,
          l2: 1,
          minGain: 0,
          subsample: 1,
          maxBins: 255,
          validationFraction: 0,
          patience: 10,
          seed: 1,
        },
        diagnostics: {
          trainLoss: [],
          validationLoss: [],
          bestIteration: 1,
          stoppedEarly: false,
          trainingRows: 1000,
          validationRows: 0,
          constantFeatures: [],
        },
      },
      { ...card('boosted', ['age', 'sbp'], [], MEANS), fit: undefined } as unknown as ModelCard,
      'test',
      planOf(ageSbp),
    );
    const withBmi = spec([AGE, SBP_FEATURE, BMI_FEATURE]);
    const bmiModel = logistic(['age', 'sbp', 'bmi'], [-9, 0.03, 0.04, 0.05]);
    await registry.register(
      'stroke-bmi',
      bmiModel,
      card('logistic', ['age', 'sbp', 'bmi'], [0.03, 0.04, 0.05], MEANS),
      'test',
      planOf(withBmi),
    );
    await registry.register(
      'stroke-table',
      bmiModel,
      card('logistic', ['age', 'sbp', 'bmi'], [0.03, 0.04, 0.05], MEANS),
      'test',
    );
    await registry.register(
      'stroke-elderly',
      logistic(['age', 'sbp'], [-8, 0.03, 0.04]),
      card('logistic', ['age', 'sbp'], [0.03, 0.04], MEANS),
      'test',
      planOf(spec([AGE, SBP_FEATURE], 75)),
    );
    await registry.register(
      'stroke-cohort',
      logistic(['age', 'sbp'], [-8, 0.03, 0.04]),
      card('logistic', ['age', 'sbp'], [0.03, 0.04], MEANS),
      'test',
      planOf({ ...ageSbp, population: { cohort: { name: 'adults with diabetes' } } }),
    );
    await registry.register(
      'stroke-tiny',
      logistic(['age', 'sbp'], [-8, 0.03, 0.04]),
      card('logistic', ['age', 'sbp'], [0.03, 0.04], MEANS, 5),
      'test',
      planOf(ageSbp),
    );
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('scores the logistic model with coefficient × (value − mean) factors and the risk at the plan target', async () => {
    const res = await get('kim', '/me/risks');
    expect(res.statusCode).toBe(200);
    const trained = res.json().trained as MyTrainedRisk[];
    expect(trained.map((r) => r.model)).toEqual([
      'stroke-bmi',
      'stroke-boosted',
      'stroke-cohort',
      'stroke-cox',
      'stroke-elderly',
      'stroke-logit',
      'stroke-table',
      'stroke-tiny',
    ]);
    const logit = trained.find((r) => r.model === 'stroke-logit')!;
    const age = logit.factors.find((f) => f.feature === 'age')!.value;
    expect(age).toBeGreaterThanOrEqual(64);
    expect(age).toBeLessThan(65);
    expect(logit.risk).toBeCloseTo(sigmoid(-8 + 0.03 * age + 0.04 * SBP), 3);
    // Largest effect first: systolic 0.04 × 26 = 1.04 log-odds, then age 0.03 × (age − 50).
    expect(logit.factors.map((f) => f.feature)).toEqual(['sbp', 'age']);
    expect(logit.factors[0]!).toMatchObject({ value: SBP, typical: 125, scale: 'log-odds' });
    expect(logit.factors[0]!.effect).toBeCloseTo(0.04 * (SBP - 125), 6);
    expect(logit.factors[0]!.say.ko).toContain('수축기 혈압 151');
    expect(logit.factors[0]!.say.ko).toContain('높입니다');
    expect(logit.factors[0]!.say.en).toContain('raises the risk');
    // The change: systolic at the plan's blood-pressure target, read from the citizen's own plan.
    const plan = (await get('kim', '/me/plan')).json();
    const bp = plan.targets.find((t: { id: string }) => t.id === 'blood-pressure').target.max as number;
    expect(bp).toBeLessThan(SBP);
    expect(logit.changes).toHaveLength(1);
    expect(logit.changes[0]!).toMatchObject({ feature: 'sbp', target: 'blood-pressure', from: SBP, to: bp });
    expect(logit.changes[0]!.risk).toBeCloseTo(sigmoid(-8 + 0.03 * age + 0.04 * bp), 3);
    expect(logit.changes[0]!.risk).toBeLessThan(logit.risk!);
    expect(logit.changes[0]!.say.ko).toContain(`수축기 혈압 목표 ${bp}에 도달하면`);
    expect(logit.changes[0]!.say.en).toContain(`Lowering systolic blood pressure to the target ${bp}`);
  });

  it('scores the Cox model by its horizon, with factors in log hazard', async () => {
    const trained = (await get('kim', '/me/risks')).json().trained as MyTrainedRisk[];
    const cox = trained.find((r) => r.model === 'stroke-cox')!;
    const age = cox.factors.find((f) => f.feature === 'age')!.value;
    expect(cox.risk).toBeCloseTo(1 - Math.exp(-0.001 * Math.exp(0.02 * age + 0.03 * SBP)), 3);
    expect(cox.factors.every((f) => f.scale === 'log-hazard')).toBe(true);
    expect(cox.factors.find((f) => f.feature === 'sbp')!.effect).toBeCloseTo(0.03 * 26, 6);
  });

  it('gives boosted trees factors as the risk now minus the risk with the value at the training mean', async () => {
    const trained = (await get('kim', '/me/risks')).json().trained as MyTrainedRisk[];
    const trees = trained.find((r) => r.model === 'stroke-boosted')!;
    expect(trees.risk).toBeCloseTo(sigmoid(-0.5), 3);
    // Age takes no part in the tree, so it has no effect and is not listed.
    expect(trees.factors).toHaveLength(1);
    expect(trees.factors[0]).toMatchObject({ feature: 'sbp', value: SBP, typical: 125, scale: 'risk' });
    expect(trees.factors[0]!.effect).toBeCloseTo(sigmoid(-0.5) - sigmoid(-2), 2);
    expect(trees.changes[0]!.risk).toBeCloseTo(sigmoid(-2), 3);
  });

  it('lists a model it cannot score as not available, with why, and never a number', async () => {
    const trained = (await get('kim', '/me/risks')).json().trained as MyTrainedRisk[];
    const why = (id: string) => {
      const r = trained.find((m) => m.model === id)!;
      expect(r.risk).toBeNull();
      expect(r.factors).toEqual([]);
      expect(r.changes).toEqual([]);
      return r.notAvailable!;
    };
    expect(why('stroke-bmi').en).toContain('no Body mass index');
    expect(why('stroke-bmi').ko).toContain('체질량지수');
    expect(why('stroke-table').en).toContain('trained from a table');
    expect(why('stroke-elderly').en).toContain("not in this model's population");
    expect(why('stroke-tiny').en).toContain('too few people');
    expect(why('stroke-cohort').en).toContain('cohort definition');
  });

  it('shows a citizen with no linked record no risks, and audits the read', async () => {
    const res = await get('park', '/me/risks');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ risks: [], trained: [], recordsFrom: ['risks'] });
    // The entry is written once the response is sent.
    await vi.waitFor(async () => {
      const audited = await hub.db.all<{ actor: string; detail: string }>(
        "SELECT actor, detail FROM audit_log WHERE action = 'me-risks' AND outcome = 'success' ORDER BY actor",
      );
      expect(audited.map((a) => a.actor)).toEqual([...Array(4).fill('citizen-kim'), 'citizen-park']);
      // Each entry names the model versions that read the record.
      expect(JSON.parse(audited[0]!.detail).trained).toContain('stroke-logit/1');
      expect(JSON.parse(audited[4]!.detail).trained).toBe('');
    });
  });
  it('shows citizens only models in service, and predict refuses a withdrawn or recalled version with its code', async () => {
    tokens.steward = await hub.tokens.create('steward-lee', 'steward');
    const send = (who: string, method: 'PUT' | 'POST', url: string, body: unknown) =>
      app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${tokens[who]}`, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
    const status = (body: unknown, who = 'steward') => send(who, 'PUT', '/models/stroke-logit/versions/1/status', body);
    const predict = () => send('steward', 'POST', '/models/stroke-logit/predict', { features: { age: 60, sbp: 140 } });
    const shown = async () =>
      ((await get('kim', '/me/risks')).json().trained as MyTrainedRisk[]).map((r) => r.model).includes('stroke-logit');
    // Shown while it serves: the tests above.
    expect((await predict()).statusCode).toBe(200);

    expect((await status({ status: 'withdrawn' }, 'kim')).statusCode).toBe(403);
    const withdrawn = await status({ status: 'withdrawn', reason: 'calibration under review' });
    expect(withdrawn.statusCode).toBe(200);
    expect(withdrawn.json()).toMatchObject({ status: 'withdrawn', changedBy: 'steward-lee' });
    expect(await shown()).toBe(false);
    expect((await predict()).json().issue[0].details.coding[0].code).toBe('MODEL_NOT_SERVING');
    expect((await predict()).statusCode).toBe(409);
    expect((await get('steward', '/models/stroke-logit')).json().serving.status).toBe('withdrawn');

    expect((await status({ status: 'serving' })).statusCode).toBe(200);
    expect(await shown()).toBe(true);
    expect((await predict()).statusCode).toBe(200);

    // A recall says why, and is final.
    expect((await status({ status: 'recalled' })).statusCode).toBe(400);
    expect((await status({ status: 'recalled', reason: 'overestimates risk in women' })).statusCode).toBe(200);
    expect(await shown()).toBe(false);
    const refused = await predict();
    expect(refused.statusCode).toBe(409);
    expect(refused.json().issue[0].details.coding[0].code).toBe('MODEL_RECALLED');
    expect((await status({ status: 'serving' })).json().issue[0].details.coding[0].code).toBe('MODEL_RECALLED');
    await vi.waitFor(async () => {
      const audited = await hub.db.all<{ actor: string; outcome: string; detail: string }>(
        "SELECT actor, outcome, detail FROM audit_log WHERE action = 'model-status' ORDER BY seq",
      );
      expect(audited.map((a) => [a.actor, a.outcome, JSON.parse(a.detail).status])).toEqual([
        ['steward-lee', 'success', 'withdrawn'],
        ['steward-lee', 'success', 'serving'],
        ['steward-lee', 'failure', 'recalled'],
        ['steward-lee', 'success', 'recalled'],
        ['steward-lee', 'failure', 'serving'],
      ]);
    });
  });
});
