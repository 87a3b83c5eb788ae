/**
 * A feature spec fitted to its training rows: the values that stand in for missing ones (training means or the
 * spec's constants), so that scoring later — one patient on the API, a whole hub in `model evaluate` — fills
 * exactly as training did. Stored with the model in the registry.
 */
import { HealthmeshError } from '../core/index.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { featureMatrix } from './feature-matrix.js';
import type { FeatureSpec } from './feature-spec.js';
import { featureColumns, missingPolicy } from './feature-spec.js';

export interface FeaturePlan {
  spec: FeatureSpec;
  /** The model's input columns: each feature, with `<name>_missing` after those with the `indicator` policy. */
  columns: string[];
  /** Per feature with a `mean`, `indicator` or constant policy: the value put in place of a missing one. */
  fill: Record<string, number>;
}

/** Fit the fill values on the training rows (raw values, columns = the spec's features). */
export function fitFeaturePlan(spec: FeatureSpec, raw: FeatureMatrix): FeaturePlan {
  const width = raw.names.length;
  const fill: Record<string, number> = {};
  spec.features.forEach((f, j) => {
    const policy = missingPolicy(f);
    if (policy === undefined || policy === 'keep') return;
    if (typeof policy === 'object') {
      fill[f.name] = policy.value;
      return;
    }
    let sum = 0;
    let n = 0;
    for (let i = 0; i < raw.rows; i++) {
      const v = raw.values[i * width + j]!;
      if (!Number.isNaN(v)) {
        sum += v;
        n++;
      }
    }
    if (n === 0) {
      throw new HealthmeshError(
        'MODEL_ALL_MISSING_FEATURE',
        `feature ${f.name} is missing in every training row, so it has no mean to fill with (drop it or give missing: { value })`,
        { path: f.name },
      );
    }
    fill[f.name] = sum / n;
  });
  return { spec, columns: featureColumns(spec), fill };
}

/** The model's input: missing values filled by the plan, indicator columns added. `keep` features stay NaN. */
export function applyFeaturePlan(plan: FeaturePlan, raw: FeatureMatrix): FeatureMatrix {
  const features = plan.spec.features;
  if (raw.names.length !== features.length || raw.names.some((n, j) => n !== features[j]?.name)) {
    throw new HealthmeshError(
      'MODEL_SHAPE_MISMATCH',
      `rows have features ${raw.names.join(', ')}; the plan expects ${features.map((f) => f.name).join(', ')}`,
    );
  }
  const inWidth = features.length;
  const outWidth = plan.columns.length;
  const out = new Float64Array(raw.rows * outWidth);
  for (let i = 0; i < raw.rows; i++) {
    let o = i * outWidth;
    for (let j = 0; j < inWidth; j++) {
      const f = features[j]!;
      const v = raw.values[i * inWidth + j]!;
      const policy = missingPolicy(f);
      const filled = Number.isNaN(v) && policy !== undefined && policy !== 'keep' ? plan.fill[f.name]! : v;
      out[o++] = filled;
      if (policy === 'indicator') out[o++] = Number.isNaN(v) ? 1 : 0;
    }
  }
  return featureMatrix(plan.columns, out, raw.outcome);
}

/**
 * One raw feature vector from JSON (`{ name: number | null }`, a missing name or null = not recorded), checked
 * against the spec: unknown names, strings, NaN or infinities are `MODEL_INVALID_FEATURES` naming the field.
 */
export function rawVectorFromJson(spec: FeatureSpec, input: unknown): FeatureMatrix {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new HealthmeshError('MODEL_INVALID_FEATURES', 'features must be an object of { name: number | null }', {
      path: 'features',
    });
  }
  const o = input as Record<string, unknown>;
  const names = spec.features.map((f) => f.name);
  for (const k of Object.keys(o)) {
    if (!names.includes(k)) {
      throw new HealthmeshError(
        'MODEL_INVALID_FEATURES',
        `unknown feature ${k} (the model takes ${names.join(', ')})`,
        {
          path: `features.${k}`,
        },
      );
    }
  }
  const values = new Float64Array(names.length);
  names.forEach((name, j) => {
    const v = o[name];
    if (v === undefined || v === null) values[j] = Number.NaN;
    else if (typeof v === 'number' && Number.isFinite(v)) values[j] = v;
    else {
      throw new HealthmeshError(
        'MODEL_INVALID_FEATURES',
        `feature ${name} is ${JSON.stringify(v) ?? String(v)}: give a finite number, or null when not recorded`,
        { path: `features.${name}` },
      );
    }
  });
  return featureMatrix(names, values);
}
