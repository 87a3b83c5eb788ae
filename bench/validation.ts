import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { silentLogger } from '../src/core/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { applyFeaturePlan, buildHubFeatures } from '../src/models/index.js';
import type { ValidationManifest } from '../src/validation/index.js';
import {
  buildValidationReport,
  DEFAULT_SANDBOX_LIMITS,
  manifestPlan,
  risksOf,
  runSandboxed,
  runValidation,
  signReport,
  submitModel,
  VALIDATION_PURPOSE,
} from '../src/validation/index.js';
import { htnFeatureSpec } from '../test/support/htn-spec.js';
import { ingestOptions } from '../test/support/temp-hub.js';
import { thirdPartyLogistic } from '../test/support/third-party-onnx.js';
import { writeValidationPopulation } from '../test/support/validation-population.js';

/** Issue 17: validating a model on one hub's people takes at most this many times scoring them with onnxruntime alone. */
const CEILING = 2;
/** 1,000,000 people on a quiet machine (issue 17); `BENCH_VALIDATION_PEOPLE=100000` checks it works. */
const PEOPLE = Number(process.env.BENCH_VALIDATION_PEOPLE ?? 1_000_000);
/**
 * People are written and ingested in parts of this many (each its own source, so ids never collide), so a
 * million never sit in memory at once. On a refusal the bench prints the rows and events it validated on.
 */
const PART = 20_000;

const WEIGHTS = [0.045, 0.25, 0.02, -0.3, 0.06];
const INTERCEPT = -7.2;

function manifest(): ValidationManifest {
  return {
    name: 'bench hypertension risk',
    version: '1.0.0',
    developer: { name: 'bench' },
    model: { input: { name: 'x', type: 'float' }, output: { name: 'risk', kind: 'risk' } },
    featureSpec: htnFeatureSpec('2021-01-01') as ValidationManifest['featureSpec'],
    intendedUse: { purpose: 'benchmark', population: 'synthetic adults' },
    reportedPerformance: { auroc: 0.74 },
    trainingData: {
      n: 20000,
      features: {
        age: { mean: 48, sd: 15 },
        male: { mean: 0.5, sd: 0.5 },
        sbp: { mean: 124, sd: 16 },
        bmi: { mean: 24, sd: 3.6 },
      },
    },
  };
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;
/** CPU seconds of this process (user + system) since `c0`; the sandbox's own process is not in it. */
const cpuSeconds = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};

/**
 * A hub of `PEOPLE` synthetic people (the validation test's population, in parts), a hand-written ONNX model
 * submitted to it, then: the whole validation (features in SQL, the sandboxed run, the report through the gate,
 * the signature) against onnxruntime-node scoring the same rows in this process, timed in the same run. The
 * features are timed on their own too, so the sandbox's own cost is seen apart from the hub's SQL.
 */
export async function runValidationBench(): Promise<boolean> {
  const root = mkdtempSync(join(tmpdir(), 'hm-bench-validation-'));
  try {
    const dir = join(root, 'hub');
    await initHub(dir, { name: 'busan', config: { role: 'demonstration' }, logger: silentLogger() });
    const hub = await openHub(dir, { logger: silentLogger() });
    try {
      let t0 = performance.now();
      for (let start = 0, part = 0; start < PEOPLE; start += PART, part++) {
        const input = join(root, `part-${part}`);
        mkdirSync(input);
        writeValidationPopulation(input, Math.min(PART, PEOPLE - start), 0, 17 + part);
        const files = readdirSync(input).map((f) => join(input, f));
        await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: `bench-${part}` }));
        rmSync(input, { recursive: true, force: true });
      }
      console.log(`validation generate+ingest: ${seconds(t0).toFixed(1)} s (${PEOPLE.toLocaleString('en')} people)`);
      const model = thirdPartyLogistic(WEIGHTS, INTERCEPT);
      const m = manifest();
      const submission = await submitModel(hub, m, model, 'bench');

      // The submission's probe left a warm sandbox process for this model (the hub's pool): the run reuses it.
      t0 = performance.now();
      const c0 = process.cpuUsage();
      const done = await runValidation(hub, submission.id, 'bench').catch(async (e: unknown) => {
        // Say what population the refusal was about (a bench sees its own synthetic rows).
        const rows = await buildHubFeatures(hub, m.featureSpec, { purpose: VALIDATION_PURPOSE });
        const events = rows.matrix.outcome!.reduce((s, v) => s + v, 0);
        console.error(`validation failed on ${rows.matrix.rows} rows with ${events} events: ${String(e)}`);
        throw e;
      });
      const validate = seconds(t0);
      const validateCpu = cpuSeconds(c0);

      t0 = performance.now();
      const cf = process.cpuUsage();
      const rows = await buildHubFeatures(hub, m.featureSpec, { purpose: VALIDATION_PURPOSE });
      const features = seconds(t0);
      const featuresCpu = cpuSeconds(cf);
      const x = applyFeaturePlan(manifestPlan(m), rows.matrix);
      // Our steps again, each on its own on the same rows, to show where the time between the two references sits.
      t0 = performance.now();
      const run = {
        model,
        inputName: 'x',
        inputType: 'float' as const,
        outputName: 'risk',
        rows: x.rows,
        columns: x.names.length,
        values: x.values,
      };
      const risks = risksOf(await runSandboxed(run, DEFAULT_SANDBOX_LIMITS, hub.sandboxes), x.rows, { kind: 'risk' });
      const sandbox = seconds(t0);
      // The same run in a process started for it, as every run did before the pool: the start and load it saves.
      t0 = performance.now();
      await runSandboxed(run, DEFAULT_SANDBOX_LIMITS);
      const cold = seconds(t0);
      t0 = performance.now();
      const cr = process.cpuUsage();
      const report = buildValidationReport(hub, {
        submission: done.submission,
        manifest: m,
        rows,
        risks,
        startedBy: 'bench',
        createdAt: new Date(),
      });
      const reporting = seconds(t0);
      const reportCpu = cpuSeconds(cr);
      t0 = performance.now();
      await signReport(hub, report);
      const signing = seconds(t0);
      t0 = performance.now();
      const c1 = process.cpuUsage();
      const session = await ort.InferenceSession.create(model);
      const out = await session.run({
        x: new ort.Tensor('float32', Float32Array.from(x.values), [x.rows, x.names.length]),
      });
      const scored = (out.risk!.data as Float32Array).length;
      await session.release();
      const alone = seconds(t0);
      const aloneCpu = cpuSeconds(c1);
      const ratio = validate / alone;
      console.log(
        `validation validate: ${validate.toFixed(2)} s (${ratio.toFixed(1)}x vs onnxruntime-node alone ${alone.toFixed(2)} s on the same ${scored.toLocaleString('en')} rows; ceiling ${CEILING}x)`,
      );
      console.log(
        `validation features in SQL: ${features.toFixed(2)} s of it; the rest (sandbox run, report, signature): ${(validate - features).toFixed(2)} s (${((validate - features) / alone).toFixed(1)}x vs onnxruntime alone); report n ${String(done.report.sampleSize.n)}`,
      );
      // The second reference reads the same rows in SQL and scores them with onnxruntime in this process, without
      // the sandbox, the report or the gate: what is left above it is ours.
      const floor = features + alone;
      console.log(
        `validation vs features in SQL + onnxruntime alone: ${validate.toFixed(2)} s (${(validate / floor).toFixed(2)}x vs ${floor.toFixed(2)} s reading and scoring the same rows without sandbox, report or gate)`,
      );
      console.log(
        `validation steps on their own: warm sandbox run ${sandbox.toFixed(2)} s (a new process: ${cold.toFixed(2)} s), report through the gate ${reporting.toFixed(2)} s, signature ${signing.toFixed(3)} s`,
      );
      console.log(
        `validation cpu of this process: ${validateCpu.toFixed(2)} s (the sandbox process's not included); features in SQL ${featuresCpu.toFixed(2)} s, report ${reportCpu.toFixed(2)} s; onnxruntime alone ${aloneCpu.toFixed(2)} s`,
      );
      return ratio <= CEILING;
    } finally {
      await hub.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
