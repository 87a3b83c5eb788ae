import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { htnFeatureSpec } from '../../test/support/htn-spec.js';
import { MANIFEST_SCHEMA, manifestPlan, validateManifest } from './index.js';

const manifest = () => ({
  name: 'ACME hypertension risk',
  version: '1.0',
  developer: { name: 'ACME' },
  model: { input: { name: 'x', type: 'float' }, output: { name: 'risk', kind: 'risk' } },
  featureSpec: structuredClone(htnFeatureSpec()),
  intendedUse: { purpose: 'screening', population: 'adults' },
  reportedPerformance: { auroc: 0.7 },
  trainingData: { n: 1000, features: { sbp: { mean: 125, sd: 15 }, bmi: { mean: 24, sd: 4 } } },
});

const pathOf = (input: unknown) => {
  try {
    validateManifest(input);
    return 'valid';
  } catch (e) {
    expect((e as { code: string }).code).toBe('VALIDATION_INVALID_MANIFEST');
    return (e as { location: { path: string } }).location.path;
  }
};

describe('validation manifest', () => {
  it('publishes the schema it validates with (docs/validation-manifest.schema.json)', () => {
    const published = JSON.parse(
      readFileSync(new URL('../../docs/validation-manifest.schema.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(published).toEqual(JSON.parse(JSON.stringify(MANIFEST_SCHEMA)));
  });

  it('names the field at fault', () => {
    expect(pathOf(manifest())).toBe('valid');
    expect(pathOf({ ...manifest(), reportedPerformance: { auroc: 1.5 } })).toBe('reportedPerformance.auroc');
    expect(
      pathOf({ ...manifest(), model: { input: { name: 'x', type: 'int8' }, output: manifest().model.output } }),
    ).toBe('model.input.type');
    const noOutcome = manifest();
    delete (noOutcome.featureSpec as { outcome?: unknown }).outcome;
    expect(pathOf(noOutcome)).toBe('featureSpec.outcome');
    const badWindow = manifest();
    const features = badWindow.featureSpec.features as unknown as Record<string, unknown>[];
    features[3] = { ...features[3], window: { start: 5, end: 0 } };
    expect(pathOf(badWindow)).toBe('featureSpec.features[3].window');
    expect(pathOf({ ...manifest(), trainingData: { n: 1000, features: { bmi: { mean: 24, sd: 4 } } } })).toBe(
      'trainingData.features.sbp',
    );
    expect(pathOf({ ...manifest(), model: { ...manifest().model, output: { name: 'p', kind: 'class' } } })).toBe(
      'model.output.classIndex',
    );
  });

  it("fills missing values as the developer's training did", () => {
    const plan = manifestPlan(validateManifest(manifest()));
    expect(plan.columns).toEqual(['age', 'male', 'sbp', 'sbp_missing', 'bmi']);
    expect(plan.fill).toEqual({ sbp: 125, bmi: 24 });
  });
});
