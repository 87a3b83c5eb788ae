import type { Hub } from '../../src/hub/index.js';
import type { ValidationManifest } from '../../src/validation/index.js';
import { manifestProjectTables } from '../../src/validation/index.js';
import { htnFeatureSpec } from './htn-spec.js';

/** A third party's hypertension model for the drift and console tests: columns age, male, sbp, sbp_missing, bmi. */
export const ACME_WEIGHTS = [0.045, 0.25, 0.02, -0.3, 0.06];
export const ACME_INTERCEPT = -7.2;

/** Its manifest (docs/validation.md): the hypertension feature spec at 2021-01-01 and the developer's summary. */
export const acmeManifest: ValidationManifest = {
  name: 'ACME hypertension risk',
  version: '2.3.1',
  developer: { name: 'ACME Risk AI' },
  model: { input: { name: 'x', type: 'float' }, output: { name: 'risk', kind: 'risk' } },
  featureSpec: structuredClone(htnFeatureSpec('2021-01-01')) as ValidationManifest['featureSpec'],
  intendedUse: { purpose: 'screening adults for 5-year hypertension risk', population: 'adults 20+ in primary care' },
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

/**
 * An `ai-validation` project at `hub` with `member` on it, for the tables and variables the ACME model reads,
 * approved by a steward: what a submission needs.
 */
export async function approvedValidationProject(
  hub: Hub,
  member: { name: string; role: 'developer' },
): Promise<string> {
  const project = await hub.projects.file(member, {
    title: 'ACME hypertension risk validation',
    purpose: 'ai-validation',
    tables: manifestProjectTables(acmeManifest),
    endDate: new Date(hub.clock.now().getTime() + 30 * 86_400_000).toISOString().slice(0, 10),
    ethicsApproval: 'IRB-17',
    dataUseAgreement: true,
  });
  await hub.projects.review({ name: 'steward', role: 'steward' }, project.id, { decision: 'approve', comment: 'ok' });
  return project.id;
}
