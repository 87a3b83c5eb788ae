import { HealthmeshError } from '../core/index.js';
import { harrellConcordance } from './cox-concordance.js';
import { cholesky, choleskySolve, inverseDiagonal } from './dense-cholesky.js';
import { twoSidedNormalP, Z_975 } from './normal-tail.js';

/** How tied event times enter the partial likelihood (R's `coxph(ties = ...)`; Efron is R's default). */
export type CoxTies = 'efron' | 'breslow';

/** Options of `fitCox`. */
export interface CoxOptions {
  /** Default `'efron'`, as R. */
  ties?: CoxTies;
  /** Newton–Raphson steps before MODEL_NOT_CONVERGED. Default 30. */
  maxIterations?: number;
  /** Stop when |Δ log-likelihood| / (|log-likelihood| + 0.1) falls below this. Default 1e-10 (R's coxph: 1e-9). */
  tolerance?: number;
}

/** One coefficient: log hazard ratio with its Wald standard error, 95% interval and two-sided p-value. */
export interface CoxCoefficient {
  name: string;
  estimate: number;
  se: number;
  lower: number;
  upper: number;
  p: number;
}

/** A fitted Cox proportional-hazards model. */
export interface CoxFit {
  kind: 'cox';
  ties: CoxTies;
  coefficients: CoxCoefficient[];
  /** Log partial likelihood at the estimate, and at β = 0. */
  logLik: number;
  logLikNull: number;
  /** −2 log partial likelihood + 2 × the number of coefficients (R's `AIC(coxph)`). */
  aic: number;
  /** Harrell's C of the linear predictor on the training rows (R's `coxph(...)$concordance`). */
  concordance: number;
  n: number;
  events: number;
  iterations: number;
  /**
   * Baseline cumulative hazard at covariates = 0 (uncentred, R's `basehaz(fit, centered = FALSE)`), a step at each
   * distinct event time.
   */
  baseline: { times: number[]; cumHazard: number[] };
  /** H0(t): the baseline cumulative hazard at `t` (0 before the first event time). */
  cumulativeHazardAt(t: number): number;
  /** β·x, uncentred. */
  linearPredictor(x: readonly number[]): number;
  /** Risk of the event by `horizon`: 1 − exp(−H0(horizon) exp(β·x)). */
  riskAt(x: readonly number[], horizon: number): number;
}

/** The training data, checked, centred and ordered once; centring leaves β and the partial likelihood unchanged. */
interface CoxData {
  n: number;
  p: number;
  /** Centred covariates, row-major. */
  x: Float64Array;
  means: Float64Array;
  time: Float64Array;
  event: Uint8Array;
  /** Row indices by time, latest first: the risk set of a time is the prefix up to its last row. */
  order: Int32Array;
}

interface PartialLikelihood {
  logLik: number;
  gradient: Float64Array;
  /** Observed information (−Hessian), p × p row-major. */
  information: Float64Array;
}

/**
 * Fit a Cox proportional-hazards model by Newton–Raphson on the partial likelihood (step-halving when a step
 * lowers it), with Efron or Breslow handling of tied event times; standard errors from the inverse information,
 * the Breslow-type baseline hazard (Efron-weighted for an Efron fit, as R's `survfit.coxph` does) and Harrell's C.
 * Reproduces R's `survival::coxph` on the NCCTG lung data to 1e-6 (`cox-regression.test.ts`).
 *
 * @param x one row of covariates per subject, complete (no NaN)
 * @param time follow-up time (finite, ≥ 0)
 * @param event whether follow-up ended with the event (false: censored)
 * @param names one name per covariate column
 */
export function fitCox(
  x: readonly (readonly number[])[],
  time: readonly number[],
  event: readonly boolean[],
  names: readonly string[],
  opts: CoxOptions = {},
): CoxFit {
  const ties = opts.ties ?? 'efron';
  const maxIterations = opts.maxIterations ?? 30;
  const tolerance = opts.tolerance ?? 1e-10;
  if (ties !== 'efron' && ties !== 'breslow') throw new HealthmeshError('MODEL_INVALID_OPTION', `ties: ${ties}`);
  if (!(maxIterations >= 1) || !(tolerance > 0))
    throw new HealthmeshError('MODEL_INVALID_OPTION', 'maxIterations must be ≥ 1 and tolerance > 0');
  const data = coxData(x, time, event, names);
  const p = data.p;

  let beta = new Float64Array(p);
  let current = partialLikelihood(data, beta, ties);
  const logLikNull = current.logLik;
  let iterations = 0;
  let converged = false;
  while (iterations < maxIterations && !converged) {
    iterations++;
    const step = newtonStep(current, names);
    let next = beta.map((b, j) => b + step[j]!);
    let trial = partialLikelihood(data, next, ties);
    // Step-halving (as coxph): a full step can overshoot while far from the optimum.
    for (let halvings = 0; !(trial.logLik >= current.logLik - 1e-12 * Math.abs(current.logLik)); halvings++) {
      if (halvings === 30)
        throw new HealthmeshError('MODEL_NOT_CONVERGED', 'the partial likelihood does not rise along a Newton step');
      next = next.map((b, j) => (b + beta[j]!) / 2);
      trial = partialLikelihood(data, next, ties);
    }
    // + 0.1 as glm's criterion: under monotone likelihood the log-likelihood tends to 0, not to a finite level.
    converged = Math.abs(trial.logLik - current.logLik) <= tolerance * (Math.abs(trial.logLik) + 0.1);
    beta = next;
    current = trial;
  }
  if (!converged)
    throw new HealthmeshError('MODEL_NOT_CONVERGED', `the partial likelihood still moved after ${iterations} steps`);
  // Monotone likelihood (a covariate that orders the events perfectly): the log-likelihood levels off while a
  // coefficient runs away, so a step still pending at convergence means the estimate is infinite.
  const pending = newtonStep(current, names);
  for (let j = 0; j < p; j++) {
    if (Math.abs(pending[j]!) > 1e-4 * (1 + Math.abs(beta[j]!)))
      throw new HealthmeshError(
        'MODEL_SEPARATION',
        `the partial likelihood is monotone in ${names[j]}: its coefficient is infinite (the events are perfectly ordered by it)`,
      );
  }

  const factor = cholesky(current.information, p);
  if ('singularColumn' in factor) throw collinear(names, factor.singularColumn);
  const variances = inverseDiagonal(factor);
  const coefficients = names.map((name, j) => {
    const estimate = beta[j]!;
    const se = Math.sqrt(variances[j]!);
    return {
      name,
      estimate,
      se,
      lower: estimate - Z_975 * se,
      upper: estimate + Z_975 * se,
      p: twoSidedNormalP(estimate / se),
    };
  });

  const eta = linearPredictors(data, beta);
  const baseline = baselineHazard(data, eta, beta, ties);
  const events = data.event.reduce((s, e) => s + e, 0);
  const coef = Array.from(beta);
  const cumulativeHazardAt = (t: number): number => stepValue(baseline, t);
  const linearPredictor = (row: readonly number[]): number => {
    if (row.length !== p)
      throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `${row.length} covariates for a model of ${p}`);
    return row.reduce((s, v, j) => s + v * coef[j]!, 0);
  };
  return {
    kind: 'cox',
    ties,
    coefficients,
    logLik: current.logLik,
    logLikNull,
    aic: -2 * current.logLik + 2 * p,
    concordance: harrellConcordance(data.time, data.event, eta),
    n: data.n,
    events,
    iterations,
    baseline,
    cumulativeHazardAt,
    linearPredictor,
    riskAt: (row, horizon) => 1 - Math.exp(-cumulativeHazardAt(horizon) * Math.exp(linearPredictor(row))),
  };
}

function coxData(
  x: readonly (readonly number[])[],
  time: readonly number[],
  event: readonly boolean[],
  names: readonly string[],
): CoxData {
  const n = x.length;
  const p = names.length;
  if (n === 0) throw new HealthmeshError('MODEL_EMPTY_DATA', 'no rows to fit a Cox model on');
  if (p === 0) throw new HealthmeshError('MODEL_INVALID_OPTION', 'a Cox model needs at least one covariate');
  if (time.length !== n || event.length !== n)
    throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `${n} rows, ${time.length} times and ${event.length} events`);
  const cx = new Float64Array(n * p);
  const means = new Float64Array(p);
  const tm = new Float64Array(n);
  const ev = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = x[i]!;
    if (row.length !== p)
      throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `row ${i + 1} has ${row.length} covariates, not ${p}`);
    for (let j = 0; j < p; j++) {
      const v = row[j]!;
      if (Number.isNaN(v))
        throw new HealthmeshError('MODEL_MISSING_VALUE', `${names[j]} is missing in row ${i + 1}: use complete cases`);
      if (!Number.isFinite(v)) throw new HealthmeshError('MODEL_NOT_FINITE', `${names[j]} is infinite in row ${i + 1}`);
      cx[i * p + j] = v;
      means[j]! += v / n;
    }
    const t = time[i]!;
    if (!Number.isFinite(t) || t < 0)
      throw new HealthmeshError('MODEL_BAD_TIME', `row ${i + 1}: time ${t} is not a finite number ≥ 0`);
    tm[i] = t;
    ev[i] = event[i] ? 1 : 0;
  }
  if (!ev.includes(1)) throw new HealthmeshError('MODEL_NO_EVENTS', `none of the ${n} rows has the event`);
  for (let j = 0; j < p; j++) {
    let constant = true;
    for (let i = 0; i < n; i++) {
      cx[i * p + j]! -= means[j]!;
      if (cx[i * p + j] !== cx[j]) constant = false;
    }
    if (constant) throw new HealthmeshError('MODEL_CONSTANT_FEATURE', `${names[j]} has one value in every row`);
  }
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => tm[b]! - tm[a]!);
  return { n, p, x: cx, means, time: tm, event: ev, order };
}

function linearPredictors(data: CoxData, beta: Float64Array): Float64Array {
  const { n, p, x } = data;
  const eta = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < p; j++) s += x[i * p + j]! * beta[j]!;
    eta[i] = s;
  }
  return eta;
}

/**
 * Log partial likelihood, score and information at `beta`, in one pass over the rows from the latest time: the
 * risk-set sums S0 = Σ e^η, S1 = Σ e^η x, S2 = Σ e^η x x' grow as earlier times join. Efron replaces the d tied
 * deaths' common denominator S by S − (r/d)·(their own sums) for r = 0..d−1.
 */
function partialLikelihood(data: CoxData, beta: Float64Array, ties: CoxTies): PartialLikelihood {
  const { n, p, x, time, event, order } = data;
  const eta = linearPredictors(data, beta);
  const s1 = new Float64Array(p);
  const s2 = new Float64Array(p * p);
  const d1 = new Float64Array(p);
  const d2 = new Float64Array(p * p);
  const m1 = new Float64Array(p);
  const gradient = new Float64Array(p);
  const information = new Float64Array(p * p);
  let s0 = 0;
  let logLik = 0;
  let i = 0;
  while (i < n) {
    const t = time[order[i]!]!;
    let deaths = 0;
    let d0 = 0;
    d1.fill(0);
    d2.fill(0);
    for (; i < n && time[order[i]!] === t; i++) {
      const k = order[i]!;
      const w = Math.exp(eta[k]!);
      s0 += w;
      const dead = event[k] === 1;
      if (dead) {
        deaths++;
        d0 += w;
        logLik += eta[k]!;
      }
      for (let a = 0; a < p; a++) {
        const xa = x[k * p + a]!;
        s1[a]! += w * xa;
        if (dead) {
          d1[a]! += w * xa;
          gradient[a]! += xa;
        }
        for (let b = 0; b <= a; b++) {
          const v = w * xa * x[k * p + b]!;
          s2[a * p + b]! += v;
          if (dead) d2[a * p + b]! += v;
        }
      }
    }
    if (deaths === 0) continue;
    const efron = ties === 'efron' && deaths > 1;
    for (let r = 0; r < deaths; r++) {
      // Breslow: every tied death sees the full risk set, i.e. d copies of the r = 0 term.
      const f = efron ? r / deaths : 0;
      const weight = efron ? 1 : deaths;
      const den = s0 - f * d0;
      logLik -= weight * Math.log(den);
      for (let a = 0; a < p; a++) {
        m1[a] = (s1[a]! - f * d1[a]!) / den;
        gradient[a]! -= weight * m1[a]!;
      }
      for (let a = 0; a < p; a++)
        for (let b = 0; b <= a; b++)
          information[a * p + b]! += weight * ((s2[a * p + b]! - f * d2[a * p + b]!) / den - m1[a]! * m1[b]!);
      if (!efron) break;
    }
  }
  for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) information[b * p + a] = information[a * p + b]!;
  return { logLik, gradient, information };
}

function newtonStep(at: PartialLikelihood, names: readonly string[]): Float64Array {
  const factor = cholesky(at.information, names.length);
  if ('singularColumn' in factor) throw collinear(names, factor.singularColumn);
  return choleskySolve(factor, at.gradient);
}

function collinear(names: readonly string[], column: number): HealthmeshError {
  return new HealthmeshError(
    'MODEL_COLLINEAR',
    `the information matrix is singular at ${names[column]}: it is a linear combination of the covariates before it`,
  );
}

/**
 * The baseline cumulative hazard at covariates = 0. Breslow: dH = d / S0 at each event time; for an Efron fit the
 * tied deaths share the Efron denominators, dH = Σ_r 1 / (S0 − (r/d) D0), as R's survfit does (ctype 2). Computed
 * on centred covariates, then moved to 0 by exp(−β·mean).
 */
function baselineHazard(
  data: CoxData,
  eta: Float64Array,
  beta: Float64Array,
  ties: CoxTies,
): { times: number[]; cumHazard: number[] } {
  const { n, time, event, order, means } = data;
  const shift = Math.exp(-means.reduce((s, m, j) => s + m * beta[j]!, 0));
  const steps: { t: number; dh: number }[] = [];
  let s0 = 0;
  let i = 0;
  while (i < n) {
    const t = time[order[i]!]!;
    let deaths = 0;
    let d0 = 0;
    for (; i < n && time[order[i]!] === t; i++) {
      const k = order[i]!;
      const w = Math.exp(eta[k]!);
      s0 += w;
      if (event[k] === 1) {
        deaths++;
        d0 += w;
      }
    }
    if (deaths === 0) continue;
    let dh = 0;
    if (ties === 'efron') for (let r = 0; r < deaths; r++) dh += 1 / (s0 - (r / deaths) * d0);
    else dh = deaths / s0;
    steps.push({ t, dh: dh * shift });
  }
  steps.reverse();
  const cumHazard: number[] = [];
  let h = 0;
  for (const s of steps) {
    h += s.dh;
    cumHazard.push(h);
  }
  return { times: steps.map((s) => s.t), cumHazard };
}

/** The value of a right-continuous step function at `t`: its last step at or before `t`, else 0. */
function stepValue(curve: { times: number[]; cumHazard: number[] }, t: number): number {
  let lo = 0;
  let hi = curve.times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (curve.times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? 0 : curve.cumHazard[lo - 1]!;
}
