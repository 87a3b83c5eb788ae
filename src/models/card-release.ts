import type { DisclosurePolicy } from '../core/index.js';
import { releaseCount } from '../privacy/index.js';
import type { EvaluationReport, GroupMetrics, Metrics } from './evaluation.js';
import type { ModelCard } from './model-card.js';

/** Metrics as they may leave the hub: counts released, small calibration bins dropped, thin sets withheld. */
export interface ReleasedMetrics extends Omit<Metrics, 'n' | 'events' | 'calibrationCurve'> {
  n: number | null;
  events: number | null;
  calibrationCurve: Metrics['calibrationCurve'];
  /** Calibration bins dropped because fewer than `minCellSize` people stood behind them. */
  withheldBins: number;
}

/** A subgroup under the threshold in people, events or non-events: only its label is released. */
export interface WithheldGroup {
  group: string;
  withheld: true;
}

function thin(m: Metrics, policy: DisclosurePolicy): boolean {
  const k = Math.max(policy.threshold, policy.minCellSize);
  return m.n < k || m.events < policy.threshold || m.n - m.events < policy.threshold;
}

function releaseMetrics<M extends Metrics>(m: M, policy: DisclosurePolicy): Omit<M, keyof Metrics> & ReleasedMetrics {
  const bins = m.calibrationCurve.filter((b) => b.n >= policy.minCellSize);
  return {
    ...m,
    n: releaseCount(m.n, policy),
    events: releaseCount(m.events, policy),
    calibrationCurve: bins,
    withheldBins: m.calibrationCurve.length - bins.length,
  };
}

function releaseReport(r: EvaluationReport, policy: DisclosurePolicy) {
  const overallThin = thin(r.overall, policy);
  const subgroups: Record<string, (ReturnType<typeof releaseMetrics<GroupMetrics>> | WithheldGroup)[]> = {};
  for (const [name, groups] of Object.entries(r.subgroups)) {
    subgroups[name] = groups.map((g) =>
      thin(g, policy) ? { group: g.group, withheld: true } : releaseMetrics(g, policy),
    );
  }
  return {
    overall: overallThin ? { withheld: true as const } : releaseMetrics(r.overall, policy),
    // An ROC curve of few people orders their outcomes one by one.
    roc: overallThin ? { fpr: [], tpr: [] } : r.roc,
    subgroups,
  };
}

/**
 * A model card as it may be shown to roles without row-level access: the training summary's counts released
 * (suppressed under the threshold, rounded), a feature's mean and SD withheld when fewer than `minCellSize` rows
 * recorded it, and in each evaluation report the subgroups, calibration bins and ROC points of too few people
 * withheld. Roles that may read row-level data see the card as stored.
 */
export function releaseModelCard(card: ModelCard, policy: DisclosurePolicy) {
  const t = card.trainingData;
  return {
    ...card,
    trainingData: {
      rows: releaseCount(t.rows, policy),
      events: releaseCount(t.events, policy),
      prevalence: t.prevalence,
      features: t.features.map((f) => {
        const recorded = t.rows - f.missing;
        const enough = recorded >= policy.minCellSize;
        return {
          name: f.name,
          missing: f.missing === 0 ? 0 : releaseCount(f.missing, policy),
          mean: enough ? f.mean : null,
          sd: enough ? f.sd : null,
        };
      }),
    },
    evaluations: card.evaluations.map((e) => ({ name: e.name, report: releaseReport(e.report, policy) })),
  };
}
