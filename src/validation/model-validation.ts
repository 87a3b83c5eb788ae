import type { HubServices as Hub, HubModule } from '../context/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { FeatureMatrix } from '../models/index.js';
import { applyFeaturePlan, buildHubFeatures, featureMatrix } from '../models/index.js';
import { driftMigrations, recordDriftBaseline, recordServedPredictions } from './drift-monitor.js';
import type { ValidationManifest } from './manifest.js';
import { manifestPlan, validateManifest } from './manifest.js';
import type { SandboxLimits } from './model-sandbox.js';
import { DEFAULT_SANDBOX_LIMITS, risksOf, runSandboxed } from './model-sandbox.js';
import { calibrationMigrations } from './pooled-calibration.js';
import { signReport } from './report-signature.js';
import { SandboxPool } from './sandbox-pool.js';
import type { Submission } from './submission-store.js';
import { SubmissionStore, validationMigrations } from './submission-store.js';
import type { ValidationReport } from './validation-report.js';
import { buildValidationReport } from './validation-report.js';

/**
 * The validation module in a hub: its tables are made when the hub opens; it adds the hub's pool of warm sandbox
 * processes, stopped when the hub closes.
 */
export const validationModule: HubModule<object, { sandboxes: SandboxPool }> = {
  name: 'validation',
  migrations: [...validationMigrations, ...driftMigrations, ...calibrationMigrations],
  open: () => ({ sandboxes: new SandboxPool() }),
  close: ({ sandboxes }) => sandboxes.close(),
};

/** The hub's warm sandboxes, when it was opened with the validation module (a bare context runs each in a new process). */
function sandboxesOf(hub: object): SandboxPool | undefined {
  return 'sandboxes' in hub && hub.sandboxes instanceof SandboxPool ? hub.sandboxes : undefined;
}

/** The consent purpose a validation run's population is chosen for (docs/consent.md). */
export const VALIDATION_PURPOSE = 'ai-validation';

/** The submissions of a hub (its tables exist: every module's migrations run when the hub opens). */
export function hubSubmissions(hub: Pick<Hub, 'db' | 'clock'>): SubmissionStore {
  return new SubmissionStore(hub.db, hub.clock);
}

/**
 * Score `x` with the manifest's model in the sandbox (a warm process of `hub`'s pool when it has one); the risks,
 * checked to be probabilities.
 */
export async function scoreInSandbox(
  hub: object,
  model: Uint8Array,
  manifest: ValidationManifest,
  x: FeatureMatrix,
  limits: SandboxLimits,
) {
  const out = await runSandboxed(
    {
      model,
      inputName: manifest.model.input.name,
      inputType: manifest.model.input.type,
      outputName: manifest.model.output.name,
      rows: x.rows,
      columns: x.names.length,
      values: x.values,
    },
    limits,
    sandboxesOf(hub),
  );
  return risksOf(out, x.rows, manifest.model.output);
}

/**
 * A developer's submission: the manifest checked against its schema, the model's size against the limit, then the
 * model run once in the sandbox on one row (the developer's training means, filled as validation will fill them),
 * so a file that is not ONNX, takes other inputs or shapes, gives no probability or runs too long is refused now
 * and never stored. What passes is stored as `submitted`.
 */
export async function submitModel(
  hub: Hub,
  manifestInput: unknown,
  model: Uint8Array,
  submittedBy: string,
  limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
): Promise<Submission> {
  if (model.byteLength > limits.maxModelBytes) {
    throw new HealthmeshError(
      'VALIDATION_MODEL_TOO_LARGE',
      `the model is ${model.byteLength} bytes; the limit is ${limits.maxModelBytes}`,
      { path: 'model' },
    );
  }
  const manifest = validateManifest(manifestInput);
  const plan = manifestPlan(manifest);
  const features = manifest.featureSpec.features;
  const probe = featureMatrix(
    features.map((f) => f.name),
    Float64Array.from(features, (f) => manifest.trainingData.features[f.name]?.mean ?? 0),
  );
  await scoreInSandbox(hub, model, manifest, applyFeaturePlan(plan, probe), limits);
  return hubSubmissions(hub).add(manifest, model, submittedBy);
}

/**
 * Validate a submission on this hub's rows: the spec's population at its index date (people whose consent refuses
 * `ai-validation` left out), features computed in SQL, filled as the manifest says, scored in the sandbox; the
 * report built through the release gate and signed with the hub's identity. A refused model leaves the submission
 * `failed` with the refusal's code, and the refusal is thrown.
 */
export async function runValidation(
  hub: Hub,
  id: string,
  startedBy: string,
  limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
): Promise<{ submission: Submission; report: ValidationReport; jws: string; run: number }> {
  const store = hubSubmissions(hub);
  await store.begin(id);
  try {
    const submission = await store.get(id);
    const manifest = submission.manifest;
    const rows = await buildHubFeatures(hub, manifest.featureSpec, { purpose: VALIDATION_PURPOSE });
    const x = applyFeaturePlan(manifestPlan(manifest), rows.matrix);
    const risks = await scoreInSandbox(hub, await store.model(id), manifest, x, limits);
    const report = buildValidationReport(hub, {
      submission,
      manifest,
      rows,
      risks,
      startedBy,
      createdAt: hub.clock.now(),
    });
    const jws = await signReport(hub, report);
    const run = await store.complete(id, startedBy, jws);
    await recordDriftBaseline(hub.db, id, run, x, risks);
    return { submission: await store.get(id), report, jws, run };
  } catch (e) {
    await store.fail(id, isHealthmeshError(e) ? e.code : 'INTERNAL', e instanceof Error ? e.message : String(e));
    throw e;
  }
}

/**
 * Risks from a submission a validator approved to serve, for people's features as the caller gives them (named as
 * in the manifest's feature spec; a missing or null one is filled as validation filled it). A recalled version says
 * so and by whom; one not approved is not served. The model runs in the sandbox like every run, once for all rows.
 */
export async function predictRowsWithSubmission(
  hub: Hub,
  id: string,
  people: readonly Readonly<Record<string, number | null>>[],
  limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
): Promise<{ submission: Submission; risks: number[]; reportRun: number }> {
  const store = hubSubmissions(hub);
  const submission = await store.get(id);
  if (submission.status === 'recalled') {
    throw new HealthmeshError(
      'VALIDATION_RECALLED',
      `${submission.name} ${submission.version} was recalled by ${submission.decision?.by ?? 'a validator'}: ${submission.decision?.comment ?? ''}`,
    );
  }
  if (submission.status !== 'approved') {
    throw new HealthmeshError(
      'VALIDATION_NOT_SERVING',
      `${submission.name} ${submission.version} is ${submission.status}: only a version a validator approved is served`,
    );
  }
  const names = submission.manifest.featureSpec.features.map((f) => f.name);
  for (const features of people) {
    for (const key of Object.keys(features)) {
      if (!names.includes(key)) {
        throw new HealthmeshError(
          'VALIDATION_INVALID_INPUT',
          `the model has no feature ${key} (it takes ${names.join(', ')})`,
          {
            path: `features.${key}`,
          },
        );
      }
    }
  }
  const values = new Float64Array(people.length * names.length);
  people.forEach((features, i) => {
    names.forEach((n, j) => {
      const v = features[n];
      values[i * names.length + j] = v === null || v === undefined ? Number.NaN : v;
    });
  });
  const x = applyFeaturePlan(manifestPlan(submission.manifest), featureMatrix(names, values));
  const risks = await scoreInSandbox(hub, await store.model(id), submission.manifest, x, limits);
  await recordServedPredictions(hub, id, x, risks);
  const { run } = await store.report(id);
  return { submission, risks: Array.from(risks), reportRun: run };
}

/** One person's risk from an approved submission (`predictRowsWithSubmission` for one row). */
export async function predictWithSubmission(
  hub: Hub,
  id: string,
  features: Readonly<Record<string, number | null>>,
  limits: SandboxLimits = DEFAULT_SANDBOX_LIMITS,
): Promise<{ submission: Submission; risk: number; reportRun: number }> {
  const { submission, risks, reportRun } = await predictRowsWithSubmission(hub, id, [features], limits);
  return { submission, risk: risks[0]!, reportRun };
}
