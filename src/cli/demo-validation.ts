import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import onnxProto from 'onnx-proto';
import type { Hub } from '../hub/index.js';
import type { ValidationManifest } from '../validation/index.js';
import { hubSubmissions, manifestProjectTables } from '../validation/index.js';
import { call, demoStewardOf, signIn } from './demo-people.js';
import type { Io } from './io.js';

const { onnx } = onnxProto;
const { DataType } = onnx.TensorProto;

/** The sample startup's model: risk = sigmoid(age, male, sbp, sbp_missing, bmi · w + b), as its own tools wrote it. */
const WEIGHTS = [0.045, 0.25, 0.02, -0.3, 0.06];
const INTERCEPT = -7.2;
const HANDLE = 'developer-park';
const SIGN_IN = 'park.developer';

/**
 * A third party's ONNX file, written here with onnx-proto as a startup's exporter would (float32 Gemm then Sigmoid,
 * input `x`, output `risk`), not by the hubs' registry (`models/onnx-export.ts`: double, other names), so the demo
 * validates a model the hubs did not train.
 */
export function demoThirdPartyModel(): Uint8Array {
  const tensor = (name: string, dims: number[], values: number[]) =>
    onnx.TensorProto.create({ name, dims, dataType: DataType.FLOAT, floatData: values });
  const io = (name: string, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: DataType.FLOAT,
          shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
        },
      },
    });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'acme-risk-ai',
      producerVersion: '2.3.1',
      opsetImport: [{ domain: '', version: 17 }],
      graph: onnx.GraphProto.create({
        name: 'acme_logistic',
        node: [
          { opType: 'Gemm', input: ['x', 'w', 'b'], output: ['z'], name: 'gemm' },
          { opType: 'Sigmoid', input: ['z'], output: ['risk'], name: 'sigmoid' },
        ],
        initializer: [tensor('w', [WEIGHTS.length, 1], WEIGHTS), tensor('b', [1], [INTERCEPT])],
        input: [io('x', ['N', WEIGHTS.length])],
        output: [io('risk', ['N', 1])],
      }),
    }),
  ).finish();
}

/**
 * The sample model's manifest (docs/validation.md): 7-year hypertension from age, sex, systolic pressure and BMI at
 * 2018-01-01. Seven years, so that even the start test's 150 residents a hub hold the release gate's ten events.
 */
export function demoManifest(): ValidationManifest {
  const icd10 = 'http://hl7.org/fhir/sid/icd-10';
  return {
    name: 'ACME hypertension risk',
    version: '2.3.1',
    developer: { name: 'ACME Risk AI (demo startup)' },
    model: { input: { name: 'x', type: 'float' }, output: { name: 'risk', kind: 'risk' } },
    featureSpec: {
      name: 'Hypertension within 7 years',
      conceptSets: {
        htn: { concepts: [{ system: icd10, code: 'I10', descendants: true }] },
        sbp: { concepts: [{ system: 'http://loinc.org', code: '8480-6' }] },
        bmi: { concepts: [{ system: 'http://loinc.org', code: '39156-5' }] },
      },
      population: { indexDate: '2018-01-01', age: { min: 20 } },
      outcome: { name: 'hypertension', domain: 'condition', conceptSet: 'htn', horizonDays: 2557 },
      features: [
        { name: 'age', kind: 'age' },
        { name: 'male', kind: 'sex', value: 'male' },
        { name: 'sbp', kind: 'mean', conceptSet: 'sbp', window: { end: 0 }, missing: 'indicator' },
        { name: 'bmi', kind: 'latest', conceptSet: 'bmi', window: { start: -1095, end: 0 }, unit: 'kg/m2' },
      ],
    } as ValidationManifest['featureSpec'],
    intendedUse: {
      purpose: 'screening adults for 7-year hypertension risk',
      population: 'adults 20+ in primary care',
      setting: 'primary care',
    },
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
  };
}

/**
 * On a first start, the sample third party's model is validated across the demo's hubs, through the served API as
 * the people would do it: the developer signs in at the demonstration hub and files an `ai-validation` project
 * naming every hub, which the demonstration hub forwards; each hub's data steward signs in there and approves it;
 * the developer submits the model, and the demonstration hub's admin runs the validation over the hubs,
 * which each score their own population and release their part. The API audits each step. A refusal (a population
 * too small for the release gate) is printed, not fatal.
 */
export async function validateDemoModel(
  hubs: readonly Hub[],
  apps: readonly FastifyInstance[],
  passwords: ReadonlyMap<string, string>,
  io: Io,
) {
  const i = hubs.findIndex((h) => h.config.role === 'demonstration');
  const password = passwords.get(SIGN_IN);
  if (i < 0 || password === undefined) return;
  const hub = hubs[i]!;
  const app = apps[i]!;
  const manifest = demoManifest();
  const known = (await hubSubmissions(hub).list(HANDLE)).find(
    (s) => s.name === manifest.name && s.version === manifest.version,
  );
  const where = `${app.listeningOrigin}/validation/submissions`;
  if (known) {
    io.out.write(
      `validation at ${hub.config.name}: ${manifest.name} ${manifest.version} is ${known.status} (${where}/${known.id})\n`,
    );
    return;
  }
  const names = hubs.map((h) => h.config.name);
  const admin = (h: Hub) => readFileSync(h.paths.adminToken, 'utf8').trim();
  const developer = await signIn(app, SIGN_IN, password);
  const project = await call<{ id: string }>(app, developer, 'POST', '/projects', {
    title: 'Sample startup: 7-year hypertension risk, external validation',
    purpose: 'ai-validation',
    // What the model's spec reads: the submission, the run and every hub scoring it check it against this scope.
    tables: manifestProjectTables(manifest),
    endDate: new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10),
    ethicsApproval: 'DEMO-IRB-2026-001',
    dataUseAgreement: true,
    hubs: names,
  });
  // Each hub's data steward decides on the project at their own hub, as the hub's governance would have it.
  for (const [j, h] of hubs.entries()) {
    const name = demoStewardOf(h.config.role);
    const steward = name === undefined ? undefined : passwords.get(name);
    if (name === undefined || steward === undefined) throw new Error(`demo: no steward at ${h.config.name}`);
    await call(apps[j]!, await signIn(apps[j]!, name, steward), 'POST', `/projects/${project.id}/review`, {
      decision: 'approve',
      comment: `demo: approved for AI validation on ${h.config.name}`,
    });
  }
  const submission = await call<{ id: string }>(app, developer, 'POST', '/validation/submissions', {
    manifest: { ...manifest, projectId: project.id },
    model: Buffer.from(demoThirdPartyModel()).toString('base64'),
  });
  try {
    const done = await call<{
      report: {
        verdict: { claims: string };
        federation: { tookPart: string[]; failed: { hub: string; remoteCode?: string; kind: string }[] };
      };
    }>(app, admin(hub), 'POST', `/validation/submissions/${submission.id}/validate`, { hubs: names });
    const { tookPart, failed } = done.report.federation;
    const refused = failed.map((f) => `${f.hub} refused: ${f.remoteCode ?? f.kind}`);
    io.out.write(
      `validation at ${hub.config.name} across ${[tookPart.join(', '), ...refused].join('; ')}: ${manifest.name} ${manifest.version} validated, claims ${done.report.verdict.claims}; report at ${where}/${submission.id}/report?format=html\n`,
    );
  } catch (e) {
    io.out.write(`validation at ${hub.config.name}: ${manifest.name} refused: ${(e as Error).message}\n`);
  }
}
