import type { FeaturePlan, FeatureSpec, ModelCard, RiskModel } from '../../src/models/index.js';

/**
 * Models registered with known coefficients instead of trained, so a test can work out every number a reader of
 * them sees: a card as training writes it (with the figures the release gate needs), a logistic model, a plan.
 */

/** A card over `rows` people with 20% events; each feature's training mean from `means`. */
export function handCard(
  kind: RiskModel['kind'],
  names: string[],
  betas: number[],
  means: Record<string, number>,
  rows = 1000,
): ModelCard {
  const events = rows / 5;
  return {
    title: `Stroke, 5-year risk (${kind})`,
    cohort: { description: 'adults', outcome: 'stroke', horizon: '1826 days after index' },
    features: names.map((name) => ({ name })),
    trainingData: {
      rows,
      events,
      prevalence: 0.2,
      features: names.map((name) => ({
        name,
        missing: 0,
        mean: means[name]!,
        sd: 10,
        zeros: 0,
        binary: false,
        dominance: { largestTwo: 2 * means[name]! * 1.5, absoluteTotal: rows * means[name]! },
      })),
    },
    evaluations: [],
    intendedUse: 'testing',
    limitations: ['hand-made'],
    learner: { kind, settings: {} },
    fit: {
      rows,
      events,
      logLikelihood: -400,
      aic: 806,
      penalised: false,
      coefficients: names.map((term, j) => ({
        term,
        estimate: betas[j]!,
        standardError: 0.01,
        ci95: [betas[j]! - 0.02, betas[j]! + 0.02] as [number, number],
        z: 3,
        p: 0.003,
      })),
    },
  };
}

/** A logistic model: intercept first, then one coefficient per feature. */
export const handLogistic = (features: string[], coefficients: number[]): RiskModel => ({
  kind: 'logistic',
  features,
  coefficients,
  standardErrors: coefficients.map(() => 0.01),
  l2: 0,
  diagnostics: { iterations: 5, converged: true, deviancePath: [], logLikelihood: -400, rows: 1000 },
});

/** A plan that fills nothing: every feature must be recorded. */
export const planOf = (s: FeatureSpec): FeaturePlan => ({ spec: s, columns: s.features.map((f) => f.name), fill: {} });
