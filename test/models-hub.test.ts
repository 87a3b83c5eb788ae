import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import type { Hub } from '../src/hub/index.js';
import { openHub } from '../src/hub/index.js';
import type { FeatureSpec } from '../src/models/index.js';
import {
  buildHubFeatures,
  hubModelRegistry,
  parseTrainingSpec,
  scoreHubRows,
  trainFromSpec,
} from '../src/models/index.js';
import { buildServer } from '../src/server/index.js';
import { captureIo } from './support/cli-capture.js';
import { htnTrainingSpec } from './support/htn-spec.js';
import { syntheticHub } from './support/synthetic-risk-check.js';
import { TEST_ENGINE } from './support/test-engine.js';

type Json = Record<string, unknown>;
const SOURCE = 'synth-busan';
const INDEX = '2021-01-01';
const DAY = 86_400_000;
const dayOf = (iso: string) => Date.parse(`${iso.slice(0, 10)}T00:00:00Z`) / DAY;
const read = (dir: string, type: string): Json[] =>
  readFileSync(join(dir, `${type}.ndjson`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Json);
const subjectOf = (r: Json) => String((r.subject as { reference: string }).reference).slice('Patient/'.length);
const firstCoding = (c: unknown) => (c as { coding: { system: string; code: string }[] }).coding[0]!;

/** The t2d fixture spec (features only; the training fields are checked by parseTrainingSpec). */
function t2dSpec(): FeatureSpec {
  return parseTrainingSpec(
    JSON.parse(readFileSync(new URL('./fixtures/models/t2d-5y.json', import.meta.url), 'utf8')) as unknown,
  ).features;
}

/** A small hypertension model for the CLI and API: enough events in a few hundred people. */
const HTN_SPEC = htnTrainingSpec('htn-5y', INDEX);

describe('risk models on a hub: features in SQL, CLI, predict API', () => {
  let env: Awaited<ReturnType<typeof syntheticHub>>;
  let hub: Hub;
  const work = mkdtempSync(join(tmpdir(), 'hm-models-hub-'));
  beforeAll(async () => {
    env = await syntheticHub(600, 'models-hub');
    hub = env.hub;
  }, 600_000);
  afterAll(async () => {
    await hub?.close().catch(() => undefined);
    await env?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('computes every feature and the outcome as plain code over the generated NDJSON does', async () => {
    const rows = await buildHubFeatures(hub, t2dSpec());
    const keyOf = new Map(
      read(env.input, 'Patient').map((p) => [hub.pseudonymiser.resourceId(SOURCE, 'Patient', String(p.id)), p]),
    );
    const localOf = new Map([...keyOf].map(([k, p]) => [String(p.id), k]));
    const index = dayOf(INDEX);
    const byPerson = <T>(xs: [string, T][]) => {
      const m = new Map<string, T[]>();
      for (const [s, v] of xs) {
        const k = localOf.get(s)!;
        m.set(k, [...(m.get(k) ?? []), v]);
      }
      return m;
    };
    const observations = read(env.input, 'Observation');
    const fpg = byPerson(
      observations
        .filter((o) => firstCoding(o.code).code === '1558-6' && dayOf(String(o.effectiveDateTime)) <= index)
        .map((o) => [subjectOf(o), (o.valueQuantity as { value: number }).value] as [string, number]),
    );
    const conditions = read(env.input, 'Condition');
    const icd = (c: Json) => firstCoding(c.code).code;
    const onset = (c: Json) => dayOf(String(c.onsetDateTime));
    const htn = byPerson(
      conditions.filter((c) => icd(c).startsWith('I10') && onset(c) <= index).map((c) => [subjectOf(c), 1]),
    );
    const t2d = byPerson(conditions.filter((c) => icd(c).startsWith('E11')).map((c) => [subjectOf(c), onset(c)]));
    const weights = new Map([
      ['rs7756992', 0.2],
      ['rs2237892', 0.25],
      ['rs13266634', 0.12],
      ['rs10811661', 0.15],
    ]);
    const prs = new Map<string, Map<string, number>>();
    for (const o of observations) {
      if (firstCoding(o.code).code !== '69548-6' || dayOf(String(o.effectiveDateTime)) > index) continue;
      const parts = o.component as { code: unknown; valueCodeableConcept: unknown }[];
      const rsid = firstCoding(parts.find((c) => firstCoding(c.code).code === '81255-2')!.valueCodeableConcept).code;
      const state = parts.find((c) => firstCoding(c.code).code === '53034-5');
      const alleles = state ? (firstCoding(state.valueCodeableConcept).code === 'LA6705-3' ? 2 : 1) : 0;
      const k = localOf.get(subjectOf(o))!;
      if (!prs.has(k)) prs.set(k, new Map());
      prs.get(k)!.set(rsid, alleles);
    }
    const steps = byPerson(
      observations
        .filter((o) => firstCoding(o.code).code === '41950-7' && o.device !== undefined)
        .filter((o) => {
          const d = dayOf(String((o.effectivePeriod as { start: string }).start));
          return d >= index - 365 && d <= index;
        })
        .map((o) => [subjectOf(o), (o.valueQuantity as { value: number }).value] as [string, number]),
    );
    const col = (name: string) => rows.matrix.names.indexOf(name);
    const width = rows.matrix.names.length;
    const mean = (xs: number[] | undefined) => (xs ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
    let checked = 0;
    let withPrs = 0;
    let withSteps = 0;
    let events = 0;
    expect(rows.matrix.rows).toBeGreaterThan(300);
    for (let i = 0; i < rows.matrix.rows; i++) {
      const key = rows.patientKeys[i]!;
      const p = keyOf.get(key)!;
      const v = (name: string) => rows.matrix.values[i * width + col(name)]!;
      const birth = String(p.birthDate);
      const age = 2021 - Number(birth.slice(0, 4)) + (1 - Number(birth.slice(5, 7))) / 12;
      expect(v('age')).toBeCloseTo(age, 10);
      expect(v('male')).toBe(p.gender === 'male' ? 1 : 0);
      const f = fpg.get(key);
      if (f === undefined) expect(v('fpg')).toBeNaN();
      else expect(v('fpg')).toBeCloseTo(mean(f), 9);
      expect(v('htn')).toBe(htn.get(key)?.length ?? 0);
      const onsets = t2d.get(key) ?? [];
      expect(onsets.some((d) => d <= index)).toBe(false); // prevalent cases are left out
      const outcome = onsets.some((d) => d > index && d <= index + 1826) ? 1 : 0;
      expect(rows.matrix.outcome![i]).toBe(outcome);
      events += outcome;
      const g = prs.get(key);
      if (g === undefined || [...weights.keys()].some((r) => !g.has(r))) expect(v('prsT2d')).toBeNaN();
      else {
        withPrs++;
        expect(v('prsT2d')).toBeCloseTo(
          [...weights].reduce((s, [r, w]) => s + w * g.get(r)!, 0),
          12,
        );
      }
      const s = steps.get(key);
      if (s === undefined) expect(v('steps')).toBeNaN();
      else {
        withSteps++;
        expect(v('steps')).toBeCloseTo(mean(s), 6);
      }
      checked++;
    }
    // The sample exercises each kind of value, not only the missing branch.
    expect(checked).toBe(rows.matrix.rows);
    expect(withPrs).toBeGreaterThan(0);
    expect(withSteps).toBeGreaterThan(0);
    expect(events).toBeGreaterThan(0);
    console.log(
      `features checked for ${checked} people (${withPrs} with a polygenic score, ${withSteps} with wearable steps, ${events} incident T2D)`,
    );
  }, 120_000);

  // DuckDB's buffer pool limit: PostgreSQL has no such setting per session (work_mem bounds each sort instead).
  it.skipIf(TEST_ENGINE !== 'duckdb')(
    'builds both fixture specs within a 48 MB DuckDB memory limit, the event features in one pass',
    async () => {
      // Built as one statement joining a CTE per feature, these needed more than 64 MB at this size and failed at
      // 120 MB with 20,000 residents and at 1 GB with 60,000 (docs/models.md). One pass over the events with every
      // feature tagged, and the polygenic and lifelog features each on its own, need a few.
      const ihd = parseTrainingSpec(
        JSON.parse(readFileSync(new URL('./fixtures/models/ihd-5y.json', import.meta.url), 'utf8')) as unknown,
      ).features;
      const before = await buildHubFeatures(hub, ihd);
      await hub.db.run("SET memory_limit = '48MB'");
      await hub.db.run('SET threads = 2');
      try {
        for (const spec of [t2dSpec(), ihd])
          expect((await buildHubFeatures(hub, spec)).matrix.rows).toBeGreaterThan(300);
        // The same values as without the limit (means may differ in the last bit with the order of summation).
        const after = (await buildHubFeatures(hub, ihd)).matrix.values;
        expect(after.length).toBe(before.matrix.values.length);
        after.forEach((v, i) => {
          const w = before.matrix.values[i]!;
          if (Number.isNaN(w)) expect(v).toBeNaN();
          else expect(Math.abs(v - w)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(w)));
        });
      } finally {
        await hub.db.run(`SET memory_limit = '${hub.config.store.memoryLimit}'`);
        await hub.db.run('RESET threads');
      }
    },
    120_000,
  );

  it('trains on rows at earlier index dates too, holding out the same people at the index date', async () => {
    const dates = ['2019-01-01', '2020-01-01'];
    const plain = await trainFromSpec(hub, parseTrainingSpec({ ...HTN_SPEC, model: 'htn-plain' }), 'test');
    const spec = parseTrainingSpec({
      ...HTN_SPEC,
      model: 'htn-dates',
      population: { ...HTN_SPEC.population, trainingIndexDates: dates },
    });
    const dated = await trainFromSpec(hub, spec, 'test');
    const r = dated.rows;
    // One population per date, each chosen as on the index date (free of hypertension then).
    for (const d of [...dates, INDEX]) {
      const alone = await buildHubFeatures(hub, spec.features, { indexDate: d });
      const at = r.patientKeys.filter((_, i) => r.indexDates[i] === d);
      expect(at).toEqual(alone.patientKeys);
    }
    const heldOut = (t: typeof plain) =>
      Array.from(t.split.test, (i) => `${t.rows.patientKeys[i]}@${t.rows.indexDates[i]}`);
    expect(heldOut(dated)).toEqual(heldOut(plain));
    const test = new Set(Array.from(dated.split.test, (i) => r.patientKeys[i]));
    expect(Array.from(dated.split.train).some((i) => test.has(r.patientKeys[i]!))).toBe(false);
    expect(dated.split.train.length).toBeGreaterThan(plain.split.train.length * 2);
    expect(dated.registered.card.evaluations[0]!.name).toBe(
      'held-out 30% (random by person, at the index date, seed 3)',
    );
    // Scoring uses the index date alone.
    const scored = await scoreHubRows(hub, dated.registered);
    expect(new Set(scored.rows.indexDates)).toEqual(new Set([INDEX]));
  }, 120_000);

  it('fits on every row with split.testFraction 0 and labels its evaluation in-sample', async () => {
    const full = await trainFromSpec(
      hub,
      parseTrainingSpec({
        ...HTN_SPEC,
        model: 'htn-full',
        learner: { kind: 'logistic' },
        split: { testFraction: 0, seed: 3 },
      }),
      'test',
    );
    expect(full.inSample).toBe(true);
    expect(full.split.train.length).toBe(full.rows.matrix.rows);
    expect(full.heldOut.overall.n).toBe(full.rows.matrix.rows);
    expect(full.registered.card.evaluations[0]!.name).toMatch(/^in-sample/);
    expect(full.registered.card.fit?.rows).toBe(full.rows.matrix.rows);
    expect(() => parseTrainingSpec({ ...HTN_SPEC, split: { testFraction: 1 } })).toThrow(/testFraction/);
  }, 60_000);

  it('fits a Cox model on the days to the outcome, registers it and serves the risk by the horizon', async () => {
    const cox = await trainFromSpec(
      hub,
      parseTrainingSpec({
        ...HTN_SPEC,
        model: 'htn-cox',
        learner: { kind: 'cox' },
        split: { testFraction: 0, seed: 3 },
      }),
      'test',
    );
    const { matrix, times, patientKeys } = cox.rows;
    expect(times?.length).toBe(matrix.rows);
    // An event's time is the days to the first I10 in the event index; every other row is censored within the horizon.
    const first = await hub.db.all<{ patient_key: string; d: unknown }>(
      `SELECT patient_key, MIN(event_date - DATE '${INDEX}') AS d FROM cohort_event
       WHERE domain = 'condition' AND code LIKE 'I10%' AND event_date > DATE '${INDEX}' GROUP BY patient_key`,
    );
    const daysTo = new Map(first.map((r) => [r.patient_key, Number(r.d)]));
    let events = 0;
    for (let i = 0; i < matrix.rows; i++) {
      if (matrix.outcome![i] === 1) {
        events++;
        expect(times![i]).toBe(daysTo.get(patientKeys[i]!));
      }
      expect(times![i]).toBeGreaterThanOrEqual(0);
      expect(times![i]).toBeLessThanOrEqual(1826);
    }
    expect(events).toBeGreaterThan(10);
    const m = cox.registered;
    expect(m.model).toMatchObject({ kind: 'cox', horizon: 1826 });
    expect(m.card.survival!.concordance).toBeGreaterThan(0.6);
    expect(m.card.fit!.coefficients.map((c) => c.term)).toEqual(m.model.features);
    // Reloaded and scored from the hub's rows through its stored plan: the fit's risks.
    const reloaded = await (await hubModelRegistry(hub)).get('htn-cox');
    const scored = await scoreHubRows(hub, reloaded);
    let worst = 0;
    scored.probabilities.forEach((p, i) => {
      worst = Math.max(worst, Math.abs(p - cox.testPredictions[i]!));
    });
    expect(worst).toBeLessThan(1e-9);
  }, 60_000);

  it('trains, lists, evaluates, exports and predicts through the CLI, and serves predictions', async () => {
    await hub.close();
    const specFile = join(work, 'htn.json');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(specFile, JSON.stringify(HTN_SPEC));
    const run = async (...args: string[]) => {
      const c = captureIo();
      const code = await main([...args, '--dir', env.dir], c.io);
      return { code, out: c.out, err: c.err };
    };
    const train = await run('model', 'train', specFile, '--out', join(work, 'heldout'));
    expect(train.err).toBe('');
    expect(train.code).toBe(0);
    expect(train.out).toMatch(/registered htn-5y version 1 \(logistic, 5 inputs\)/);
    expect(existsSync(join(work, 'heldout.html'))).toBe(true);
    console.log(train.out);

    const list = await run('model', 'list');
    expect(list.out).toMatch(/^htn-5y\s+v1\s+logistic\s+Hypertension, 5-year risk/m);

    const base = join(work, 'eval');
    const evaluation = await run('model', 'evaluate', 'htn-5y', '--out', base);
    expect(evaluation.code).toBe(0);
    const report = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as { overall: { n: number; auroc: number } };
    expect(report.overall.auroc).toBeGreaterThan(0.5);
    expect(Object.keys((report as unknown as { subgroups: Json }).subgroups)).toEqual(['sex', 'age band', 'region']);
    expect(readFileSync(`${base}.html`, 'utf8')).toContain('<svg');

    const onnx = join(work, 'htn.onnx');
    expect((await run('model', 'export', 'htn-5y', '--out', onnx)).code).toBe(0);

    // Reopen to pick a patient and the probabilities the stored plan gives every row.
    hub = await openHub(env.dir);
    const m = await (await hubModelRegistry(hub)).get('htn-5y');
    const scored = await scoreHubRows(hub, m);
    const session = await ort.InferenceSession.create(readFileSync(onnx));
    const x = scored.input;
    const ortOut = await session.run({ features: new ort.Tensor('float64', x.values, [x.rows, x.names.length]) });
    const ortP = ortOut.probability!.data as Float64Array;
    let worst = 0;
    for (let i = 0; i < x.rows; i++) worst = Math.max(worst, Math.abs(ortP[i]! - scored.probabilities[i]!));
    expect(worst).toBeLessThan(1e-12);
    const who = scored.rows.patientKeys[7]!;
    const expected = scored.probabilities[7]!;
    await hub.close();

    const predicted = await run('model', 'predict', 'htn-5y', '--patient', who, '--index-date', INDEX, '--json');
    expect(predicted.code).toBe(0);
    const body = JSON.parse(predicted.out) as { probability: number; riskAssessment: Json };
    expect(body.probability).toBeCloseTo(expected, 14);
    expect(body.riskAssessment).toMatchObject({
      resourceType: 'RiskAssessment',
      subject: { reference: `Patient/${who}` },
    });

    const vector = await run(
      'model',
      'predict',
      'htn-5y',
      '--features',
      '{"age": 61, "male": 1, "sbp": null, "bmi": 27}',
    );
    expect(vector.code).toBe(0);
    const bad = await run('model', 'predict', 'htn-5y', '--features', '{"age": "sixty"}');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/MODEL_INVALID_FEATURES.*age/);
    // Withdrawn from service, the version predicts no more, in the CLI as over the API; put back, it does.
    const features = '{"age": 61, "male": 1, "sbp": null, "bmi": 27}';
    expect((await run('model', 'status', 'htn-5y', '--version', '1', '--set', 'withdrawn')).code).toBe(0);
    expect((await run('model', 'status', 'htn-5y', '--version', '1')).out).toContain('withdrawn');
    const refused = await run('model', 'predict', 'htn-5y', '--features', features);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/MODEL_NOT_SERVING/);
    expect((await run('model', 'status', 'htn-5y', '--version', '1', '--set', 'recalled')).err).toMatch(
      /MODEL_INVALID_OPTION.*reason/,
    );
    expect((await run('model', 'status', 'htn-5y', '--version', '1', '--set', 'serving')).code).toBe(0);
    expect((await run('model', 'predict', 'htn-5y', '--features', features)).code).toBe(0);
    writeFileSync(
      specFile,
      JSON.stringify({ ...HTN_SPEC, features: [{ name: 'x', kind: 'latest', conceptSet: 'nope', window: {} }] }),
    );
    const badSpec = await run('model', 'train', specFile);
    expect(badSpec.code).toBe(1);
    expect(badSpec.err).toMatch(/MODEL_INVALID_SPEC: features\[0\]\.conceptSet: no concept set named "nope"/);
    expect((await run('model', 'export', 'no-such-model')).code).toBe(1);

    // The same prediction over the API, with access control and audit.
    hub = await openHub(env.dir);
    const app: FastifyInstance = await buildServer(hub);
    try {
      const admin = await hub.tokens.create('steward-test', 'admin');
      const researcher = await hub.tokens.create('researcher-test', 'researcher');
      const post = (token: string, payload: unknown, id = 'htn-5y') =>
        app.inject({
          method: 'POST',
          url: `/models/${id}/predict`,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          payload: JSON.stringify(payload),
        });
      const ok = await post(admin, { patient: who, indexDate: INDEX });
      expect(ok.statusCode).toBe(200);
      const r = ok.json() as { probabilities: number[]; riskAssessment: Json };
      expect(r.probabilities[0]).toBeCloseTo(expected, 14);
      expect(r.riskAssessment).toMatchObject({
        resourceType: 'RiskAssessment',
        status: 'final',
        subject: { reference: `Patient/${who}` },
        method: { coding: [{ system: 'urn:healthmesh:model', code: 'htn-5y|1' }] },
        prediction: [
          {
            probabilityDecimal: r.probabilities[0],
            outcome: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }], text: 'hypertension' },
            whenPeriod: { start: INDEX, end: '2026-01-01' },
          },
        ],
      });
      const forbidden = await post(researcher, { patient: who, indexDate: INDEX });
      expect(forbidden.statusCode).toBe(403);
      const vec = await post(researcher, { features: { age: 61, male: 1, sbp: null, bmi: 27 } });
      expect(vec.statusCode).toBe(200);
      expect((vec.json() as { features: Json }).features).toMatchObject({ sbp_missing: 1 });
      const nan = await post(researcher, { features: { age: 'NaN' } });
      expect(nan.statusCode).toBe(400);
      expect(JSON.stringify(nan.json())).toContain('MODEL_INVALID_FEATURES');
      expect((await post(admin, { patient: 'not-a-patient', indexDate: INDEX })).statusCode).toBe(404);
      expect((await post(admin, { features: {} }, 'no-such-model')).statusCode).toBe(404);
      expect((await post(admin, { patient: who, features: {} })).statusCode).toBe(400);
      // 30 February parses in JavaScript (as 2 March): refused as not a calendar date, not a 500 from the store.
      const feb30 = await post(admin, { patient: who, indexDate: '2023-02-30' });
      expect(feb30.statusCode).toBe(400);
      expect(JSON.stringify(feb30.json())).toContain('indexDate');
      // The audit entry is written in the onResponse hook, which may finish just after inject resolves.
      const audited = await vi.waitFor(
        async () => {
          const rows = await hub.db.all<{ outcome: string; target: string; detail: string }>(
            "SELECT outcome, target, CAST(detail AS VARCHAR) AS detail FROM audit_log WHERE action = 'model-predict' AND actor <> 'cli' ORDER BY seq",
          );
          if (rows.length < 8) throw new Error(`${rows.length} audit entries so far`);
          return rows;
        },
        { timeout: 10_000, interval: 50 },
      );
      expect(audited.map((a) => a.outcome)).toEqual([
        'success',
        'denied',
        'success',
        'failure',
        'failure',
        'failure',
        'failure',
        'failure',
      ]);
      expect(audited[0]!.target).toBe('models/htn-5y/1');
      expect(audited[0]!.detail).toContain('"patient"');
    } finally {
      await app.close();
    }
  }, 300_000);
});
