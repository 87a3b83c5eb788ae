import { HealthmeshError } from '../core/index.js';
import { cholesky, inverseDiagonal } from './dense-cholesky.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { checkTrainingData } from './feature-matrix.js';
import type { NewtonPart } from './logistic-newton.js';
import { missingValueError, newtonUpdate, partialNewtonStep, separationError } from './logistic-newton.js';

/** Options of the IRLS / Newton–Raphson fit. */
export interface LogisticOptions {
  /** Ridge penalty λ on every coefficient but the intercept (features are not rescaled). Default 0. */
  l2?: number;
  /** Default 50. */
  maxIterations?: number;
  /** Stop when |Δ objective| / (|objective| + 0.1) falls below this (R's glm criterion). Default 1e-10. */
  tolerance?: number;
  /** Return an unconverged fit (flagged `converged: false`) instead of throwing MODEL_NOT_CONVERGED. */
  allowNonConvergence?: boolean;
}

/** How the fit went. */
export interface LogisticDiagnostics {
  iterations: number;
  converged: boolean;
  /** Deviance (−2 log-likelihood) at the start and after every Newton step. */
  deviancePath: number[];
  logLikelihood: number;
  rows: number;
}

/** A fitted logistic regression: P(y = 1 | x) = σ(β₀ + Σ βⱼ xⱼ). Plain arrays, so it serialises as JSON. */
export interface LogisticModel {
  kind: 'logistic';
  features: string[];
  /** Intercept first, then one per feature in `features` order. */
  coefficients: number[];
  /** From the inverse of the (penalised) information matrix at the estimate. */
  standardErrors: number[];
  l2: number;
  diagnostics: LogisticDiagnostics;
}

/**
 * A pending Newton step larger than this, relative to 1 + |β|, at a converged objective means separation. On the
 * Pima and Cleveland fits it is below 1e-9; under separation it is about 1 / |β| (η grows by ~1 per step).
 */
const SEPARATION_STEP = 1e-4;

function largestRelativeStep(from: Float64Array, to: Float64Array): number {
  let largest = 0;
  for (let j = 0; j < from.length; j++)
    largest = Math.max(largest, Math.abs(to[j]! - from[j]!) / (1 + Math.abs(from[j]!)));
  return largest;
}

/**
 * The Newton–Raphson loop, separated from where the gradient and information come from: `fitLogistic` feeds it
 * one partition's part, a federated fit feeds it the sum of every hub's parts at the same `beta`.
 */
export class NewtonIteration {
  beta: Float64Array;
  private readonly deviancePath: number[] = [];
  private previousObjective = Number.NaN;
  private steps = 0;
  private converged = false;
  private last: { part: NewtonPart; information: Float64Array } | undefined;
  private readonly l2: number;
  private readonly maxIterations: number;
  private readonly tolerance: number;

  constructor(
    private readonly names: readonly string[],
    private readonly options: LogisticOptions = {},
  ) {
    this.l2 = options.l2 ?? 0;
    this.maxIterations = options.maxIterations ?? 50;
    this.tolerance = options.tolerance ?? 1e-10;
    if (!(this.l2 >= 0) || !(this.maxIterations >= 1) || !(this.tolerance > 0)) {
      throw new HealthmeshError('MODEL_INVALID_OPTION', 'l2 must be ≥ 0, maxIterations ≥ 1 and tolerance > 0');
    }
    this.beta = new Float64Array(names.length + 1);
  }

  /**
   * Take the pooled part evaluated at the current `beta`. Returns true when the fit has converged at this `beta`
   * (which is then the estimate); otherwise moves `beta` one Newton step and returns false.
   */
  accept(part: NewtonPart): boolean {
    const update = newtonUpdate(this.beta, part, this.l2, this.names);
    const objective = update.objective;
    if (!Number.isFinite(objective))
      throw new HealthmeshError('MODEL_NOT_CONVERGED', 'the log-likelihood is not finite');
    this.deviancePath.push(-2 * part.logLikelihood);
    this.last = { part, information: update.information };
    const change = Math.abs(objective - this.previousObjective) / (Math.abs(objective) + 0.1);
    this.previousObjective = objective;
    if (change < this.tolerance) {
      // Under separation the objective flattens while a coefficient keeps growing by a constant step (linear,
      // not quadratic, convergence): a finite MLE has a vanishing pending step at this point.
      if (part.saturated > 0 && this.l2 === 0 && largestRelativeStep(this.beta, update.beta) > SEPARATION_STEP) {
        throw separationError(part);
      }
      this.converged = true;
      return true;
    }
    if (this.steps >= this.maxIterations) {
      if (part.saturated > 0 && this.l2 === 0) throw separationError(part);
      if (this.options.allowNonConvergence) return true;
      throw new HealthmeshError(
        'MODEL_NOT_CONVERGED',
        `no convergence after ${this.maxIterations} Newton steps (last relative change ${change.toExponential(2)})`,
      );
    }
    this.beta = update.beta;
    this.steps++;
    return false;
  }

  /** The fitted model at the current `beta` (call after `accept` returned true). */
  model(): LogisticModel {
    const last = this.last;
    if (!last) throw new HealthmeshError('INTERNAL', 'model() before any accepted step');
    const size = this.beta.length;
    const factor = cholesky(last.information, size);
    // accept() factored this same matrix in its Newton update, so it is positive definite here.
    if ('singularColumn' in factor) throw new HealthmeshError('INTERNAL', 'information matrix turned singular');
    const variance = inverseDiagonal(factor);
    return {
      kind: 'logistic',
      features: [...this.names],
      coefficients: Array.from(this.beta),
      standardErrors: Array.from(variance, (v) => Math.sqrt(v)),
      l2: this.l2,
      diagnostics: {
        iterations: this.steps,
        converged: this.converged,
        deviancePath: [...this.deviancePath],
        logLikelihood: last.part.logLikelihood,
        rows: last.part.rows,
      },
    };
  }
}

/**
 * Fit a logistic regression by Newton–Raphson (IRLS) from β = 0. Refuses, with a code naming the feature:
 * no rows, one outcome class, a feature missing everywhere, any missing value (complete cases only), a constant
 * feature, collinear features (unless l2 > 0), and perfect separation (unless l2 > 0).
 */
export function fitLogistic(m: FeatureMatrix, options: LogisticOptions = {}): LogisticModel {
  const { summary } = checkTrainingData(m);
  for (const s of summary) {
    if (s.missing > 0) throw missingValueError(m);
  }
  for (const s of summary) {
    if (s.min === s.max) {
      throw new HealthmeshError(
        'MODEL_CONSTANT_FEATURE',
        `feature ${s.name} is ${s.min} in every row: its coefficient is not identified (it duplicates the intercept)`,
        { path: s.name },
      );
    }
  }
  const newton = new NewtonIteration(m.names, options);
  while (!newton.accept(partialNewtonStep(m, newton.beta))) {
    // each accept() moves beta one step
  }
  return newton.model();
}

/**
 * P(y = 1) for every row. A missing value is an error (MODEL_MISSING_VALUE naming row and feature): the model
 * was fitted on complete cases and has no rule for a gap.
 */
export function predictLogistic(model: LogisticModel, m: FeatureMatrix): Float64Array {
  checkFeatureNames(model.features, m.names);
  const p = m.names.length;
  const beta = Float64Array.from(model.coefficients);
  const out = new Float64Array(m.rows);
  const x = m.values;
  for (let i = 0; i < m.rows; i++) {
    let eta = beta[0]!;
    const base = i * p;
    for (let j = 0; j < p; j++) eta += beta[j + 1]! * x[base + j]!;
    if (!Number.isFinite(eta)) throw missingValueError(m);
    out[i] = 1 / (1 + Math.exp(-eta));
  }
  return out;
}

/** A model applies only to a matrix with its features in its order. */
export function checkFeatureNames(expected: readonly string[], actual: readonly string[]): void {
  if (expected.length !== actual.length || expected.some((name, j) => actual[j] !== name)) {
    throw new HealthmeshError(
      'MODEL_SHAPE_MISMATCH',
      `the model expects features [${expected.join(', ')}] but the matrix has [${actual.join(', ')}]`,
    );
  }
}
