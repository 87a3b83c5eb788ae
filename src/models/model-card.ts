import { HealthmeshError } from '../core/index.js';
import type { CoxModel, SurvivalFitRecord } from './cox-model.js';
import type { EvaluationReport } from './evaluation.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { requireOutcome, summariseFeatures } from './feature-matrix.js';
import type { BoostedModel } from './gradient-boosting.js';
import type { LogisticFit } from './logistic-inference.js';
import { logisticFit } from './logistic-inference.js';
import type { LogisticModel } from './logistic-regression.js';

/** A learner's fitted model, as stored. */
export type RiskModel = LogisticModel | BoostedModel | CoxModel;

/** The training rows in aggregate. Per-feature min and max are left out: an extreme is one person's value. */
export interface TrainingSummary {
  rows: number;
  events: number;
  prevalence: number;
  features: TrainingFeature[];
}

/**
 * One feature of the training rows. Besides what the card shows, it keeps what the release gate needs to decide
 * whether its mean and SD may leave the hub (docs/disclosure-control.md, "Model cards"): recorded values equal to
 * zero, whether every recorded value is 0 or 1, and the two largest absolute values against the sum of all
 * (the dominance rule). Stewards see them; other roles get the card released by `releaseModelCard`. Cards stored
 * before these were kept lack them, and then mean and SD are withheld from other roles.
 */
export interface TrainingFeature {
  name: string;
  missing: number;
  mean: number | null;
  sd: number | null;
  zeros?: number;
  binary?: boolean;
  dominance?: { largestTwo: number; absoluteTotal: number };
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
  /**
   * A logistic model's coefficients with standard errors, intervals and p-values, log-likelihood and AIC; for a Cox
   * model the same table of log hazard ratios (no intercept) with the log partial likelihood.
   */
  fit?: LogisticFit;
  /** A Cox model's horizon, concordance and calibration at the horizon. */
  survival?: SurvivalFitRecord;
  /** For a model fitted from a flat table (`model train --table`): where its rows came from and what was left out. */
  table?: TableSource;
  /** For a model fitted across hubs: which, for what purpose, and each round's release record. */
  federation?: FederatedFitRecord;
}

/**
 * How a flat table became a model's training rows. The file is not named: a file name may name a person, and the
 * card is stored and shown.
 */
export interface TableSource {
  outcome: { column: string; positive: string };
  missing: 'fail' | 'complete-case' | 'mean';
  rowsRead: number;
  rowsDropped: number;
  /** Under `missing: mean`: each column's training mean, put in place of a missing value when scoring. */
  fill?: Record<string, number>;
  /** `--test-fraction 0`: fitted on every row; its evaluation is in-sample. */
  inSample: boolean;
}

/**
 * How a federated fit was made (`trainFederated`): its hubs and purpose, and per round the hubs that answered,
 * how long the round took, and what each hub's answer stood on — rows, and events for the moments round — as the
 * coordinating hub's release gate releases counts (`null`: under `threshold`; otherwise rounded to `rounding`).
 * Every round of a registered fit was answered by every hub: a hub's refusal stops the fit, and nothing is
 * registered.
 */
export interface FederatedFitRecord {
  hubs: string[];
  /** The project the fit ran in: every hub checked it at every round. */
  project?: string;
  purpose: string;
  threshold: number;
  rounding: number;
  rounds: {
    round: number;
    operation: string;
    ms: number;
    hubs: string[];
    answers: { hub: string; rows: number | null; events?: number | null }[];
  }[];
}

/** Everything but what is derived from the model and the training rows. */
export type ModelCardInput = Omit<ModelCard, 'trainingData' | 'learner' | 'features' | 'fit'> & {
  features?: CardFeature[];
  /** The fit's table when the model does not derive it (a Cox fit's, from `coxFitTable`). */
  fit?: LogisticFit;
};

/**
 * Rows, events, prevalence and per-feature missing count, mean and SD of the training matrix. With `recorded` (the
 * same rows before missing values were filled), a column it holds is summarised over its recorded values: a mean
 * over filled rows is the mean of the few recorded ones, under a missing count of 0.
 */
export function trainingSummary(filled: FeatureMatrix, recorded?: FeatureMatrix): TrainingSummary {
  const m = recorded === undefined ? filled : withRecordedValues(filled, recorded);
  const y = requireOutcome(m);
  let events = 0;
  for (let i = 0; i < y.length; i++) events += y[i]!;
  return {
    rows: m.rows,
    events,
    prevalence: m.rows > 0 ? events / m.rows : 0,
    features: summariseFeatures(m).map(({ name, missing, mean, sd }, j) => ({
      name,
      missing,
      mean,
      sd,
      ...releaseSupport(m, j),
    })),
  };
}

function withRecordedValues(filled: FeatureMatrix, recorded: FeatureMatrix): FeatureMatrix {
  const w = filled.names.length;
  const rw = recorded.names.length;
  const values = Float64Array.from(filled.values);
  filled.names.forEach((name, j) => {
    const k = recorded.names.indexOf(name);
    if (k < 0) return;
    for (let i = 0; i < filled.rows; i++) values[i * w + j] = recorded.values[i * rw + k]!;
  });
  return { ...filled, values };
}

/** Zeros, 0/1-ness and the dominance figures of column `j`'s recorded values. */
function releaseSupport(m: FeatureMatrix, j: number): Pick<TrainingFeature, 'zeros' | 'binary' | 'dominance'> {
  const width = m.names.length;
  let zeros = 0;
  let binary = true;
  let first = 0;
  let second = 0;
  let absoluteTotal = 0;
  for (let i = 0; i < m.rows; i++) {
    const x = m.values[i * width + j]!;
    if (Number.isNaN(x)) continue;
    if (x === 0) zeros++;
    if (x !== 0 && x !== 1) binary = false;
    const a = Math.abs(x);
    absoluteTotal += a;
    if (a > first) {
      second = first;
      first = a;
    } else if (a > second) second = a;
  }
  return { zeros, binary, dominance: { largestTwo: first + second, absoluteTotal } };
}

function learnerSettings(model: RiskModel): ModelCard['learner'] {
  if (model.kind === 'logistic') {
    const d = model.diagnostics;
    return { kind: model.kind, settings: { l2: model.l2, iterations: d.iterations, converged: d.converged } };
  }
  if (model.kind === 'cox') {
    return { kind: model.kind, settings: { ties: model.ties, horizon: model.horizon } };
  }
  const settings: Record<string, number | string | boolean> = { ...model.options, treesKept: model.trees.length };
  const tuning = model.diagnostics.tuning;
  if (tuning !== undefined)
    settings.chosenBy = `internal ${tuning.folds}-fold cross-validation with early stopping over ${tuning.grid.length} tree shapes`;
  return { kind: model.kind, settings };
}

/**
 * A card for `model` trained on `training`: the learner settings and training summary are derived; the rest is
 * checked for presence (an empty intended use or cohort is refused with MODEL_INVALID_CARD naming the field).
 * Features not described in `input.features` are listed by name. `recorded`: the training rows before missing
 * values were filled, so each feature is summarised over the values recorded.
 */
export function modelCard(
  model: RiskModel,
  training: FeatureMatrix,
  input: ModelCardInput,
  recorded?: FeatureMatrix,
): ModelCard {
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
  const summary = trainingSummary(training, recorded);
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
    trainingData: summary,
    evaluations: input.evaluations,
    intendedUse: input.intendedUse,
    limitations: input.limitations,
    learner: learnerSettings(model),
    ...(input.table !== undefined && { table: input.table }),
    ...(input.survival !== undefined && { survival: input.survival }),
    ...(input.fit !== undefined && { fit: input.fit }),
    // Penalised fits are not maximum-likelihood: their Wald table would read as one.
    ...(model.kind === 'logistic' && model.l2 === 0 && { fit: logisticFit(model, summary.events) }),
  };
}
