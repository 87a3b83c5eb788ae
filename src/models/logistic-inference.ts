/**
 * Wald inference for a fitted logistic regression: standard errors from the inverse observed information at the
 * estimate (for the logit link it equals the expected information, so these are R's `summary.glm` figures),
 * 95% intervals, two-sided p-values, log-likelihood and AIC.
 */
import type { LogisticModel } from './logistic-regression.js';

/** One coefficient with its Wald statistics. */
export interface CoefficientRow {
  /** `(intercept)` or the feature's name. */
  term: string;
  estimate: number;
  standardError: number;
  /** 95% Wald interval, estimate ± 1.959964 · SE. */
  ci95: [number, number];
  z: number;
  /** Two-sided, from the standard normal. */
  p: number;
}

/** The fit's statistics as a model card and the API show them. */
export interface LogisticFit {
  rows: number;
  events: number;
  logLikelihood: number;
  /** −2 log L + 2 k, k the coefficients with the intercept. */
  aic: number;
  coefficients: CoefficientRow[];
  /** Ridge-penalised fits (l2 > 0) are not maximum-likelihood: their SEs and AIC are not the textbook ones. */
  penalised: boolean;
}

/** The 0.975 quantile of the standard normal. */
const Z975 = 1.959963984540054;

/**
 * erfc(x) for x ≥ 0: the positive-term series of erf below 3 (absolute error ~1e-16, so p-values above 1e-5 keep
 * 11 digits), Lentz's continued fraction above, where the tail must keep its relative precision.
 */
function erfc(x: number): number {
  if (x < 3) {
    // erf(x) = 2/√π e^{−x²} Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)): every term positive, no cancellation.
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && term > 1e-17 * sum; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated by modified Lentz.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = Math.abs(d) < tiny ? tiny : d;
    c = x + a / c;
    c = Math.abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** Two-sided p-value of a standard normal statistic: P(|Z| ≥ |z|) = erfc(|z| / √2). */
export function twoSidedNormalP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return erfc(Math.abs(z) / Math.SQRT2);
}

/** The Wald table, log-likelihood and AIC of a fitted logistic model on `events` events in its rows. */
export function logisticFit(model: LogisticModel, events: number): LogisticFit {
  const terms = ['(intercept)', ...model.features];
  const ll = model.diagnostics.logLikelihood;
  return {
    rows: model.diagnostics.rows,
    events,
    logLikelihood: ll,
    aic: -2 * ll + 2 * model.coefficients.length,
    penalised: model.l2 > 0,
    coefficients: model.coefficients.map((estimate, j) => {
      const se = model.standardErrors[j]!;
      const z = estimate / se;
      return {
        term: terms[j]!,
        estimate,
        standardError: se,
        ci95: [estimate - Z975 * se, estimate + Z975 * se],
        z,
        p: twoSidedNormalP(z),
      };
    }),
  };
}
