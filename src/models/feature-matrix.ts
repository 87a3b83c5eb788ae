import { HealthmeshError } from '../core/index.js';

/**
 * The learners' input: `rows` x `names.length` values in one row-major `Float64Array` (row i's features are
 * `values[i * width .. (i + 1) * width)`), so one person's vector is contiguous — the layout the IRLS row loop,
 * tree prediction and an ONNX `[N, p]` input all read. Missing values are `NaN`. `outcome` holds 0 or 1 per row
 * (absent for a matrix that is only scored). A feature builder fills this from cohorts and analytic tables.
 */
export interface FeatureMatrix {
  readonly names: readonly string[];
  readonly rows: number;
  readonly values: Float64Array;
  readonly outcome?: Uint8Array;
}

/**
 * Build a matrix from its parts, checking shapes and that every outcome is 0 or 1 (a NaN or 2 in the
 * outcome would silently bias every learner). `outcome` may be given as any numeric array.
 */
export function featureMatrix(
  names: readonly string[],
  values: Float64Array,
  outcome?: ArrayLike<number>,
): FeatureMatrix {
  const width = names.length;
  if (width === 0) throw new HealthmeshError('MODEL_SHAPE_MISMATCH', 'a feature matrix needs at least one feature');
  if (new Set(names).size !== width) {
    throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `feature names repeat: ${names.join(', ')}`);
  }
  if (values.length % width !== 0) {
    throw new HealthmeshError(
      'MODEL_SHAPE_MISMATCH',
      `${values.length} values do not fill whole rows of ${width} features`,
    );
  }
  const rows = values.length / width;
  if (outcome === undefined) return { names, rows, values };
  if (outcome.length !== rows) {
    throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `${outcome.length} outcomes for ${rows} rows`);
  }
  const y = new Uint8Array(rows);
  for (let i = 0; i < rows; i++) {
    const v = outcome[i]!;
    if (v !== 0 && v !== 1) {
      throw new HealthmeshError('MODEL_BAD_OUTCOME', `outcome of row ${i} is ${v}, not 0 or 1`, { line: i });
    }
    y[i] = v;
  }
  return { names, rows, values, outcome: y };
}

/** Build a matrix from row arrays (convenient for tests and small data; large data should fill `values`). */
export function featureMatrixFromRows(
  names: readonly string[],
  rows: readonly (readonly number[])[],
  outcome?: ArrayLike<number>,
): FeatureMatrix {
  const width = names.length;
  const values = new Float64Array(rows.length * width);
  rows.forEach((row, i) => {
    if (row.length !== width) {
      throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `row ${i} has ${row.length} values, expected ${width}`, {
        line: i,
      });
    }
    values.set(row, i * width);
  });
  return featureMatrix(names, values, outcome);
}

/** The rows at `indices`, in that order (for splits and partitions). */
export function selectRows(m: FeatureMatrix, indices: ArrayLike<number>): FeatureMatrix {
  const width = m.names.length;
  const values = new Float64Array(indices.length * width);
  const y = m.outcome ? new Uint8Array(indices.length) : undefined;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    values.set(m.values.subarray(i * width, (i + 1) * width), k * width);
    if (y && m.outcome) y[k] = m.outcome[i]!;
  }
  return y
    ? { names: m.names, rows: indices.length, values, outcome: y }
    : { names: m.names, rows: indices.length, values };
}

/** The outcome of a matrix that must have one (training and evaluation). */
export function requireOutcome(m: FeatureMatrix): Uint8Array {
  if (!m.outcome) throw new HealthmeshError('MODEL_SHAPE_MISMATCH', 'the feature matrix has no outcome column');
  return m.outcome;
}

/** Per-feature summary used by training checks and the model card. */
export interface FeatureSummary {
  name: string;
  missing: number;
  mean: number | null;
  sd: number | null;
  min: number | null;
  max: number | null;
}

/** One pass over the matrix: missing count, mean, SD (Welford), min and max of every feature. */
export function summariseFeatures(m: FeatureMatrix): FeatureSummary[] {
  const width = m.names.length;
  const count = new Float64Array(width);
  const mean = new Float64Array(width);
  const m2 = new Float64Array(width);
  const min = new Float64Array(width).fill(Number.POSITIVE_INFINITY);
  const max = new Float64Array(width).fill(Number.NEGATIVE_INFINITY);
  const v = m.values;
  for (let i = 0; i < m.rows; i++) {
    const base = i * width;
    for (let j = 0; j < width; j++) {
      const x = v[base + j]!;
      if (Number.isNaN(x)) continue;
      const c = ++count[j]!;
      const d = x - mean[j]!;
      mean[j]! += d / c;
      m2[j]! += d * (x - mean[j]!);
      if (x < min[j]!) min[j] = x;
      if (x > max[j]!) max[j] = x;
    }
  }
  return m.names.map((name, j) => {
    const c = count[j]!;
    return {
      name,
      missing: m.rows - c,
      mean: c > 0 ? mean[j]! : null,
      sd: c > 1 ? Math.sqrt(m2[j]! / (c - 1)) : null,
      min: c > 0 ? min[j]! : null,
      max: c > 0 ? max[j]! : null,
    };
  });
}

/**
 * The checks every learner shares: rows present, an outcome with both classes, no infinite value, no feature
 * missing everywhere.
 * Returns the outcome and the feature summaries (callers add learner-specific checks on top).
 */
export function checkTrainingData(m: FeatureMatrix): { y: Uint8Array; summary: FeatureSummary[] } {
  if (m.rows === 0) throw new HealthmeshError('MODEL_EMPTY_DATA', 'the training set has no rows');
  const y = requireOutcome(m);
  let events = 0;
  for (let i = 0; i < y.length; i++) events += y[i]!;
  if (events === 0 || events === m.rows) {
    throw new HealthmeshError(
      'MODEL_SINGLE_CLASS',
      `every one of ${m.rows} rows has outcome ${events === 0 ? 0 : 1}; a risk model needs both classes`,
    );
  }
  const summary = summariseFeatures(m);
  for (const s of summary) {
    if (s.min === Number.NEGATIVE_INFINITY || s.max === Number.POSITIVE_INFINITY) {
      throw new HealthmeshError('MODEL_NOT_FINITE', `feature ${s.name} has an infinite value`, { path: s.name });
    }
    if (s.missing === m.rows) {
      throw new HealthmeshError('MODEL_ALL_MISSING_FEATURE', `feature ${s.name} is missing in all ${m.rows} rows`, {
        path: s.name,
      });
    }
  }
  return { y, summary };
}
