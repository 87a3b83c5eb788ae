import { HealthmeshError } from '../core/index.js';
import type { EvaluationReport } from './evaluation.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { requireOutcome, summariseFeatures } from './feature-matrix.js';
import type { BoostedModel } from './gradient-boosting.js';
import type { LogisticModel } from './logistic-regression.js';

/** Either learner's fitted model, as stored. */
export type RiskModel = LogisticModel | BoostedModel;

/** The training rows in aggregate. Per-feature min and max are left out: an extreme is one person's value. */
export interface TrainingSummary {
  rows: number;
  events: number;
  prevalence: number;
  features: { name: string; missing: number; mean: number | null; sd: number | null }[];
}

/** One feature as the card describes it. */
export interface CardFeature {
  name: string;
  description?: string;
  /** How a missing value was handled (imputed, routed by the trees, excluded, …). */
  missing?: string;
}

/**
 * What a reader of a model needs before trusting it (after Mitchell et al., "Model Cards for Model Reporting",
 * 2019, and TRIPOD): which people it was built on, from what, how well it did, what it is for and not for.
 */
export interface ModelCard {
  title: string;
  cohort: { description: string; id?: string; outcome: string; horizon?: string };
  features: CardFeature[];
  trainingData: TrainingSummary;
  /** Named evaluations, e.g. "held-out 20%" or "temporal 2024". */
  evaluations: { name: string; report: EvaluationReport }[];
  intendedUse: string;
  limitations: string[];
  learner: { kind: RiskModel['kind']; settings: Record<string, number | string | boolean> };
}

/** Everything but what is derived from the model and the training rows. */
export type ModelCardInput = Omit<ModelCard, 'trainingData' | 'learner' | 'features'> & {
  features?: CardFeature[];
};

/** Rows, events, prevalence and per-feature missing count, mean and SD of the training matrix. */
export function trainingSummary(m: FeatureMatrix): TrainingSummary {
  const y = requireOutcome(m);
  let events = 0;
  for (let i = 0; i < y.length; i++) events += y[i]!;
  return {
    rows: m.rows,
    events,
    prevalence: m.rows > 0 ? events / m.rows : 0,
    features: summariseFeatures(m).map(({ name, missing, mean, sd }) => ({ name, missing, mean, sd })),
  };
}

function learnerSettings(model: RiskModel): ModelCard['learner'] {
  if (model.kind === 'logistic') {
    const d = model.diagnostics;
    return { kind: model.kind, settings: { l2: model.l2, iterations: d.iterations, converged: d.converged } };
  }
  return { kind: model.kind, settings: { ...model.options, treesKept: model.trees.length } };
}

/**
 * A card for `model` trained on `training`: the learner settings and training summary are derived; the rest is
 * checked for presence (an empty intended use or cohort is refused with MODEL_INVALID_CARD naming the field).
 * Features not described in `input.features` are listed by name.
 */
export function modelCard(model: RiskModel, training: FeatureMatrix, input: ModelCardInput): ModelCard {
  const missing = (
    [
      ['title', input.title],
      ['cohort.description', input.cohort?.description],
      ['cohort.outcome', input.cohort?.outcome],
      ['intendedUse', input.intendedUse],
    ] as const
  ).find(([, v]) => typeof v !== 'string' || v.trim() === '');
  if (missing) {
    throw new HealthmeshError('MODEL_INVALID_CARD', `the model card needs a non-empty ${missing[0]}`, {
      path: missing[0],
    });
  }
  if (!Array.isArray(input.limitations) || input.limitations.length === 0) {
    throw new HealthmeshError('MODEL_INVALID_CARD', 'the model card needs at least one limitation', {
      path: 'limitations',
    });
  }
  const described = new Map((input.features ?? []).map((f) => [f.name, f]));
  for (const name of described.keys()) {
    if (!model.features.includes(name)) {
      throw new HealthmeshError('MODEL_INVALID_CARD', `the card describes ${name}, which the model does not use`, {
        path: `features.${name}`,
      });
    }
  }
  return {
    title: input.title,
    cohort: input.cohort,
    features: model.features.map((name) => described.get(name) ?? { name }),
    trainingData: trainingSummary(training),
    evaluations: input.evaluations,
    intendedUse: input.intendedUse,
    limitations: input.limitations,
    learner: learnerSettings(model),
  };
}
