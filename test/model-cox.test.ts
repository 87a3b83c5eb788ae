import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import type { Hub } from '../src/hub/index.js';
import { openHub } from '../src/hub/index.js';
import type { CoxFit, LogisticFit, ModelTable } from '../src/models/index.js';
import { fitCox, hubModelRegistry, readModelTable, scoreFeatureVector } from '../src/models/index.js';
import { toPrecision } from '../src/privacy/index.js';
import { buildServer } from '../src/server/index.js';
import { captureIo } from './support/cli-capture.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import { tempHub } from './support/temp-hub.js';

const FEATURES = ['age', 'sex', 'ph.ecog', 'ph.karno', 'wt.loss'];
const HORIZON = 365;

describeWithSharedData('a Cox model registered from a table and served (NCCTG lung)', () => {
  let env: Awaited<ReturnType<typeof tempHub>>;
  let hub: Hub | undefined;
  let app: FastifyInstance | undefined;
  let table: ModelTable;
  let fit: CoxFit;
  const lung = sharedPath('risk/lung.csv');
  const args = [
    'model',
    'train',
    '--table',
    lung,
    '--learner',
    'cox',
    '--time',
    'time',
    '--outcome',
    'status',
    '--positive',
    '2',
    '--horizon',
    String(HORIZON),
    '--missing',
    'complete-case',
    '--features',
    FEATURES.join(','),
  ];

  beforeAll(async () => {
    env = await tempHub('model-cox');
    await env.hub.close();
    // The reference side: the fit itself, from the same rows, without the registry.
    table = await readModelTable(lung, {
      outcome: 'status',
      positive: '2',
      features: FEATURES,
      missing: 'complete-case',
      time: 'time',
    });
    const m = table.matrix;
    const x = Array.from({ length: m.rows }, (_, i) => Array.from(m.values.subarray(i * 5, i * 5 + 5)));
    fit = fitCox(
      x,
      table.times!,
      Array.from(m.outcome!, (y) => y === 1),
      m.names,
    );
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await hub?.close().catch(() => undefined);
    await env?.cleanup();
  });

  it('registers the fit as a versioned Cox model that predicts the fit’s risks after reload', async () => {
    for (const version of [1, 2]) {
      const cli = captureIo();
      const code = await main([...args, '--dir', env.dir, '--id', 'lung-cox', '--json'], cli.io);
      expect(code, cli.err).toBe(0);
      expect(JSON.parse(cli.out)).toMatchObject({ registered: true, id: 'lung-cox', version });
    }
    hub = await openHub(env.dir);
    const registry = await hubModelRegistry(hub);
    expect(await registry.versions('lung-cox')).toEqual([1, 2]);
    expect((await registry.list()).find((l) => l.id === 'lung-cox')?.kind).toBe('cox');
    const m = await registry.get('lung-cox');
    expect(m.model).toMatchObject({ kind: 'cox', features: FEATURES, horizon: HORIZON, ties: 'efron' });
    expect(m.card.survival?.concordance).toBeCloseTo(fit.concordance, 12);
    expect(m.card.survival?.calibration.reduce((s, b) => s + b.n, 0)).toBe(fit.n);
    // Every row's risk by the horizon, from the stored model through the serving path, equals the fit's.
    let worst = 0;
    for (let i = 0; i < table.matrix.rows; i++) {
      const row = Array.from(table.matrix.values.subarray(i * 5, i * 5 + 5));
      const served = scoreFeatureVector(m, Object.fromEntries(FEATURES.map((f, j) => [f, row[j]!]))).probability;
      worst = Math.max(worst, Math.abs(served - fit.riskAt(row, HORIZON)));
    }
    expect(worst).toBeLessThan(1e-9);
  });

  it('serves the risk by the horizon and the Wald table through the release gate, as for a logistic model', async () => {
    app = await buildServer(hub!);
    const admin = await hub!.tokens.create('cox-admin', 'admin');
    const researcher = await hub!.tokens.create('cox-analyst', 'researcher');
    const call = async (method: 'GET' | 'POST', url: string, token: string, payload?: unknown) => {
      const res = await app!.inject({ method, url, headers: { authorization: `Bearer ${token}` }, payload } as never);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as Record<string, unknown>;
    };
    const features = { age: 60, sex: 2, 'ph.ecog': 1, 'ph.karno': 80, 'wt.loss': 5 };
    const predicted = await call('POST', '/models/lung-cox/predict', admin, { features });
    const risk = fit.riskAt(Object.values(features), HORIZON);
    expect(Math.abs((predicted.probabilities as number[])[0]! - risk)).toBeLessThan(1e-9);
    // To a role without row-level rights, on the precision grid, as a logistic model's.
    const toResearcher = await call('POST', '/models/lung-cox/predict', researcher, { features });
    expect((toResearcher.probabilities as number[])[0]).toBe(toPrecision(risk, 3));

    type Card = { fit: LogisticFit; survival: { concordance: number; horizon: number; calibration: unknown[] } };
    const stored = (await call('GET', '/models/lung-cox', admin)).card as Card;
    expect(stored.fit.coefficients.map((c) => c.estimate)).toEqual(fit.coefficients.map((c) => c.estimate));
    const released = (await call('GET', '/models/lung-cox', researcher)).card as Card;
    expect(released.fit.coefficients.map((c) => c.term)).toEqual(FEATURES);
    released.fit.coefficients.forEach((r, j) => {
      const c = fit.coefficients[j]!;
      expect(r.estimate).toBe(toPrecision(c.estimate, 3));
      expect(r.standardError).toBe(toPrecision(c.se, 3));
      expect(r.p).toBe(toPrecision(c.p, 3));
    });
    expect(released.fit.logLikelihood).toBe(toPrecision(fit.logLik, 3));
    expect(released.survival.concordance).toBe(toPrecision(fit.concordance, 3));
    expect(released.survival.horizon).toBe(HORIZON);
  });

  it('refuses a stored Cox model whose body no longer matches its hash', async () => {
    await hub!.db.run(
      `UPDATE model_registry SET model = REPLACE(model, '"ties":"efron"', '"ties":"breslow"') WHERE model_id = 'lung-cox' AND version = 1`,
    );
    const registry = await hubModelRegistry(hub!);
    await expect(registry.get('lung-cox', 1)).rejects.toMatchObject({ code: 'MODEL_INVALID_STORED' });
    expect((await registry.get('lung-cox', 2)).model.kind).toBe('cox');
  });
});
