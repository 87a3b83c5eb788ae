import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import type { ValidationFederation } from './federated-validation.js';
import { hubSubmissions } from './model-validation.js';
import type { PooledValidationReport } from './pooled-report.js';
import { buildPooledReport } from './pooled-report.js';
import { signReport } from './report-signature.js';
import type { Submission } from './submission-store.js';

/**
 * Validate a submission across `hubs` (this hub among them or not): each scores the model on its own population
 * inside the submission's project, its calibration is fitted across them by Newton rounds, its AUROC pooled by
 * secure products (with three hubs or more), the parts are pooled
 * into one report, signed with this hub's identity and
 * stored as the submission's run. A submission without a project is refused (`VALIDATION_NO_PROJECT`); a hub that
 * refuses is named in the report, and the run fails only when no hub took part.
 */
export async function runFederatedValidation(
  hub: Hub,
  validation: ValidationFederation,
  federation: Federation | undefined,
  id: string,
  hubs: readonly string[],
  startedBy: string,
): Promise<{ submission: Submission; report: PooledValidationReport; jws: string; run: number }> {
  const store = hubSubmissions(hub);
  const before = await store.get(id);
  const project = before.projectId;
  if (project === null) {
    throw new HealthmeshError('VALIDATION_NO_PROJECT', `submission ${id} names no project: it runs on no other hub`);
  }
  if (federation === undefined && hubs.some((h) => h !== hub.config.name)) {
    throw new HealthmeshError('FEDERATION_NO_IDENTITY', 'this hub has no identity key: it cannot ask other hubs');
  }
  await store.begin(id);
  try {
    const submission = await store.get(id);
    const manifest = submission.manifest;
    const gathered = await validation.gather(federation, hubs, manifest, await store.model(id), project, startedBy);
    const calibration = await validation.calibrate(federation, gathered.parts, project, startedBy);
    const auroc = await validation.auroc(federation, gathered.parts, project, startedBy);
    const report = buildPooledReport(hub, {
      submission,
      manifest,
      gathered,
      calibration,
      auroc,
      hubs,
      startedBy,
      createdAt: hub.clock.now(),
    });
    const jws = await signReport(hub, report);
    const run = await store.complete(id, startedBy, jws);
    return { submission: await store.get(id), report, jws, run };
  } catch (e) {
    await store.fail(id, isHealthmeshError(e) ? e.code : 'INTERNAL', e instanceof Error ? e.message : String(e));
    throw e;
  }
}
