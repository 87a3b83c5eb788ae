import type { Random } from '../core/index.js';
import { HealthmeshError, seededRandom, shuffledIndices } from '../core/index.js';
import type { BoostingTuning } from './boosting-tuning.js';
import type { BinEdges } from './feature-binning.js';
import { binMatrix, fitBinEdges, valueBins } from './feature-binning.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { checkTrainingData, selectRows } from './feature-matrix.js';
import { checkFeatureNames } from './logistic-regression.js';
import type { BinnedTree, GrowData } from './tree-growth.js';
import { addTreeScores, growTree } from './tree-growth.js';

/** Options of histogram gradient boosting for binary log-loss. */
export interface BoostingOptions {
  /** Maximum number of trees. Default 100. */
  trees?: number;
  /** Shrinkage applied to every leaf value. Default 0.1. */
  learningRate?: number;
  /** Default 6. */
  maxDepth?: number;
  /** Minimum rows in a leaf. Default 20. */
  minLeafSize?: number;
  /** L2 penalty on leaf values. Default 1. */
  l2?: number;
  /** Minimum gain for a split. Default 0. */
  minGain?: number;
  /** Fraction of training rows drawn (without replacement, per tree). Default 1. */
  subsample?: number;
  /** Value bins per feature, 2..255. Default 255. */
  maxBins?: number;
  /** Fraction of rows held out to stop early; 0 trains every tree on all rows. Default 0.1. */
  validationFraction?: number;
  /** Stop after this many trees without improving the validation log-loss. Default 10. */
  patience?: number;
  /** Seed of the default generator. Default 1. */
  seed?: number;
  /** Injected generator (takes precedence over `seed`). */
  random?: Random;
}

/** One tree on raw values: x ≤ threshold (or missing with missingLeft) goes left. Leaves have feature −1. */
export interface BoostedTree {
  feature: number[];
  threshold: number[];
  missingLeft: boolean[];
  left: number[];
  right: number[];
  value: number[];
}

/** How a boosting fit went: loss paths, the kept tree count, and what was held out. */
export interface BoostingDiagnostics {
  /** Mean log-loss on the training rows after 0, 1, … trees. */
  trainLoss: number[];
  /** Mean log-loss on the validation rows after 0, 1, … trees (empty without early stopping). */
  validationLoss: number[];
  /** Trees kept: the count with the lowest validation loss (all grown trees without early stopping). */
  bestIteration: number;
  stoppedEarly: boolean;
  trainingRows: number;
  validationRows: number;
  /** Features with a single value (and no missing): never split on. */
  constantFeatures: string[];
  /** How the tree shape and count were chosen, when internal cross-validation chose them (`fitBoostedTuned`). */
  tuning?: BoostingTuning;
}

/** A boosted model: P(y = 1) = σ(baseScore + Σ tree(x)). Plain arrays, so it serialises as JSON. */
export interface BoostedModel {
  kind: 'boosted';
  features: string[];
  /** Log-odds of the training prevalence. */
  baseScore: number;
  trees: BoostedTree[];
  options: Required<Omit<BoostingOptions, 'random'>>;
  diagnostics: BoostingDiagnostics;
}

/**
 * A split on the last value bin sends every value left and only missing values right; its threshold must
 * exceed any finite value. Number.MAX_VALUE rather than Infinity, which JSON cannot hold.
 */
const ABOVE_EVERY_VALUE = Number.MAX_VALUE;

function resolve(options: BoostingOptions): Required<Omit<BoostingOptions, 'random'>> {
  const o = {
    trees: options.trees ?? 100,
    learningRate: options.learningRate ?? 0.1,
    maxDepth: options.maxDepth ?? 6,
    minLeafSize: options.minLeafSize ?? 20,
    l2: options.l2 ?? 1,
    minGain: options.minGain ?? 0,
    subsample: options.subsample ?? 1,
    maxBins: options.maxBins ?? 255,
    validationFraction: options.validationFraction ?? 0.1,
    patience: options.patience ?? 10,
    seed: options.seed ?? 1,
  };
  const bad: string[] = [];
  if (!(Number.isInteger(o.trees) && o.trees >= 1)) bad.push('trees ≥ 1');
  if (!(o.learningRate > 0 && o.learningRate <= 1)) bad.push('0 < learningRate ≤ 1');
  if (!(Number.isInteger(o.maxDepth) && o.maxDepth >= 1 && o.maxDepth <= 20)) bad.push('1 ≤ maxDepth ≤ 20');
  if (!(Number.isInteger(o.minLeafSize) && o.minLeafSize >= 1)) bad.push('minLeafSize ≥ 1');
  if (!(o.l2 >= 0) || !(o.minGain >= 0)) bad.push('l2 ≥ 0 and minGain ≥ 0');
  if (!(o.subsample > 0 && o.subsample <= 1)) bad.push('0 < subsample ≤ 1');
  if (!(Number.isInteger(o.maxBins) && o.maxBins >= 2 && o.maxBins <= 255)) bad.push('2 ≤ maxBins ≤ 255');
  if (!(o.validationFraction >= 0 && o.validationFraction < 1)) bad.push('0 ≤ validationFraction < 1');
  if (!(Number.isInteger(o.patience) && o.patience >= 1)) bad.push('patience ≥ 1');
  if (bad.length > 0) throw new HealthmeshError('MODEL_INVALID_OPTION', `boosting options need ${bad.join(', ')}`);
  return o;
}

/** Mean binary log-loss of raw scores. */
function logLoss(score: Float64Array, y: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < score.length; i++) {
    const s = score[i]!;
    // log(1 + e^s) − y·s, computed without overflow.
    sum += Math.max(s, 0) + Math.log1p(Math.exp(-Math.abs(s))) - y[i]! * s;
  }
  return sum / score.length;
}

/**
 * Fit gradient-boosted trees on binary log-loss. Missing values (NaN) are binned apart and each split learns
 * which side they go to. Refuses no rows, one class, a feature missing everywhere, infinite values. A constant
 * feature is allowed and never split on (listed in `diagnostics.constantFeatures`).
 */
export function fitBoosted(m: FeatureMatrix, options: BoostingOptions = {}): BoostedModel {
  const o = resolve(options);
  const { summary } = checkTrainingData(m);
  const rng = options.random ?? seededRandom(o.seed);
  const { train, valid } = holdOut(m, o.validationFraction, rng);
  return fitOn(m.names, summary, train, valid, o, rng, false);
}

/**
 * Boosting stopped early on a validation set the caller holds out (a cross-validation fold), keeping every tree
 * grown (`diagnostics.bestIteration` says how many the fold liked), so the caller can score any round count.
 * `validationFraction` is ignored.
 */
export function fitBoostedOnFold(
  train: FeatureMatrix,
  valid: FeatureMatrix,
  options: Omit<BoostingOptions, 'validationFraction'> = {},
): BoostedModel {
  const o = resolve({ ...options, validationFraction: 0 });
  const { summary } = checkTrainingData(train);
  const rng = options.random ?? seededRandom(o.seed);
  return fitOn(train.names, summary, train, valid, o, rng, true);
}

function fitOn(
  names: readonly string[],
  summary: ReturnType<typeof checkTrainingData>['summary'],
  train: FeatureMatrix,
  valid: FeatureMatrix | undefined,
  o: Required<Omit<BoostingOptions, 'random'>>,
  rng: Random,
  keepAll: boolean,
): BoostedModel {
  const edges = fitBinEdges(train, rng, o.maxBins);
  const y = train.outcome!;
  let events = 0;
  for (let i = 0; i < y.length; i++) events += y[i]!;
  const baseScore = Math.log(events / (train.rows - events));
  const rounds = boost(train, valid, edges, baseScore, o, rng);
  return {
    kind: 'boosted',
    features: [...names],
    baseScore,
    trees: rounds.trees
      .slice(0, keepAll ? rounds.trees.length : rounds.best)
      .map((tree) => toRawTree(tree, edges.edges)),
    options: o,
    diagnostics: {
      trainLoss: rounds.trainLoss,
      validationLoss: rounds.validationLoss,
      bestIteration: rounds.best,
      stoppedEarly: rounds.trees.length < o.trees,
      trainingRows: train.rows,
      validationRows: valid?.rows ?? 0,
      constantFeatures: summary.filter((s) => s.min === s.max && s.missing === 0).map((s) => s.name),
    },
  };
}

/** A random `fraction` of rows held out for early stopping (none when it rounds to zero rows). */
function holdOut(m: FeatureMatrix, fraction: number, rng: Random): { train: FeatureMatrix; valid?: FeatureMatrix } {
  const order = shuffledIndices(m.rows, rng);
  const validationRows = Math.floor(m.rows * fraction);
  if (validationRows === 0) return { train: m };
  const train = selectRows(m, order.subarray(validationRows).sort());
  checkTrainingData(train);
  return { train, valid: selectRows(m, order.subarray(0, validationRows).sort()) };
}

/** The boosting rounds: gradients, one tree, scores and losses, until the trees run out or patience does. */
function boost(
  train: FeatureMatrix,
  valid: FeatureMatrix | undefined,
  edges: BinEdges,
  baseScore: number,
  o: Required<Omit<BoostingOptions, 'random'>>,
  rng: Random,
): { trees: BinnedTree[]; best: number; trainLoss: number[]; validationLoss: number[] } {
  const y = train.outcome!;
  const width = train.names.length;
  const data: GrowData = {
    bins: binMatrix(train, edges),
    width,
    valueBins: Int32Array.from({ length: width }, (_, j) => valueBins(edges, j)),
    grad: new Float64Array(train.rows),
    hess: new Float64Array(train.rows),
  };
  const validBins = valid ? binMatrix(valid, edges) : undefined;
  const score = new Float64Array(train.rows).fill(baseScore);
  const validScore = new Float64Array(valid?.rows ?? 0).fill(baseScore);
  const trainLoss = [logLoss(score, y)];
  const validationLoss = valid ? [logLoss(validScore, valid.outcome!)] : [];
  const trees: BinnedTree[] = [];
  let best = 0;
  const rows = new Uint32Array(train.rows);
  for (let t = 0; t < o.trees; t++) {
    for (let i = 0; i < train.rows; i++) {
      const p = 1 / (1 + Math.exp(-score[i]!));
      data.grad[i] = p - y[i]!;
      data.hess[i] = Math.max(p * (1 - p), 1e-16);
    }
    let n = 0;
    for (let i = 0; i < train.rows; i++) if (o.subsample === 1 || rng.next() < o.subsample) rows[n++] = i;
    // When every row grew the tree, its leaves update the scores; otherwise every row walks the tree.
    const tree = growTree(data, rows.subarray(0, n), o, n === train.rows ? score : undefined);
    trees.push(tree);
    if (n < train.rows) addTreeScores(tree, data.bins, width, score);
    trainLoss.push(logLoss(score, y));
    if (valid && validBins) {
      addTreeScores(tree, validBins, width, validScore);
      const loss = logLoss(validScore, valid.outcome!);
      validationLoss.push(loss);
      if (loss < validationLoss[best]!) best = t + 1;
      else if (t + 1 - best >= o.patience) break;
    } else {
      best = t + 1;
    }
  }
  return { trees, best, trainLoss, validationLoss };
}

/** Bin thresholds to value thresholds: bin ≤ b ⇔ x ≤ edges[b]. */
function toRawTree(tree: BinnedTree, edges: readonly Float64Array[]): BoostedTree {
  const threshold = Array.from(tree.feature, (f, k) => {
    if (f < 0) return 0;
    const e = edges[f]!;
    const b = tree.binThreshold[k]!;
    return b < e.length ? e[b]! : ABOVE_EVERY_VALUE;
  });
  return {
    feature: Array.from(tree.feature),
    threshold,
    missingLeft: Array.from(tree.missingLeft, (v) => v === 1),
    left: Array.from(tree.left),
    right: Array.from(tree.right),
    value: Array.from(tree.value),
  };
}

/**
 * Raw scores (log-odds) for every row. A missing value (NaN) follows the default direction its split learned
 * (or, where training saw none at that node, the side that had more rows). ±Infinity is refused.
 */
export function boostedScores(model: BoostedModel, m: FeatureMatrix): Float64Array {
  checkFeatureNames(model.features, m.names);
  const p = m.names.length;
  const x = m.values;
  for (let k = 0; k < x.length; k++) {
    const v = x[k]!;
    if (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY) {
      throw new HealthmeshError(
        'MODEL_NOT_FINITE',
        `feature ${m.names[k % p]} is infinite in row ${Math.floor(k / p)}`,
        {
          line: Math.floor(k / p),
          path: m.names[k % p]!,
        },
      );
    }
  }
  const out = new Float64Array(m.rows).fill(model.baseScore);
  for (const tree of model.trees) {
    const feature = Int32Array.from(tree.feature);
    const threshold = Float64Array.from(tree.threshold);
    const missingLeft = Uint8Array.from(tree.missingLeft, (b) => (b ? 1 : 0));
    const left = Int32Array.from(tree.left);
    const right = Int32Array.from(tree.right);
    const value = Float64Array.from(tree.value);
    for (let i = 0; i < m.rows; i++) {
      let node = 0;
      const base = i * p;
      while (feature[node]! >= 0) {
        const v = x[base + feature[node]!]!;
        node = (Number.isNaN(v) ? missingLeft[node] === 1 : v <= threshold[node]!) ? left[node]! : right[node]!;
      }
      out[i]! += value[node]!;
    }
  }
  return out;
}

/** P(y = 1) for every row: the logistic function of `boostedScores`. */
export function predictBoosted(model: BoostedModel, m: FeatureMatrix): Float64Array {
  const s = boostedScores(model, m);
  for (let i = 0; i < s.length; i++) s[i] = 1 / (1 + Math.exp(-s[i]!));
  return s;
}
