/**
 * Training from a spec file: features from the hub, a random split, the feature plan fitted on the training side
 * only (so no test-side value leaks into the fill), the learner, a held-out evaluation, a card, and a registered
 * version. Scoring and evaluation of a registered model reuse the stored plan.
 */

import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError, seededRandom } from '../core/index.js';
import { fitBoostedTuned } from './boosting-tuning.js';
import type { SurvivalFitRecord } from './cox-model.js';
import { coxFitTable, predictCox, trainCox } from './cox-model.js';
import type { CoxTies } from './cox-regression.js';
import { personSplit, randomSplit } from './data-splits.js';
import type { EvaluationReport, Grouping } from './evaluation.js';
import { bandLabeller, evaluatePredictions } from './evaluation.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { selectRows } from './feature-matrix.js';
import type { FeaturePlan } from './feature-plan.js';
import { applyFeaturePlan, fitFeaturePlan } from './feature-plan.js';
import type { FeatureSpec } from './feature-spec.js';
import { missingPolicy, validateFeatureSpec } from './feature-spec.js';
import type { BoostingOptions } from './gradient-boosting.js';
import { fitBoosted, predictBoosted } from './gradient-boosting.js';
import type { HubFeatureRows } from './hub-features.js';
import { buildHubFeatures } from './hub-features.js';
import { hubModelRegistry } from './hub-models.js';
import type { LogisticFit } from './logistic-inference.js';
import { fitLogistic, predictLogistic } from './logistic-regression.js';
import type { CardFeature, RiskModel } from './model-card.js';
import { modelCard } from './model-card.js';
import type { RegisteredModel } from './model-registry.js';

export type LearnerSpec =
  | { kind: 'logistic'; l2?: number }
  | ({ kind: 'boosted' } & Omit<BoostingOptions, 'random'>)
  /** Cox proportional hazards on the days to the outcome, served as the risk by the outcome's horizon. */
  | { kind: 'cox'; ties?: CoxTies };

/** A training spec file: a feature spec with an outcome, plus the model id, learner, split and card fields. */
export interface TrainingSpec {
  model: string;
  features: FeatureSpec;
  learner: LearnerSpec;
  split: { testFraction: number; seed: number };
  card: { title: string; intendedUse: string; limitations: string[]; features?: CardFeature[] };
}

/** Age bands of every subgroup report (years at index). */
const AGE_BANDS = [40, 50, 60, 70, 80];

function invalid(path: string, message: string): HealthmeshError {
  return new HealthmeshError('MODEL_INVALID_SPEC', `${path}: ${message}`, { path });
}

const LEARNER_KEYS: Record<LearnerSpec['kind'], readonly string[]> = {
  logistic: ['kind', 'l2'],
  cox: ['kind', 'ties'],
  boosted: [
    'kind',
    'trees',
    'learningRate',
    'maxDepth',
    'minLeafSize',
    'l2',
    'minGain',
    'subsample',
    'maxBins',
    'validationFraction',
    'patience',
    'seed',
  ],
};

/**
 * Parse a training spec: `{ model, learner, split?, card, ...feature spec }` — the feature spec's fields sit at the
 * top level beside the others, and it must have an outcome. Errors are `MODEL_INVALID_SPEC` naming the field.
 */
export function parseTrainingSpec(input: unknown): TrainingSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('spec', 'must be an object');
  const { model, learner, split, card, ...rest } = input as Record<string, unknown>;
  if (typeof model !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(model)) {
    throw invalid('model', 'the model id must be 1-64 of a-z 0-9 . _ - starting with a letter or digit');
  }
  const features = validateFeatureSpec(rest);
  if (features.outcome === undefined) throw invalid('outcome', 'training needs an outcome');
  const l = (learner ?? { kind: 'logistic' }) as Record<string, unknown>;
  if (l.kind !== 'logistic' && l.kind !== 'boosted' && l.kind !== 'cox')
    throw invalid('learner.kind', 'must be "logistic", "boosted" or "cox"');
  for (const [k, v] of Object.entries(l)) {
    if (!LEARNER_KEYS[l.kind].includes(k)) throw invalid(`learner.${k}`, `unknown option of ${l.kind}`);
    if (k === 'ties') {
      if (v !== 'efron' && v !== 'breslow') throw invalid('learner.ties', 'must be "efron" or "breslow"');
      continue;
    }
    if (k !== 'kind' && (typeof v !== 'number' || !Number.isFinite(v)))
      throw invalid(`learner.${k}`, 'must be a number');
  }
  const s = (split ?? {}) as Record<string, unknown>;
  const testFraction = s.testFraction ?? 0.3;
  const seed = s.seed ?? 1;
  if (typeof testFraction !== 'number' || !(testFraction === 0 || (testFraction > 0 && testFraction < 1))) {
    throw invalid('split.testFraction', 'must be 0 (a full-sample fit, evaluated in-sample) or a number in (0, 1)');
  }
  if (typeof seed !== 'number' || !Number.isInteger(seed)) throw invalid('split.seed', 'must be an integer');
  const c = card as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null) throw invalid('card', 'needs title, intendedUse and limitations');
  for (const k of ['title', 'intendedUse'] as const) {
    if (typeof c[k] !== 'string' || c[k].trim() === '') throw invalid(`card.${k}`, 'must be a non-empty string');
  }
  if (!Array.isArray(c.limitations) || c.limitations.length === 0 || c.limitations.some((x) => typeof x !== 'string')) {
    throw invalid('card.limitations', 'must be a non-empty list of strings');
  }
  return {
    model,
    features,
    learner: l as LearnerSpec,
    split: { testFraction, seed },
    card: card as TrainingSpec['card'],
  };
}

/** Sex, age band and region labels of rows, for the subgroup metrics. */
export function rowGroupings(rows: HubFeatureRows, indices?: ArrayLike<number>): Grouping[] {
  const pick = <T>(xs: ArrayLike<T>): T[] => (indices ? Array.from(indices, (i) => xs[i]!) : Array.from(xs));
  const band = bandLabeller(AGE_BANDS);
  return [
    { name: 'sex', labels: pick(rows.sex) },
    { name: 'age band', labels: pick(rows.age).map(band) },
    { name: 'region', labels: pick(rows.region) },
  ];
}

/** Probabilities of a fitted model on an input matrix (its columns in the model's order). */
export function predictRisk(model: RiskModel, m: FeatureMatrix): Float64Array {
  if (model.kind === 'cox') return predictCox(model, m);
  return model.kind === 'logistic' ? predictLogistic(model, m) : predictBoosted(model, m);
}

/** A fitted learner, with what its card adds when internal cross-validation chose its settings. */
export interface FittedLearner {
  model: RiskModel;
  evaluations: { name: string; report: EvaluationReport }[];
  limitations: string[];
}

/**
 * Fit the spec's learner. Boosted trees given no hyper-parameter (a seed aside) get theirs from internal
 * cross-validation (`fitBoostedTuned`); the card then gains the out-of-fold evaluation of the chosen setting and
 * of logistic regression on the same folds, and a limitation when the trees fall behind it by more than 0.01 AUROC.
 */
export function fitLearner(learner: LearnerSpec, m: FeatureMatrix): FittedLearner {
  const none = { evaluations: [], limitations: [] };
  if (learner.kind === 'cox') {
    throw new HealthmeshError('MODEL_INVALID_SPEC', 'a Cox model is fitted on follow-up times, not a matrix alone', {
      path: 'learner.kind',
    });
  }
  if (learner.kind === 'logistic')
    return { model: fitLogistic(m, learner.l2 !== undefined ? { l2: learner.l2 } : {}), ...none };
  const { kind: _, ...options } = learner;
  // Hyper-parameters given: the user chose; none (a seed aside): internal cross-validation chooses.
  if (Object.keys(options).some((k) => k !== 'seed')) return { model: fitBoosted(m, options), ...none };
  const tuned = fitBoostedTuned(m, options.seed !== undefined ? { seed: options.seed } : {});
  const tuning = tuned.model.diagnostics.tuning;
  if (tuning === undefined) return { model: tuned.model, ...none };
  const name = (learnerName: string): string =>
    `internal ${tuning.folds}-fold cross-validation of the training rows, ${learnerName} (out-of-fold)`;
  const evaluations = [{ name: name('boosted trees'), report: evaluatePredictions(tuned.outOfFold, m.outcome!) }];
  const limitations: string[] = [];
  const logistic = logisticOutOfFold(m, tuned.fold, tuning.folds);
  if (logistic !== undefined) {
    const report = evaluatePredictions(logistic, m.outcome!);
    evaluations.push({ name: name('logistic regression on the same folds'), report });
    // The gap is read from the two evaluations, which the release gate releases; the text carries no number.
    const boostedAuroc = evaluations[0]!.report.overall.auroc;
    const logisticAuroc = report.overall.auroc;
    if (boostedAuroc !== null && logisticAuroc !== null && boostedAuroc < logisticAuroc - 0.01)
      limitations.push(
        'Boosted trees fall behind logistic regression in internal cross-validation of the training rows (compare the AUROC of the two internal cross-validation evaluations): consider the logistic learner.',
      );
  }
  return { model: tuned.model, evaluations, limitations };
}

/**
 * Logistic regression's out-of-fold probabilities on the folds the boosted trees were tuned on, or undefined
 * where it cannot be fitted (missing values kept for the trees, a constant or collinear column in a fold).
 */
function logisticOutOfFold(m: FeatureMatrix, fold: Uint8Array, folds: number): Float64Array | undefined {
  const out = new Float64Array(m.rows);
  try {
    for (let f = 0; f < folds; f++) {
      const rows = (inFold: boolean) =>
        Uint32Array.from({ length: m.rows }, (_, i) => i).filter((i) => (fold[i] === f) === inFold);
      const held = rows(true);
      const p = predictLogistic(fitLogistic(selectRows(m, rows(false))), selectRows(m, held));
      held.forEach((row, r) => {
        out[row] = p[r]!;
      });
    }
  } catch (e) {
    if (e instanceof HealthmeshError && e.kind === 'input') return undefined;
    throw e;
  }
  return out;
}

/** What `trainFromSpec` made: the registered version, its held-out report and the rows it was built from. */
export interface TrainingResult {
  registered: RegisteredModel;
  /** On the test side; with `split.testFraction` 0, on the training rows themselves (`inSample`). */
  heldOut: EvaluationReport;
  inSample: boolean;
  rows: HubFeatureRows;
  split: { train: Uint32Array; test: Uint32Array };
  /** Held-out probabilities, in the order of `split.test`. */
  testPredictions: Float64Array;
  /** The purpose the population was built for and how many people their consent left out of it. */
  consent: HubFeatureRows['consent'];
}

/**
 * Train a model from a spec on this hub and register it as the next version of `spec.model`. The population is
 * built for `purpose` (default ai-development): people whose consent refuses it are not in it. Given `project`, the
 * model is registered in that project's workspace (the caller checked the project's scope).
 */
export async function trainFromSpec(
  hub: Hub,
  spec: TrainingSpec,
  createdBy: string,
  purpose = 'ai-development',
  project?: string,
): Promise<TrainingResult> {
  const cox = spec.learner.kind === 'cox';
  const rows = await buildHubFeatures(hub, spec.features, { trainingDates: true, purpose, eventTimes: cox });
  const y = rows.matrix.outcome!;
  const population = spec.features.population;
  // With training index dates, a person is on one side only; without them this is the plain stratified split.
  const byPerson = 'indexDate' in population && population.trainingIndexDates !== undefined;
  const inSample = spec.split.testFraction === 0;
  const everyRow = Uint32Array.from({ length: rows.matrix.rows }, (_, i) => i);
  // A full-sample fit trains on every row and evaluates on the same rows, labelled in-sample.
  const split = inSample
    ? { train: everyRow, test: everyRow }
    : byPerson
      ? personSplit(
          rows.patientKeys,
          rows.indexDates.map((d) => d === population.indexDate),
          spec.split.testFraction,
          seededRandom(spec.split.seed),
          y,
        )
      : randomSplit(rows.matrix.rows, spec.split.testFraction, seededRandom(spec.split.seed), y);
  const rawTrain = selectRows(rows.matrix, split.train);
  const plan = fitFeaturePlan(spec.features, rawTrain);
  const train = applyFeaturePlan(plan, rawTrain);
  const test = applyFeaturePlan(plan, selectRows(rows.matrix, split.test));
  const outcome = spec.features.outcome!;
  let fitted: FittedLearner & { survival?: SurvivalFitRecord; fit?: LogisticFit };
  if (spec.learner.kind === 'cox') {
    const times = Array.from(split.train, (i) => rows.times![i]!);
    const trained = trainCox(train, times, outcome.horizonDays, {
      unit: 'days',
      ...(spec.learner.ties !== undefined && { ties: spec.learner.ties }),
    });
    fitted = {
      model: trained.model,
      evaluations: [],
      limitations: [
        "A row without the outcome is censored at the person's last recorded event (or the horizon): people with no record after index add no follow-up.",
        'Proportional hazards are assumed, not tested.',
      ],
      survival: trained.survival,
      fit: coxFitTable(trained.fit),
    };
  } else fitted = fitLearner(spec.learner, train);
  const { model, evaluations: internal, limitations: learnerLimitations } = fitted;
  const testPredictions = predictRisk(model, test);
  const heldOut = evaluatePredictions(testPredictions, test.outcome!, { groupings: rowGroupings(rows, split.test) });
  const card = modelCard(
    model,
    train,
    {
      title: spec.card.title,
      cohort: {
        description: spec.features.description ?? spec.features.name,
        outcome: outcome.name,
        horizon: `${outcome.horizonDays} days after index`,
      },
      features: spec.card.features ?? describeFeatures(plan),
      evaluations: [
        {
          name: inSample
            ? 'in-sample (full-sample fit: the rows it was fitted to, not a held-out estimate)'
            : `held-out ${Math.round(spec.split.testFraction * 100)}% (random${byPerson ? ' by person, at the index date' : ''}, seed ${spec.split.seed})`,
          report: heldOut,
        },
        ...internal,
      ],
      intendedUse: spec.card.intendedUse,
      limitations: [...spec.card.limitations, ...learnerLimitations],
      ...(fitted.survival !== undefined && { survival: fitted.survival }),
      ...(fitted.fit !== undefined && { fit: fitted.fit }),
    },
    rawTrain,
  );
  const registry = await hubModelRegistry(hub);
  const registered = await registry.register(spec.model, model, card, createdBy, plan, project);
  return { registered, heldOut, inSample, rows, split, testPredictions, consent: rows.consent };
}

/** The card's description of each input column: the feature's kind and how a missing value was filled. */
export function describeFeatures(plan: FeaturePlan): CardFeature[] {
  const out: CardFeature[] = [];
  for (const f of plan.spec.features) {
    const fill = plan.fill[f.name];
    const policy = missingPolicy(f);
    const missing =
      policy === undefined
        ? undefined
        : policy === 'keep'
          ? 'left missing (routed by the trees)'
          : `filled with ${fill}${policy === 'indicator' ? ' (and flagged)' : ''}`;
    out.push({ name: f.name, description: f.description ?? f.kind, ...(missing !== undefined && { missing }) });
    if (policy === 'indicator') {
      out.push({ name: `${f.name}_missing`, description: `1 when ${f.name} was not recorded` });
    }
  }
  return out;
}

/** A registered model's plan, or `MODEL_INVALID_SPEC` for a model registered without one. */
export function planOf(m: RegisteredModel): FeaturePlan {
  if (m.plan === undefined) {
    throw new HealthmeshError(
      'MODEL_INVALID_SPEC',
      `model ${m.id} version ${m.version} was registered without a feature spec, so the hub cannot compute its features`,
      { path: m.id },
    );
  }
  return m.plan;
}
