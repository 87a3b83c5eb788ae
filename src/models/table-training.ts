/**
 * Training from a flat table (`model train --table`): a stratified random split (or none: a full-sample fit),
 * the `mean` policy's fill fitted on the training side only, the learner, an evaluation labelled held-out or
 * in-sample, and a card. Needs no hub; the CLI registers the result when it runs in one.
 */
import { HealthmeshError, seededRandom } from '../core/index.js';
import type { CoxModel, SurvivalFitRecord } from './cox-model.js';
import { COX_EVALUATION_NAME, coxFitTable, trainCox } from './cox-model.js';
import type { CoxFit, CoxTies } from './cox-regression.js';
import { randomSplit } from './data-splits.js';
import type { EvaluationReport } from './evaluation.js';
import { evaluatePredictions } from './evaluation.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { selectRows } from './feature-matrix.js';
import { fitBoosted } from './gradient-boosting.js';
import { fitLogistic } from './logistic-regression.js';
import type { ModelCard, RiskModel } from './model-card.js';
import { modelCard } from './model-card.js';
import type { ModelTable } from './model-table.js';
import { applyTableFill, tableFill } from './model-table.js';
import { predictRisk } from './model-training.js';

export interface TableTrainingOptions {
  learner: 'logistic' | 'boosted';
  /** 0 fits on every row and evaluates in-sample; otherwise in (0, 1). */
  testFraction: number;
  seed: number;
  title?: string;
}

export interface TableTrainingResult {
  model: RiskModel;
  card: ModelCard;
  evaluation: EvaluationReport;
  /** True for a full-sample fit: the evaluation is on the rows the model was fitted to. */
  inSample: boolean;
  trainRows: number;
  testRows: number;
}

/** A test fraction of `--test-fraction`: 0 (full-sample fit) or strictly between 0 and 1. */
export function checkTestFraction(f: number): number {
  if (!Number.isFinite(f) || !(f === 0 || (f > 0 && f < 1))) {
    throw new HealthmeshError('MODEL_INVALID_OPTION', `the test fraction must be 0 or in (0, 1), not ${f}`, {
      path: 'test-fraction',
    });
  }
  return f;
}

/** Fit a model on a table read by `readModelTable`. */
export function trainFromTable(table: ModelTable, options: TableTrainingOptions): TableTrainingResult {
  const testFraction = checkTestFraction(options.testFraction);
  const all = table.matrix;
  const inSample = testFraction === 0;
  const split = inSample
    ? undefined
    : randomSplit(all.rows, testFraction, seededRandom(options.seed), all.outcome as Uint8Array);
  const rawTrain = split ? selectRows(all, split.train) : all;
  const rawTest = split ? selectRows(all, split.test) : all;
  const fill = table.missing === 'mean' ? tableFill(rawTrain) : undefined;
  const filled = (m: FeatureMatrix) => (fill ? applyTableFill(m, fill) : m);
  const train = filled(rawTrain);
  const test = filled(rawTest);
  const model: RiskModel = options.learner === 'logistic' ? fitLogistic(train) : fitBoosted(train, {});
  const evaluation = evaluatePredictions(predictRisk(model, test), test.outcome as Uint8Array);
  const outcome = `${table.outcome.column} ${/^[<>=!]/.test(table.outcome.positive) ? table.outcome.positive : `= ${table.outcome.positive}`}`;
  const evaluationName = inSample
    ? 'in-sample (full-sample fit: the rows it was fitted to, not a held-out estimate)'
    : `held-out ${Math.round(testFraction * 100)}% (random, stratified, seed ${options.seed})`;
  const card = modelCard(
    model,
    train,
    {
      title: options.title ?? `${options.learner === 'logistic' ? 'Logistic' : 'Boosted'} model of ${outcome}`,
      cohort: {
        // Counts stay out of the text (the release gate passes text as it is): they are in `table`.
        description: `rows of a flat table${table.missing === 'complete-case' ? ' with no missing value used' : ''}`,
        outcome,
      },
      features: all.names.map((name) => ({
        name,
        missing:
          table.missing === 'mean'
            ? 'filled with the training mean'
            : table.missing === 'complete-case'
              ? 'rows with a missing value dropped'
              : 'none missing (refused otherwise)',
      })),
      evaluations: [{ name: evaluationName, report: evaluation }],
      intendedUse: 'Analysis of the table it was fitted to; not validated for use on patients.',
      limitations: [
        'Fitted from a flat table without a feature spec: the hub cannot compute its inputs from its own records; score it with feature vectors.',
        ...(inSample ? ['Its performance is in-sample and overstates performance on new people.'] : []),
      ],
      table: {
        outcome: table.outcome,
        missing: table.missing,
        rowsRead: table.rowsRead,
        rowsDropped: table.rowsDropped,
        ...(fill && { fill }),
        inSample,
      },
    },
    fill ? rawTrain : undefined,
  );
  return { model, card, evaluation, inSample, trainRows: train.rows, testRows: test.rows };
}

/** What `trainCoxFromTable` made: the registered form, the fit itself and its card. */
export interface TableCoxResult {
  model: CoxModel;
  fit: CoxFit;
  card: ModelCard;
  survival: SurvivalFitRecord;
}

/**
 * A Cox fit on every row of a table read with a time column (`readModelTable(..., { time })`; missing `fail` or
 * `complete-case`), with a card: the Wald table of log hazard ratios, concordance and calibration at `horizon`
 * (in the unit of the time column, named by `unit`).
 */
export function trainCoxFromTable(
  table: ModelTable,
  options: { horizon: number; ties?: CoxTies; unit: string; title?: string },
): TableCoxResult {
  if (table.times === undefined) throw new Error('a Cox fit needs the table read with its time column');
  if (table.missing === 'mean') {
    throw new HealthmeshError('MODEL_INVALID_OPTION', 'a Cox fit takes --missing fail or complete-case', {
      path: 'missing',
    });
  }
  const m = table.matrix;
  const trained = trainCox(m, table.times, options.horizon, {
    unit: options.unit,
    ...(options.ties !== undefined && { ties: options.ties }),
  });
  const outcome = `${table.outcome.column} ${/^[<>=!]/.test(table.outcome.positive) ? table.outcome.positive : `= ${table.outcome.positive}`}`;
  const card = modelCard(trained.model, m, {
    title: options.title ?? `Cox model of ${outcome} by ${options.horizon} ${options.unit}`,
    cohort: {
      description: `rows of a flat table${table.missing === 'complete-case' ? ' with no missing value used' : ''}`,
      outcome,
      horizon: `${options.horizon} ${options.unit}`,
    },
    features: m.names.map((name) => ({
      name,
      missing:
        table.missing === 'complete-case' ? 'rows with a missing value dropped' : 'none missing (refused otherwise)',
    })),
    evaluations: trained.evaluation !== undefined ? [{ name: COX_EVALUATION_NAME, report: trained.evaluation }] : [],
    intendedUse: 'Analysis of the table it was fitted to; not validated for use on patients.',
    limitations: [
      'Fitted from a flat table without a feature spec: the hub cannot compute its inputs from its own records; score it with feature vectors.',
      'Its concordance, calibration and evaluation are in-sample and overstate performance on new people.',
      'Proportional hazards are assumed, not tested.',
    ],
    table: {
      outcome: table.outcome,
      missing: table.missing,
      rowsRead: table.rowsRead,
      rowsDropped: table.rowsDropped,
      inSample: true,
    },
    survival: trained.survival,
    fit: coxFitTable(trained.fit),
  });
  return { model: trained.model, fit: trained.fit, card, survival: trained.survival };
}
