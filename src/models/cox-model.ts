/**
 * A Cox fit as the registry stores and serves it: the coefficients and the baseline cumulative hazard at one
 * horizon, which is all that the risk within that horizon needs. The baseline's steps are not kept: each step is a
 * training row's event time.
 */
import { HealthmeshError } from '../core/index.js';
import type { CoxCalibrationBin } from './cox-calibration.js';
import { coxCalibration } from './cox-calibration.js';
import type { CoxFit, CoxTies } from './cox-regression.js';
import { fitCox } from './cox-regression.js';
import type { EvaluationReport } from './evaluation.js';
import { evaluatePredictions } from './evaluation.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { requireOutcome } from './feature-matrix.js';
import type { LogisticFit } from './logistic-inference.js';

/** A registered Cox proportional-hazards model: risk by `horizon` = 1 − exp(−H0(horizon) · exp(β·x)). */
export interface CoxModel {
  kind: 'cox';
  features: string[];
  /** β, one per feature (no intercept: the baseline hazard takes its place). */
  coefficients: number[];
  /** The horizon, in the unit of the training times (days for a hub's feature spec). */
  horizon: number;
  /** H0(horizon): the uncentred baseline cumulative hazard at the horizon (covariates = 0). */
  baselineCumHazard: number;
  ties: CoxTies;
}

/**
 * What a Cox card adds to the common card: the horizon, Harrell's C and the calibration at the horizon
 * (predicted risk against the Kaplan–Meier risk per risk group), with the null log partial likelihood.
 */
export interface SurvivalFitRecord {
  horizon: number;
  /** The unit of `horizon` and of the training times, e.g. "days" or the table's time column. */
  unit: string;
  ties: CoxTies;
  concordance: number;
  logLikNull: number;
  /** Baseline survival at the horizon, exp(−H0(horizon)). */
  baselineSurvival: number;
  calibration: CoxCalibrationBin[];
}

/** The registered form of `fit` at `horizon`. */
export function coxModel(fit: CoxFit, horizon: number): CoxModel {
  if (!(horizon > 0) || !Number.isFinite(horizon)) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', `the horizon must be a finite time above 0, not ${horizon}`, {
      path: 'horizon',
    });
  }
  return {
    kind: 'cox',
    features: fit.coefficients.map((c) => c.name),
    coefficients: fit.coefficients.map((c) => c.estimate),
    horizon,
    baselineCumHazard: fit.cumulativeHazardAt(horizon),
    ties: fit.ties,
  };
}

/** Risks by the model's horizon of the rows of `m` (its columns in the model's order); NaN in, NaN out. */
export function predictCox(model: CoxModel, m: FeatureMatrix): Float64Array {
  const w = model.features.length;
  if (m.names.length !== w || m.names.some((n, j) => n !== model.features[j])) {
    throw new HealthmeshError(
      'MODEL_SHAPE_MISMATCH',
      `the input columns (${m.names.join(', ')}) are not the model's (${model.features.join(', ')})`,
    );
  }
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let eta = 0;
    // The same summation order as CoxFit.linearPredictor, so a registered model gives the fit's risks exactly.
    for (let j = 0; j < w; j++) eta += m.values[i * w + j]! * model.coefficients[j]!;
    out[i] = 1 - Math.exp(-model.baselineCumHazard * Math.exp(eta));
  }
  return out;
}

/**
 * The Cox fit's Wald table in the shape of a logistic one (no intercept; log hazard ratios), so the card shows it
 * and the release gate releases it by the same fit-support rule.
 */
export function coxFitTable(fit: CoxFit): LogisticFit {
  return {
    rows: fit.n,
    events: fit.events,
    logLikelihood: fit.logLik,
    aic: fit.aic,
    penalised: false,
    coefficients: fit.coefficients.map((c) => ({
      term: c.name,
      estimate: c.estimate,
      standardError: c.se,
      ci95: [c.lower, c.upper],
      z: c.estimate / c.se,
      p: c.p,
    })),
  };
}

/** A Cox model fitted on a matrix with its times, with what its card needs. */
export interface CoxTraining {
  fit: CoxFit;
  model: CoxModel;
  survival: SurvivalFitRecord;
  /** Risks by the horizon of the training rows. */
  risks: Float64Array;
  /**
   * The training rows whose status at the horizon is known (the event by then, or followed past it) as a binary
   * evaluation of the risks; undefined when those rows hold one class only.
   */
  evaluation?: EvaluationReport;
}

/**
 * Fit a Cox model on the rows of `m` (outcome = the event; complete, no NaN) with follow-up `times`, and describe
 * it at `horizon`: Harrell's C, calibration in up to ten risk groups against Kaplan–Meier, and the in-sample
 * evaluation of the risk by the horizon on the rows whose status then is known.
 */
export function trainCox(
  m: FeatureMatrix,
  times: readonly number[],
  horizon: number,
  opts: { ties?: CoxTies; unit: string },
): CoxTraining {
  const width = m.names.length;
  const x = Array.from({ length: m.rows }, (_, i) => Array.from(m.values.subarray(i * width, (i + 1) * width)));
  const event = Array.from(requireOutcome(m), (y): boolean => y === 1);
  const fit = fitCox(x, times, event, m.names, opts.ties !== undefined ? { ties: opts.ties } : {});
  const model = coxModel(fit, horizon);
  const risks = predictCox(model, m);
  const calibration = coxCalibration(fit, x, times, event, horizon, Math.min(10, m.rows));
  const known: number[] = [];
  for (let i = 0; i < m.rows; i++) if ((event[i] && times[i]! <= horizon) || times[i]! > horizon) known.push(i);
  let evaluation: EvaluationReport | undefined;
  const y = Uint8Array.from(known, (i) => (event[i] && times[i]! <= horizon ? 1 : 0));
  const ones = y.reduce((s, v) => s + v, 0);
  if (ones > 0 && ones < y.length) {
    evaluation = evaluatePredictions(
      Float64Array.from(known, (i) => risks[i]!),
      y,
    );
  }
  return {
    fit,
    model,
    risks,
    survival: {
      horizon,
      unit: opts.unit,
      ties: fit.ties,
      concordance: fit.concordance,
      logLikNull: fit.logLikNull,
      baselineSurvival: Math.exp(-model.baselineCumHazard),
      calibration,
    },
    ...(evaluation !== undefined && { evaluation }),
  };
}

/** The name of a Cox card's evaluation: what its binary outcome is. */
export const COX_EVALUATION_NAME =
  'in-sample, risk by the horizon against the event by then (rows censored before the horizon left out)';
