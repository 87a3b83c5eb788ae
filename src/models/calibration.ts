import { HealthmeshError } from '../core/index.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { partialNewtonStep } from './logistic-newton.js';
import { NewtonIteration } from './logistic-regression.js';
import { ascendingOrder, checkScores } from './roc-metrics.js';

/** Predicted probabilities are clipped to [ε, 1 − ε] before the logit, so a 0 or 1 gives a finite log-odds. */
const LOGIT_CLIP = 1e-12;

/** Mean squared difference between predicted probability and outcome. */
export function brierScore(p: ArrayLike<number>, y: ArrayLike<number>): number {
  checkScores(p, y);
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i]! - y[i]!) ** 2;
  return s / p.length;
}

function logits(p: ArrayLike<number>): Float64Array {
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - LOGIT_CLIP, Math.max(LOGIT_CLIP, p[i]!));
    out[i] = Math.log(q / (1 - q));
  }
  return out;
}

/**
 * Logistic recalibration (Cox 1958; Van Calster et al. 2016): the calibration slope b from logit P(y) = a + b·L,
 * and the calibration intercept (calibration-in-the-large) a from logit P(y) = a + offset(L), with L the
 * model's log-odds. A well-calibrated model has intercept 0 and slope 1; slope < 1 means overfitting.
 */
export function calibrationFit(p: ArrayLike<number>, y: ArrayLike<number>): { intercept: number; slope: number } {
  checkScores(p, y);
  const n = p.length;
  const outcome = Uint8Array.from(y as ArrayLike<number>);
  const l = logits(p);
  const withSlope: FeatureMatrix = { names: ['logit'], rows: n, values: l, outcome };
  const slopeFit = new NewtonIteration(withSlope.names);
  while (!slopeFit.accept(partialNewtonStep(withSlope, slopeFit.beta))) {
    // Newton steps until converged
  }
  const interceptOnly: FeatureMatrix = { names: [], rows: n, values: new Float64Array(0), outcome };
  const interceptFit = new NewtonIteration([]);
  while (!interceptFit.accept(partialNewtonStep(interceptOnly, interceptFit.beta, l))) {
    // Newton steps until converged
  }
  return { intercept: interceptFit.beta[0]!, slope: slopeFit.beta[1]! };
}

/** One group of the calibration curve. */
export interface CalibrationBin {
  n: number;
  meanPredicted: number;
  observed: number;
  /** Wilson 95% interval of the observed proportion. */
  observedCi: [number, number];
}

/**
 * Observed against predicted risk in `groups` groups of equal size (deciles by default) after sorting by
 * predicted risk; groups differ in size by at most one row.
 */
export function calibrationCurve(
  p: ArrayLike<number>,
  y: ArrayLike<number>,
  groups = 10,
  /** `ascendingOrder(p)` when the caller has it already. */
  sorted?: Uint32Array,
): CalibrationBin[] {
  checkScores(p, y);
  if (!(Number.isInteger(groups) && groups >= 1)) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', `calibration groups must be a positive integer, not ${groups}`);
  }
  const order = sorted ?? ascendingOrder(p);
  const n = p.length;
  const bins: CalibrationBin[] = [];
  const k = Math.min(groups, n);
  for (let g = 0; g < k; g++) {
    const start = Math.floor((g * n) / k);
    const end = Math.floor(((g + 1) * n) / k);
    let sumP = 0;
    let events = 0;
    for (let i = start; i < end; i++) {
      sumP += p[order[i]!]!;
      events += y[order[i]!]!;
    }
    const size = end - start;
    bins.push({ n: size, meanPredicted: sumP / size, observed: events / size, observedCi: wilson(events, size) });
  }
  return bins;
}

/** The Wilson 95% interval of a proportion. */
export function wilson(events: number, n: number): [number, number] {
  const z = 1.959963984540054;
  const phat = events / n;
  const denom = 1 + (z * z) / n;
  const centre = (phat + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((phat * (1 - phat)) / n + (z * z) / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}
