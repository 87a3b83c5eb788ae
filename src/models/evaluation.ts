import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { CalibrationBin } from './calibration.js';
import { brierScore, calibrationCurve, calibrationFit } from './calibration.js';
import type { FeatureMatrix } from './feature-matrix.js';
import type { RocAnalysis } from './roc-metrics.js';
import { ascendingOrder, checkScores, groupOrder, rocAnalysis } from './roc-metrics.js';

/**
 * Every metric of one set of predictions. A metric that cannot be estimated on these rows (AUROC with one
 * outcome class, a recalibration fit under separation) is `null`, with the reason in `notes` — never NaN.
 */
export interface Metrics {
  n: number;
  events: number;
  prevalence: number;
  auroc: number | null;
  aurocSe: number | null;
  aurocCi: [number, number] | null;
  auprc: number | null;
  brier: number;
  calibrationIntercept: number | null;
  calibrationSlope: number | null;
  calibrationCurve: CalibrationBin[];
  notes: string[];
}

/** A row label per row (sex, age band, region, …): metrics are repeated within each label. */
export interface Grouping {
  name: string;
  labels: ArrayLike<string>;
}

/** Metrics within one group of a grouping. */
export interface GroupMetrics extends Metrics {
  group: string;
}

/** What `evaluatePredictions` returns: serialisable as JSON as it stands. */
export interface EvaluationReport {
  overall: Metrics;
  /** ROC points of the overall predictions, for the plot. */
  roc: { fpr: number[]; tpr: number[] };
  /** Per grouping name, one entry per label, labels in sorted order. */
  subgroups: Record<string, GroupMetrics[]>;
}

/** What to evaluate beyond the overall metrics. */
export interface EvaluationOptions {
  groupings?: readonly Grouping[];
  /** Groups of the calibration curve. Default 10 (deciles). */
  calibrationGroups?: number;
}

/** AUROC (DeLong CI), AUPRC, Brier, calibration intercept, slope and curve — overall and within every group. */
export function evaluatePredictions(
  p: ArrayLike<number>,
  y: ArrayLike<number>,
  options: EvaluationOptions = {},
): EvaluationReport {
  const groupsOfCurve = options.calibrationGroups ?? 10;
  checkScores(p, y);
  // One sort of every row serves every figure: the AUROC and its ROC curve, the calibration curve, and each
  // subgroup's, whose order is read off this one (`groupOrder`).
  const order = ascendingOrder(p);
  let overallRoc: RocAnalysis | undefined;
  const overall = metricsOf(p, y, groupsOfCurve, order, (r) => {
    overallRoc = r;
  });
  const roc = overallRoc === undefined ? { fpr: [], tpr: [] } : overallRoc.curve;
  const subgroups: Record<string, GroupMetrics[]> = {};
  for (const grouping of options.groupings ?? []) {
    if (grouping.labels.length !== p.length) {
      throw new HealthmeshError(
        'MODEL_SHAPE_MISMATCH',
        `grouping ${grouping.name} has ${grouping.labels.length} labels for ${p.length} predictions`,
        { path: grouping.name },
      );
    }
    // Each row's group and its index within it, in one pass over the labels.
    const groupOf = new Map<string, number>();
    const sizes: number[] = [];
    const which = new Uint32Array(p.length);
    const local = new Int32Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const label = grouping.labels[i]!;
      let g = groupOf.get(label);
      if (g === undefined) {
        g = sizes.length;
        groupOf.set(label, g);
        sizes.push(0);
      }
      which[i] = g;
      local[i] = sizes[g]!++;
    }
    subgroups[grouping.name] = [...groupOf.keys()].sort().map((group) => {
      const g = groupOf.get(group)!;
      const size = sizes[g]!;
      const gp = new Float64Array(size);
      const gy = new Uint8Array(size);
      const mine = new Int32Array(p.length).fill(-1);
      for (let i = 0; i < p.length; i++) {
        if (which[i] !== g) continue;
        gp[local[i]!] = p[i]!;
        gy[local[i]!] = y[i]!;
        mine[i] = local[i]!;
      }
      return { group, ...metricsOf(gp, gy, groupsOfCurve, groupOrder(order, mine, size)) };
    });
  }
  return { overall, roc, subgroups };
}

function metricsOf(
  p: ArrayLike<number>,
  y: ArrayLike<number>,
  curveGroups: number,
  order: Uint32Array,
  withRoc?: (roc: RocAnalysis) => void,
): Metrics {
  const brier = brierScore(p, y);
  let events = 0;
  for (let i = 0; i < y.length; i++) events += y[i]!;
  const notes: string[] = [];
  const m: Metrics = {
    n: p.length,
    events,
    prevalence: events / p.length,
    auroc: null,
    aurocSe: null,
    aurocCi: null,
    auprc: null,
    brier,
    calibrationIntercept: null,
    calibrationSlope: null,
    calibrationCurve: calibrationCurve(p, y, curveGroups, order),
    notes,
  };
  if (events === 0 || events === p.length) {
    notes.push(`one outcome class only (${events} events in ${p.length}): AUROC, AUPRC and calibration not estimable`);
    return m;
  }
  const roc = rocAnalysis(p, y, undefined, order);
  withRoc?.(roc);
  m.auroc = roc.auroc;
  m.aurocSe = roc.aurocSe;
  m.aurocCi = roc.aurocCi;
  m.auprc = roc.auprc;
  try {
    const c = calibrationFit(p, y);
    m.calibrationIntercept = c.intercept;
    m.calibrationSlope = c.slope;
  } catch (e) {
    if (!isHealthmeshError(e)) throw e;
    notes.push(`calibration intercept and slope not estimable (${e.code}): ${e.message}`);
  }
  return m;
}

/**
 * Labels from a numeric column of a feature matrix (e.g. sex coded 0/1), through `label`; a missing value is
 * labelled "missing".
 */
export function groupingFromColumn(
  m: FeatureMatrix,
  feature: string,
  label: (value: number) => string = String,
  name = feature,
): Grouping {
  const j = m.names.indexOf(feature);
  if (j < 0) throw new HealthmeshError('MODEL_SHAPE_MISMATCH', `no feature ${feature} to group by`, { path: feature });
  const p = m.names.length;
  const labels: string[] = [];
  for (let i = 0; i < m.rows; i++) {
    const v = m.values[i * p + j]!;
    labels.push(Number.isNaN(v) ? 'missing' : label(v));
  }
  return { name, labels };
}

/** A labeller for bands between `edges` (lower bound inclusive): [40, 50] labels "<40", "40–50" and "≥50". */
export function bandLabeller(edges: readonly number[]): (value: number) => string {
  const sorted = [...edges].sort((a, b) => a - b);
  return (v) => {
    if (sorted.length === 0 || v < sorted[0]!) return `<${sorted[0] ?? ''}`;
    for (let k = 1; k < sorted.length; k++) if (v < sorted[k]!) return `${sorted[k - 1]}–${sorted[k]}`;
    return `≥${sorted.at(-1)}`;
  };
}
