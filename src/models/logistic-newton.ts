import { HealthmeshError } from '../core/index.js';
import { cholesky, choleskySolve } from './dense-cholesky.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { requireOutcome } from './feature-matrix.js';

/**
 * What one data partition contributes to a Newton–Raphson step of logistic regression at coefficients `beta`
 * (intercept first): the score (gradient of the log-likelihood) and the information matrix (minus its Hessian).
 * Both are sums over rows, so the parts of disjoint partitions add up to the pooled ones exactly (up to
 * floating-point summation order) — the whole basis of federated fitting: hubs exchange these, never rows.
 */
export interface NewtonPart {
  /** Number of coefficients, intercept included (features + 1). */
  readonly size: number;
  readonly rows: number;
  /** Σ (y − μ) x̃, length `size`. */
  readonly gradient: Float64Array;
  /** Σ μ(1 − μ) x̃ x̃', `size` x `size`, row-major, symmetric. */
  readonly information: Float64Array;
  /** Σ y·η − log(1 + e^η) at `beta`. */
  readonly logLikelihood: number;
  /** Rows fitted with probability within 3e-7 of 0 or 1 (|η| > 15): with a slowly converging fit, separation. */
  readonly saturated: number;
}

/** |η| beyond this gives a fitted probability within 3e-7 of 0 or 1. */
const SATURATED_ETA = 15;

/**
 * One partition's gradient and information at `beta`. One pass over the rows; the information matrix is
 * accumulated as a packed upper triangle (half the multiply-adds of the full square) and mirrored at the end.
 * Expects complete cases: a NaN feature makes the log-likelihood NaN, which is then reported with its row.
 */
export function partialNewtonStep(m: FeatureMatrix, beta: Float64Array, offset?: Float64Array): NewtonPart {
  const y = requireOutcome(m);
  const p = m.names.length;
  const size = p + 1;
  if (beta.length !== size) {
    throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `${beta.length} coefficients for ${p} features + intercept`);
  }
  const x = m.values;
  const n = m.rows;
  const g = new Float64Array(size);
  const packed = new Float64Array((size * (size + 1)) / 2);
  const b0 = beta[0]!;
  const b = beta.subarray(1);
  let ll = 0;
  let saturated = 0;
  for (let i = 0; i < n; i++) {
    const base = i * p;
    let eta = b0;
    for (let j = 0; j < p; j++) eta += b[j]! * x[base + j]!;
    if (offset) eta += offset[i]!;
    const e = Math.exp(-Math.abs(eta));
    const mu = eta >= 0 ? 1 / (1 + e) : e / (1 + e);
    const yi = y[i]!;
    ll += yi * eta - Math.max(eta, 0) - Math.log1p(e);
    if (eta > SATURATED_ETA || eta < -SATURATED_ETA) saturated++;
    const r = yi - mu;
    const w = mu * (1 - mu);
    // Row 0 of the packed triangle: the intercept against everything.
    g[0]! += r;
    packed[0]! += w;
    for (let j = 0; j < p; j++) {
      const xj = x[base + j]!;
      g[j + 1]! += r * xj;
      packed[j + 1]! += w * xj;
    }
    let idx = size;
    for (let j = 0; j < p; j++) {
      const wxj = w * x[base + j]!;
      for (let k = j; k < p; k++) packed[idx++]! += wxj * x[base + k]!;
    }
  }
  if (!Number.isFinite(ll)) throw missingValueError(m);
  return { size, rows: n, gradient: g, information: unpack(packed, size), logLikelihood: ll, saturated };
}

function unpack(packed: Float64Array, size: number): Float64Array {
  const full = new Float64Array(size * size);
  let idx = 0;
  for (let j = 0; j < size; j++) {
    for (let k = j; k < size; k++) {
      const v = packed[idx++]!;
      full[j * size + k] = v;
      full[k * size + j] = v;
    }
  }
  return full;
}

/** The first NaN or infinite value in the matrix, as an error that names its row and feature. */
export function missingValueError(m: FeatureMatrix): HealthmeshError {
  const p = m.names.length;
  for (let i = 0; i < m.values.length; i++) {
    const v = m.values[i]!;
    const row = Math.floor(i / p);
    const name = m.names[i % p]!;
    if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) {
      return new HealthmeshError('MODEL_NOT_FINITE', `feature ${name} is infinite in row ${row}`, {
        line: row,
        path: name,
      });
    }
    if (Number.isNaN(v)) {
      return new HealthmeshError(
        'MODEL_MISSING_VALUE',
        `feature ${name} is missing in row ${row}; logistic regression needs complete cases (impute or drop first)`,
        { line: row, path: name },
      );
    }
  }
  return new HealthmeshError('MODEL_MISSING_VALUE', 'a value is not finite');
}

/** Add the parts of several partitions into the pooled part. */
export function sumNewtonParts(parts: readonly NewtonPart[]): NewtonPart {
  const first = parts[0];
  if (!first) throw new HealthmeshError('MODEL_EMPTY_DATA', 'no partitions to sum');
  const size = first.size;
  const gradient = new Float64Array(size);
  const information = new Float64Array(size * size);
  let rows = 0;
  let ll = 0;
  let saturated = 0;
  for (const part of parts) {
    if (part.size !== size) throw new HealthmeshError('MODEL_SHAPE_MISMATCH', 'partitions differ in their features');
    for (let j = 0; j < size; j++) gradient[j]! += part.gradient[j]!;
    for (let j = 0; j < size * size; j++) information[j]! += part.information[j]!;
    rows += part.rows;
    ll += part.logLikelihood;
    saturated += part.saturated;
  }
  return { size, rows, gradient, information, logLikelihood: ll, saturated };
}

/** The outcome of one Newton update. */
export interface NewtonUpdate {
  beta: Float64Array;
  /** The penalised information matrix at the old beta (its inverse gives standard errors at convergence). */
  information: Float64Array;
  /** Penalised log-likelihood at the old beta: ℓ − (λ/2) Σ_{j≥1} β_j². */
  objective: number;
}

/**
 * β ← β + (I + λD)⁻¹ (g − λDβ), with D the identity without the intercept (the intercept is never penalised).
 * Throws MODEL_SEPARATION or MODEL_COLLINEAR when the system is singular, naming the column.
 */
export function newtonUpdate(
  beta: Float64Array,
  pooled: NewtonPart,
  l2: number,
  names: readonly string[],
): NewtonUpdate {
  const size = pooled.size;
  const g = Float64Array.from(pooled.gradient);
  const info = Float64Array.from(pooled.information);
  let penalty = 0;
  for (let j = 1; j < size; j++) {
    g[j]! -= l2 * beta[j]!;
    info[j * size + j]! += l2;
    penalty += beta[j]! ** 2;
  }
  const factor = cholesky(info, size);
  if ('singularColumn' in factor) {
    // Collinearity shows at β = 0, where nothing is saturated; a system that turns singular later, with rows
    // fitted at 0 or 1, has lost its information to separation.
    if (pooled.saturated > 0 && l2 === 0) throw separationError(pooled);
    const j = factor.singularColumn;
    const what = j === 0 ? 'the intercept' : `feature ${names[j - 1]}`;
    throw new HealthmeshError(
      'MODEL_COLLINEAR',
      `${what} is a linear combination of the intercept and the features before it; drop it or set l2 > 0`,
      { path: j === 0 ? '(intercept)' : names[j - 1]! },
    );
  }
  const step = choleskySolve(factor, g);
  const next = new Float64Array(size);
  for (let j = 0; j < size; j++) next[j] = beta[j]! + step[j]!;
  return { beta: next, information: info, objective: pooled.logLikelihood - (l2 / 2) * penalty };
}

export function separationError(part: NewtonPart): HealthmeshError {
  return new HealthmeshError(
    'MODEL_SEPARATION',
    `${part.saturated} of ${part.rows} rows are fitted with probability 0 or 1 and the coefficients keep growing: the features separate ` +
      'the outcome and the unpenalised estimate is infinite; set l2 > 0 or remove the separating feature',
  );
}
