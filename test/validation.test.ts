import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { defaultConfig } from '../src/core/index.js';
import type { Ed25519Jwk } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { applyFeaturePlan, buildHubFeatures, calibrationFit, featureMatrix, rocAnalysis } from '../src/models/index.js';
import { buildServer } from '../src/server/index.js';
import type { ValidationManifest } from '../src/validation/index.js';
import { DEFAULT_SANDBOX_LIMITS, manifestPlan, submitModel, verifyReport } from '../src/validation/index.js';
import { approvedValidationProject } from './support/acme-model.js';
import { captureIo } from './support/cli-capture.js';
import { htnFeatureSpec } from './support/htn-spec.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';
import { slowModel, thirdPartyLogistic } from './support/third-party-onnx.js';
import { writeValidationPopulation } from './support/validation-population.js';

/**
 * Issue 17 items 1–4 on one hub: a model the team did not train (a float32 Gemm graph written by hand, not our
 * exporter) is submitted by a developer, run in the sandbox on the hub's rows, and its report, built through the
 * release gate, is signed by the hub; bad models are refused each with its code while the hub keeps answering.
 */

// Columns of the input: age, male, sbp, sbp_missing (indicator policy), bmi (filled with the training mean).
const WEIGHTS = [0.045, 0.25, 0.02, -0.3, 0.06];
const INTERCEPT = -7.2;
/** The approved ai-validation project the developer submits in (made in beforeAll). */
let projectId = '';

function manifest(over: Partial<ValidationManifest> = {}): ValidationManifest {
  return {
    name: 'ACME hypertension risk',
    version: '2.3.1',
    developer: { name: 'ACME Risk AI' },
    projectId,
    model: { input: { name: 'x', type: 'float' }, output: { name: 'risk', kind: 'risk' } },
    featureSpec: structuredClone(htnFeatureSpec('2021-01-01')) as ValidationManifest['featureSpec'],
    intendedUse: { purpose: 'screening adults for 5-year hypertension risk', population: 'adults 20+ in primary care' },
    reportedPerformance: { auroc: 0.74, aurocCi: [0.72, 0.76], calibrationIntercept: 0, calibrationSlope: 1 },
    trainingData: {
      n: 20000,
      events: 3000,
      features: {
        age: { mean: 48, sd: 15 },
        male: { mean: 0.5, sd: 0.5 },
        sbp: { mean: 124, sd: 16 },
        bmi: { mean: 24, sd: 3.6 },
      },
    },
    thresholds: [0.05, 0.1, 0.2],
    ...over,
  };
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const codeOf = (res: LightMyRequestResponse): string | undefined =>
  (res.json() as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]?.code;

describe('validating a third party model on a hub', () => {
  let hub: Hub;
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  let hubDir: string;
  let developer: string;
  let validator: string;
  const input = mkdtempSync(join(tmpdir(), 'hm-validation-synth-'));

  beforeAll(async () => {
    writeValidationPopulation(input, 800, 30);
    const base = defaultConfig('busan');
    // Twelve significant digits on the release grid, so the report's figures can be compared with the rows' to 1e-6.
    const env = await tempHub('busan', {
      role: 'demonstration',
      privacy: { ...base.privacy, disclosure: { ...base.privacy.disclosure, precision: 12 } },
    });
    hub = env.hub;
    cleanup = env.cleanup;
    hubDir = env.dir;
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: 'synth-busan' }));
    developer = await hub.tokens.create('acme', 'developer');
    validator = await hub.tokens.create('val', 'validator');
    // A submission is work in a project approved here for AI validation, by one of its members.
    projectId = await approvedValidationProject(hub, { name: 'acme', role: 'developer' });
    app = await buildServer(hub);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await cleanup?.();
    rmSync(input, { recursive: true, force: true });
  });

  const post = (url: string, token: string, payload: unknown) =>
    app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload: payload as object });
  const get = (url: string, token: string) =>
    app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
  const stillAnswers = async () => expect((await get('/fhir/metadata', validator)).statusCode).toBe(200);

  it('refuses each bad model or manifest with its code and keeps answering', async () => {
    const good = thirdPartyLogistic(WEIGHTS, INTERCEPT);
    const cases: [string, unknown, Uint8Array, string][] = [
      ['not ONNX', manifest(), new TextEncoder().encode('{"weights": [1, 2, 3]}'), 'VALIDATION_MODEL_INVALID'],
      [
        'input name',
        manifest(),
        thirdPartyLogistic(WEIGHTS, INTERCEPT, { inputName: 'features' }),
        'VALIDATION_MODEL_SIGNATURE',
      ],
      ['input width', manifest(), thirdPartyLogistic([0.1, 0.1, 0.1], INTERCEPT), 'VALIDATION_MODEL_SIGNATURE'],
      ['NaN output', manifest(), thirdPartyLogistic(WEIGHTS, INTERCEPT, { output: 'nan' }), 'VALIDATION_MODEL_OUTPUT'],
      [
        'above one',
        manifest(),
        thirdPartyLogistic(WEIGHTS, INTERCEPT, { output: 'above-one' }),
        'VALIDATION_MODEL_OUTPUT',
      ],
      ['manifest field', { ...manifest(), intendedUse: { purpose: 'x' } }, good, 'VALIDATION_INVALID_MANIFEST'],
    ];
    for (const [what, m, model, code] of cases) {
      const res = await post('/validation/submissions', developer, { manifest: m, model: b64(model) });
      expect(res.statusCode, what).toBe(400);
      expect(codeOf(res), what).toBe(code);
      await stillAnswers();
    }
    // Errors name the field: the feature spec's own paths sit under featureSpec.
    const noMean = manifest({ trainingData: { n: 100, features: { age: { mean: 1, sd: 1 } } } });
    const res = await post('/validation/submissions', developer, { manifest: noMean, model: b64(good) });
    expect(res.body).toContain('trainingData.features.sbp');
    const badSpec = manifest();
    (badSpec.featureSpec.features[2] as { conceptSet: string }).conceptSet = 'nope';
    expect((await post('/validation/submissions', developer, { manifest: badSpec, model: b64(good) })).body).toContain(
      'featureSpec.features[2].conceptSet',
    );
    // A very large file and a model that runs too long, under small limits; nothing is stored.
    const small = { ...DEFAULT_SANDBOX_LIMITS, maxModelBytes: 200_000, timeoutMs: 1000 };
    const big = thirdPartyLogistic(WEIGHTS, INTERCEPT, { padBytes: 400_000 });
    await expect(submitModel(hub, manifest(), big, 'acme', small)).rejects.toMatchObject({
      code: 'VALIDATION_MODEL_TOO_LARGE',
    });
    await expect(
      submitModel(hub, manifest(), slowModel(5), 'acme', { ...small, maxModelBytes: 64e6 }),
    ).rejects.toMatchObject({
      code: 'VALIDATION_MODEL_TIMEOUT',
    });
    await stillAnswers();
    expect((await get('/validation/submissions', developer)).json()).toEqual({ submissions: [] });
  });

  it('validates the model on the rows, its AUROC and calibration equal to those computed from the rows', async () => {
    const model = thirdPartyLogistic(WEIGHTS, INTERCEPT);
    const sub = await post('/validation/submissions', developer, { manifest: manifest(), model: b64(model) });
    expect(sub.statusCode, sub.body).toBe(201);
    const { id, status } = sub.json() as { id: string; status: string };
    expect(status).toBe('submitted');
    // The developer may not start it; a validator does.
    expect((await post(`/validation/submissions/${id}/validate`, developer, {})).statusCode).toBe(403);
    const run = await post(`/validation/submissions/${id}/validate`, validator, {});
    expect(run.statusCode, run.body).toBe(200);
    expect((await get(`/validation/submissions/${id}`, developer)).json()).toMatchObject({ status: 'validated' });

    // Directly: the same rows, filled the same way, scored by onnxruntime in this process.
    const m = manifest();
    const rows = await buildHubFeatures(hub, m.featureSpec, { purpose: 'ai-validation' });
    // Consent: the 30 people who refused ai-validation are not in its rows (they are in another purpose's).
    const withRefusers = await buildHubFeatures(hub, m.featureSpec, { purpose: 'ai-development' });
    const leftOut = withRefusers.matrix.rows - rows.matrix.rows;
    expect(leftOut).toBeGreaterThanOrEqual(25); // the refusers free of hypertension on the index date
    expect(rows.consent.leftOut).toBe(30);
    const x = applyFeaturePlan(manifestPlan(m), rows.matrix);
    const session = await ort.InferenceSession.create(model);
    const out = await session.run({
      x: new ort.Tensor('float32', Float32Array.from(x.values), [x.rows, x.names.length]),
    });
    await session.release();
    const p = Float64Array.from(out.risk!.data as Float32Array);
    const y = rows.matrix.outcome!;
    const roc = rocAnalysis(p, y);
    const cal = calibrationFit(p, y);

    const { report } = (await get(`/validation/submissions/${id}/report`, developer)).json() as {
      report: {
        sampleSize: { n: number; events: number; sufficient: boolean };
        discrimination: { auroc: number; aurocCi: [number, number] };
        calibration: { intercept: number; slope: number; ici: number; curve: unknown[] };
        netBenefit: { threshold: number; model: number | null }[];
        subgroups: Record<string, { group: string }[]>;
        missingData: { feature: string; handling: string }[];
        datasetShift: { feature: string; standardisedDifference: number | null }[];
        verdict: { claims: string; summary: string };
        population: { consentPurpose: string; leftOutByConsent: number };
        submission: { projectId: string };
      };
    };
    expect(report.discrimination.auroc).toBeCloseTo(roc.auroc, 6);
    expect(Math.abs(report.discrimination.auroc - roc.auroc)).toBeLessThan(1e-6);
    expect(Math.abs(report.discrimination.aurocCi[0] - roc.aurocCi[0])).toBeLessThan(1e-6);
    expect(Math.abs(report.discrimination.aurocCi[1] - roc.aurocCi[1])).toBeLessThan(1e-6);
    expect(Math.abs(report.calibration.intercept - cal.intercept)).toBeLessThan(1e-6);
    expect(Math.abs(report.calibration.slope - cal.slope)).toBeLessThan(1e-6);
    expect(report.calibration.ici).toBeGreaterThan(0);
    expect(report.calibration.curve.length).toBeGreaterThan(0);
    expect(report.sampleSize.n % 5).toBe(0); // a count, rounded by the gate
    expect(Math.abs(report.sampleSize.n - rows.matrix.rows)).toBeLessThanOrEqual(2);
    expect(report.netBenefit.map((n) => n.threshold)).toEqual([0.05, 0.1, 0.2]);
    expect(Object.keys(report.subgroups).sort()).toEqual(['ageBand', 'sex']);
    expect(report.missingData.find((f) => f.feature === 'bmi')?.handling).toContain('training mean 24');
    expect(report.datasetShift.map((f) => f.feature)).toEqual(['age', 'male', 'sbp', 'bmi']);
    expect(report.population.consentPurpose).toBe('ai-validation');
    expect(report.population.leftOutByConsent).toBe(30); // a count over the threshold, a multiple of 5
    expect(report.submission.projectId).toBe(projectId);
    expect(['supported', 'not supported', 'inconclusive']).toContain(report.verdict.claims);
    expect(report.verdict.summary).toMatch(/claims/);
  });

  it('marks a submission failed when its model fails on the rows, and shows it to its developer only', async () => {
    // A probability on the developer's means (the probe at submission), above 1 wherever sbp was not recorded.
    const model = thirdPartyLogistic(WEIGHTS, INTERCEPT, { addColumn: 3 });
    const sub = await post('/validation/submissions', developer, { manifest: manifest(), model: b64(model) });
    expect(sub.statusCode, sub.body).toBe(201);
    const { id } = sub.json() as { id: string };
    const run = await post(`/validation/submissions/${id}/validate`, validator, {});
    expect(codeOf(run)).toBe('VALIDATION_MODEL_OUTPUT');
    expect((await get(`/validation/submissions/${id}`, developer)).json()).toMatchObject({
      status: 'failed',
      failure: { code: 'VALIDATION_MODEL_OUTPUT' },
    });
    expect(codeOf(await get(`/validation/submissions/${id}/report`, developer))).toBe('VALIDATION_NOT_FOUND');
    await stillAnswers();
    const other = await hub.tokens.create('another-startup', 'developer');
    expect(codeOf(await get(`/validation/submissions/${id}`, other))).toBe('VALIDATION_NOT_FOUND');
    expect((await get('/validation/submissions', other)).json()).toEqual({ submissions: [] });
  });

  it('signs the report with the hub identity: the file verifies, a file with one byte changed does not', async () => {
    const s = (
      (await get('/validation/submissions', validator)).json() as { submissions: { id: string; status: string }[] }
    ).submissions.find((x) => x.status === 'validated');
    const file = (await get(`/validation/submissions/${s!.id}/report?format=jws`, developer)).body;
    const identity = (await app.inject({ method: 'GET', url: '/federation/identity' })).json() as {
      publicKey: Ed25519Jwk;
    };
    expect(await verifyReport(file, identity.publicKey)).toMatchObject({ valid: true });
    const verify = (jws: string) =>
      app.inject({ method: 'POST', url: '/validation/reports/verify', payload: { jws } }).then((r) => r.json());
    expect(await verify(file)).toMatchObject({ valid: true, hub: 'busan' });
    const [header, payload, signature] = file.split('.') as [string, string, string];
    // One byte of the report itself (a digit of a figure), and one byte in each part of the file.
    const report = Buffer.from(payload, 'base64url').toString('utf8');
    const at = report.search(/"auroc":0\.\d/) + 10;
    const edited = `${report.slice(0, at)}${report[at] === '9' ? '8' : '9'}${report.slice(at + 1)}`;
    const forged = `${header}.${Buffer.from(edited).toString('base64url')}.${signature}`;
    expect(forged).not.toBe(file);
    expect(await verifyReport(forged, identity.publicKey)).toMatchObject({ valid: false });
    expect(await verify(forged)).toMatchObject({ valid: false });
    const page = await get(`/validation/submissions/${s!.id}/report?format=html`, developer);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain(file);
    expect(page.body).not.toMatch(/<script/);
    // The command line, with the hub's directory or the identity answer saved to a file.
    writeFileSync(join(input, 'report.jws'), file);
    writeFileSync(join(input, 'forged.jws'), forged);
    writeFileSync(join(input, 'busan.json'), JSON.stringify(identity));
    const ok = captureIo();
    expect(await main(['report', 'verify', join(input, 'report.jws'), '--hub-dir', hubDir], ok.io)).toBe(0);
    expect(ok.out).toMatch(/^valid: /);
    const bad = captureIo();
    expect(
      await main(['report', 'verify', join(input, 'forged.jws'), '--key', join(input, 'busan.json')], bad.io),
    ).toBe(1);
    expect(bad.err).toContain('VALIDATION_REPORT_INVALID');
    for (const i of [3, header.length + 5, file.length - 4]) {
      const flipped = `${file.slice(0, i)}${file[i] === 'A' ? 'B' : 'A'}${file.slice(i + 1)}`;
      expect((await verifyReport(flipped, identity.publicKey)).valid, `byte ${i}`).toBe(false);
    }
  });

  it('serves a validated version only once a validator approves it, until it is recalled', async () => {
    const s = (
      (await get('/validation/submissions', validator)).json() as { submissions: { id: string; status: string }[] }
    ).submissions.find((x) => x.status === 'validated');
    const id = s!.id;
    const researcher = await hub.tokens.create('r-serve', 'researcher');
    const names = manifest().featureSpec.features.map((f) => f.name);
    const person = Object.fromEntries(names.map((n, j) => [n, [55, 1, 142, 27, 1][j] ?? 1]));
    const predict = (features: Record<string, number | null>) =>
      post(`/validation/submissions/${id}/predict`, researcher, { features });
    expect(codeOf(await predict(person))).toBe('VALIDATION_NOT_SERVING');
    expect((await post(`/validation/submissions/${id}/approve`, developer, { comment: 'mine' })).statusCode).toBe(403);
    const approved = await post(`/validation/submissions/${id}/approve`, validator, { comment: 'report reviewed' });
    expect(approved.json()).toMatchObject({ status: 'approved', decision: { by: 'val', comment: 'report reviewed' } });

    const answer = await predict(person);
    expect(answer.statusCode, answer.body).toBe(200);
    const ra = answer.json() as {
      resourceType: string;
      basis: { display: string }[];
      prediction: { probabilityDecimal: number }[];
    };
    expect(ra.resourceType).toBe('RiskAssessment');
    expect(ra.basis[0]!.display).toContain(id);
    // The same person scored directly: the manifest's plan over the features, onnxruntime in this process.
    const x = applyFeaturePlan(
      manifestPlan(manifest()),
      featureMatrix(
        names,
        Float64Array.from(names, (n) => person[n]!),
      ),
    );
    const session = await ort.InferenceSession.create(thirdPartyLogistic(WEIGHTS, INTERCEPT));
    const direct = await session.run({
      x: new ort.Tensor('float32', Float32Array.from(x.values), [1, x.names.length]),
    });
    await session.release();
    expect(ra.prediction[0]!.probabilityDecimal).toBeCloseTo((direct.risk!.data as Float32Array)[0]!, 6);
    expect(codeOf(await predict({ ...person, shoe_size: 44 }))).toBe('VALIDATION_INVALID_INPUT');

    // A resident sees their own risk from the served model, from their records as of today, with its factors.
    const citizen = await hub.tokens.create('resident-vp', 'citizen');
    let mine: { risk: number | null; factors: { feature: string; effect: number }[] } | undefined;
    for (let i = 40; mine?.risk == null && i < 60; i++) {
      const { code } = await hub.enrolment.issue({ name: 'source', role: 'admin' }, 'synth-busan', `vp${i}`);
      expect((await post('/me/enrol', citizen, { code })).statusCode).toBe(201);
      const risks = (await get('/me/risks', citizen)).json().risks as NonNullable<typeof mine>[];
      expect(risks).toHaveLength(1);
      mine = risks[0];
    }
    expect(mine?.risk).toBeGreaterThan(0);
    expect(mine!.risk).toBeLessThan(1);
    expect(mine!.factors.map((f) => f.feature).sort()).toEqual(Object.keys(manifest().trainingData.features).sort());
    // Largest effect first, each the risk now minus the risk with that feature at the training mean.
    const effects = mine!.factors.map((f) => Math.abs(f.effect));
    expect(effects).toEqual([...effects].sort((a, b) => b - a));

    const recalled = await post(`/validation/submissions/${id}/recall`, validator, { comment: 'drift in sbp' });
    expect(recalled.json()).toMatchObject({ status: 'recalled' });
    const refused = await predict(person);
    expect(codeOf(refused)).toBe('VALIDATION_RECALLED');
    expect(refused.body).toContain('drift in sbp');
    expect(codeOf(await post(`/validation/submissions/${id}/validate`, validator, {}))).toBe('VALIDATION_NOT_SERVING');
    const [audit] = await hub.audit.recent(1, ['validation-recall']);
    expect(audit).toMatchObject({ actor: 'val', outcome: 'success' });
  });

  it('does the same from the CLI against the served hub: submit, run, approve, fetch the signed report that verifies', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = app.listeningOrigin;
    const files = mkdtempSync(join(tmpdir(), 'hm-validation-cli-'));
    try {
      const write = (name: string, data: string | Uint8Array) => {
        writeFileSync(join(files, name), data);
        return join(files, name);
      };
      const dev = ['--url', url, '--token-file', write('dev.token', developer)];
      const val = ['--url', url, '--token-file', write('val.token', validator)];
      const cli = async (args: string[]) => {
        const c = captureIo();
        const code = await main(['validation', ...args], c.io);
        return { code, out: c.out, err: c.err };
      };
      const submitted = await cli([
        'submit',
        ...dev,
        '--json',
        '--manifest',
        write('m.json', JSON.stringify(manifest({ version: 'cli-1' }))),
        '--model',
        write('m.onnx', thirdPartyLogistic(WEIGHTS, INTERCEPT)),
      ]);
      expect(submitted.err).toBe('');
      expect(submitted.code).toBe(0);
      const sub = JSON.parse(submitted.out) as { id: string; status: string };
      expect(sub.status).toBe('submitted');

      // A developer may not run a validation: the hub's refusal and its exit code come back as they are.
      const refused = await cli(['run', sub.id, ...dev]);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/^error AUTH_FORBIDDEN: /);
      const ran = await cli(['run', sub.id, ...val]);
      expect(ran.code).toBe(0);
      expect(ran.out).toContain(`${sub.id} run 1: validated`);
      expect(ran.out).toMatch(/AUROC 0\.\d+ \(95% CI/);
      expect((await cli(['approve', sub.id, ...val, '--comment', 'fit for the pilot'])).out).toContain(
        'approved by val: fit for the pilot',
      );
      const listed = await cli(['list', ...dev, '--json']);
      expect((JSON.parse(listed.out) as { id: string }[]).map((s) => s.id)).toContain(sub.id);

      // The signed file as the hub sent it verifies with the hub's key; one byte changed does not.
      const signed = join(files, 'report.jws');
      const fetched = await cli(['report', sub.id, ...dev, '--out', signed]);
      expect(fetched.code).toBe(0);
      const verify = async (file: string) => main(['report', 'verify', file, '--hub-dir', hubDir], captureIo().io);
      expect(await verify(signed)).toBe(0);
      const bytes = readFileSync(signed);
      const middle = Math.floor(bytes.length / 2);
      bytes[middle] = (bytes[middle] as number) ^ 1;
      expect(await verify(write('changed.jws', bytes))).toBe(1);

      // No token, a token the hub does not know, and a hub that is not there, each with its own code.
      expect((await cli(['list', '--url', url])).err).toMatch(/^error AUTH_MISSING_TOKEN: /);
      const unknown = await cli(['list', '--url', url, '--token-file', write('x.token', 'hm_not-a-token')]);
      expect(unknown.err).toMatch(/^error AUTH_INVALID_TOKEN: /);
      const gone = await cli(['list', '--url', 'http://127.0.0.1:9', '--token-file', join(files, 'dev.token')]);
      expect(gone.err).toMatch(/^error FEDERATION_PEER_FAILED: the hub at http:\/\/127\.0\.0\.1:9 is not reachable/);
      expect(gone.code).toBe(3);
    } finally {
      rmSync(files, { recursive: true, force: true });
    }
  });
});
