import { isHealthmeshError } from '../core/index.js';
import type { FitSupport, Released, ReleaseGate } from '../privacy/index.js';
import { toPrecision } from '../privacy/index.js';
import type { CalibrationBin } from './calibration.js';
import { wilson } from './calibration.js';
import type { SurvivalFitRecord } from './cox-model.js';
import type { EvaluationReport, Metrics } from './evaluation.js';
import type { LogisticFit } from './logistic-inference.js';
import type { FederatedFitRecord, ModelCard, TrainingFeature, TrainingSummary } from './model-card.js';

/**
 * The ROC curve leaves the hub as true-positive rates at these false-positive rates only: the full curve steps by
 * 1/n₀ and 1/n₁, which gives the exact counts, and its corners are single people.
 */
const ROC_GRID = Array.from({ length: 21 }, (_, k) => k / 20);

/** What stands behind a stored model, as its card records it: for `ReleaseGate.prediction` and `modelUpdate`. */
export function cardFitSupport(t: TrainingSummary): FitSupport {
  return {
    rows: t.rows,
    events: t.events,
    features: t.features.map((f) => {
      const contributors = t.rows - f.missing;
      const groups = [f.missing, contributors];
      if (f.zeros !== undefined) groups.push(f.zeros, contributors - f.zeros);
      return { name: f.name, contributors, groups };
    }),
  };
}

/** A feature's mean and SD may leave only when its recorded values pass the gate's rules; missing as a count. */
function releaseFeature(f: TrainingFeature, rows: number, gate: ReleaseGate) {
  const recorded = rows - f.missing;
  // Recorded and missing are one linked table with the rows as its total: a small group of either is withheld
  // with its complement, so rows − missing cannot reveal it.
  const split = gate.countParts({ recorded, missing: f.missing });
  let mean: Released<number | null>;
  let sd: Released<number | null>;
  if (f.binary === true && f.zeros !== undefined) {
    // A 0/1 feature's mean is a proportion (a missing indicator's is missing / rows): derived from the released
    // counts of ones and zeros, never from the exact ones, so it cannot be multiplied back into a small count.
    const ones = gate.countParts({ ones: recorded - f.zeros, zeros: f.zeros });
    mean = gate.ratio(ones.parts.ones, ones.total);
    sd = gate.fromReleased(
      [ones.parts.ones, ones.total],
      ([a, n]) =>
        a === null || n === null || n < 2
          ? null
          : toPrecision(Math.sqrt(((a / n) * (n - a)) / (n - 1)), gate.precision),
      'derived-ratio',
    );
  } else if (f.dominance !== undefined) {
    mean = gate.statistic(f.mean, recorded, f.dominance);
    sd = gate.statistic(f.sd, recorded, f.dominance);
  } else {
    // A card stored before the dominance figures were kept: nothing to check the rule against, so withheld.
    mean = gate.statistic(null, 0);
    sd = gate.statistic(null, 0);
  }
  return { name: f.name, missing: split.parts.missing, mean, sd };
}

function thin(m: Metrics, gate: ReleaseGate): boolean {
  const t = gate.policy.threshold;
  return m.n < gate.minContributors || m.events < t || m.n - m.events < t;
}

/** A calibration bin: its n and events as a linked count, the observed proportion and interval from those. */
function releaseBin(b: CalibrationBin, gate: ReleaseGate) {
  const events = Math.round(b.observed * b.n);
  const c = gate.countParts({ events, nonEvents: b.n - events });
  return {
    n: c.total,
    meanPredicted: gate.statistic(b.meanPredicted, b.n),
    observed: gate.ratio(c.parts.events, c.total),
    observedCi: gate.fromReleased(
      [c.parts.events, c.total],
      ([e, n]) =>
        e === null || n === null || n === 0
          ? null
          : (wilson(e, n).map((v) => toPrecision(v, gate.precision)) as [number, number]),
      'derived-ratio',
    ),
  };
}

function releaseMetrics(m: Metrics, gate: ReleaseGate) {
  const support = { n: m.n, events: m.events };
  const c = gate.countParts({ events: m.events, nonEvents: m.n - m.events });
  const bins = m.calibrationCurve.filter((b) => b.n >= gate.minContributors);
  return {
    n: c.total,
    events: c.parts.events,
    prevalence: gate.ratio(c.parts.events, c.total),
    auroc: gate.metric(m.auroc, support),
    aurocSe: gate.metric(m.aurocSe, support),
    aurocCi: m.aurocCi === null ? null : [gate.metric(m.aurocCi[0], support), gate.metric(m.aurocCi[1], support)],
    auprc: gate.metric(m.auprc, support),
    brier: gate.metric(m.brier, support),
    calibrationIntercept: gate.metric(m.calibrationIntercept, support),
    calibrationSlope: gate.metric(m.calibrationSlope, support),
    calibrationCurve: bins.map((b) => releaseBin(b, gate)),
    withheldBins: gate.parameter(m.calibrationCurve.length - bins.length, 'calibration bins withheld'),
    // The notes' wording only: their figures ("3 events in 7") are counts.
    notes: m.notes.map((n) => n.split('(')[0]!.trim()),
  };
}

/**
 * The ROC curve at fixed false-positive rates: a point is released only when the false and true positives and
 * negatives it stands for each reach the threshold, its true-positive rate on the precision grid; (0, 0) and
 * (1, 1) hold for every curve.
 */
function releaseRoc(roc: EvaluationReport['roc'], m: Metrics, gate: ReleaseGate) {
  const t = gate.policy.threshold;
  const negatives = m.n - m.events;
  const fpr: Released<number | null>[] = [];
  const tpr: Released<number | null>[] = [];
  for (const g of ROC_GRID) {
    if (g === 0 || g === 1) {
      fpr.push(gate.parameter(g, 'ROC corner'));
      tpr.push(gate.parameter(g, 'ROC corner'));
      continue;
    }
    let best = 0;
    roc.fpr.forEach((f, i) => {
      if (f <= g + 1e-12) best = Math.max(best, roc.tpr[i]!);
    });
    const fp = g * negatives;
    const tp = best * m.events;
    if ([fp, negatives - fp, tp, m.events - tp].some((x) => x < t)) continue;
    fpr.push(gate.parameter(g, 'ROC grid false-positive rate'));
    tpr.push(gate.metric(best, { n: m.n, events: m.events }));
  }
  return { fpr, tpr };
}

function releaseReport(r: EvaluationReport, gate: ReleaseGate) {
  const overallThin = thin(r.overall, gate);
  const subgroups: Record<string, ReturnType<typeof releaseGroup>[]> = {};
  function releaseGroup(g: EvaluationReport['subgroups'][string][number]) {
    return thin(g, gate) ? { group: g.group, withheld: true as const } : { group: g.group, ...releaseMetrics(g, gate) };
  }
  for (const [name, groups] of Object.entries(r.subgroups)) subgroups[name] = groups.map(releaseGroup);
  return {
    overall: overallThin ? { withheld: true as const } : releaseMetrics(r.overall, gate),
    // An ROC curve of few people orders their outcomes one by one.
    roc: overallThin ? { fpr: [], tpr: [] } : releaseRoc(r.roc, r.overall, gate),
    subgroups,
  };
}

/**
 * The Wald table, log-likelihood and AIC: aggregates of every training row, released on the precision grid when
 * the training data pass the fit-support rule (`ReleaseGate.fitted`, as predictions and model updates), else
 * withheld whole with a reason that holds no number. Rows and events are the card's released counts.
 */
function releaseFit(fit: LogisticFit, support: FitSupport, gate: ReleaseGate) {
  try {
    const f = (v: number, what: string) => gate.fitted(v, support, what);
    return {
      logLikelihood: f(fit.logLikelihood, 'the log-likelihood'),
      aic: f(fit.aic, 'the AIC'),
      penalised: fit.penalised,
      coefficients: fit.coefficients.map((c) => ({
        term: c.term,
        estimate: f(c.estimate, `the coefficient of ${c.term}`),
        standardError: f(c.standardError, `the standard error of ${c.term}`),
        ci95: [f(c.ci95[0], `the interval of ${c.term}`), f(c.ci95[1], `the interval of ${c.term}`)],
        z: f(c.z, `the z of ${c.term}`),
        p: f(c.p, `the p-value of ${c.term}`),
      })),
    };
  } catch (e) {
    if (isHealthmeshError(e) && e.code === 'DISCLOSURE_REFUSED') {
      return { withheld: true as const, reason: 'too few rows, events, non-events or values of a feature' };
    }
    throw e;
  }
}

/**
 * A Cox card's horizon, concordance and calibration at the horizon: the concordance as a metric of the training
 * rows and events; the baseline survival and null log-likelihood by the fit-support rule (withheld whole when it
 * refuses); each calibration group only when it holds enough people, events and non-events, its size and events a
 * linked count and its risks on the precision grid.
 */
function releaseSurvival(s: SurvivalFitRecord, t: TrainingSummary, gate: ReleaseGate) {
  const support = cardFitSupport(t);
  let fitted: { baselineSurvival: Released<number>; logLikNull: Released<number> } | { withheld: true } = {
    withheld: true,
  };
  try {
    fitted = {
      baselineSurvival: gate.fitted(s.baselineSurvival, support, 'the baseline survival'),
      logLikNull: gate.fitted(s.logLikNull, support, 'the null log partial likelihood'),
    };
  } catch (e) {
    if (!(isHealthmeshError(e) && e.code === 'DISCLOSURE_REFUSED')) throw e;
  }
  const threshold = gate.policy.threshold;
  const shown = s.calibration.filter(
    (b) => b.n >= gate.minContributors && b.events >= threshold && b.n - b.events >= threshold,
  );
  return {
    horizon: gate.parameter(s.horizon, 'horizon'),
    unit: s.unit,
    ties: s.ties,
    concordance: gate.metric(s.concordance, { n: t.rows, events: t.events }),
    ...fitted,
    calibration: shown.map((b) => {
      const c = gate.countParts({ events: b.events, nonEvents: b.n - b.events });
      return {
        n: c.total,
        events: c.parts.events,
        predicted: gate.metric(b.predicted, { n: b.n, events: b.events }),
        observed: gate.metric(b.observed, { n: b.n, events: b.events }),
      };
    }),
    withheldGroups: gate.parameter(s.calibration.length - shown.length, 'calibration groups withheld'),
  };
}

/** Where the rows of a table-fitted model came from; its counts released as a linked table, fill values withheld. */
function releaseTable(t: NonNullable<ModelCard['table']>, gate: ReleaseGate) {
  const rows = gate.countParts({ kept: t.rowsRead - t.rowsDropped, dropped: t.rowsDropped });
  return {
    outcome: t.outcome,
    missing: t.missing,
    rowsRead: rows.total,
    rowsDropped: rows.parts.dropped,
    inSample: t.inSample,
  };
}

/**
 * A model card as it may be shown to roles without row-level access, built by the release gate
 * (docs/disclosure-control.md, "Model cards"): rows and events a linked count, prevalence derived from those
 * released parts; each feature's missing count released with its complement, its mean and SD only over at least
 * `minContributors` recorded values not dominated by two of them (a 0/1 feature's mean from released counts);
 * metrics only over enough people, events and non-events, on the precision grid; calibration bins of too few
 * people dropped, the others' observed proportions from released counts; the ROC curve at fixed false-positive
 * rates; coefficients, their SEs, intervals and p-values, log-likelihood and AIC by the fit-support rule on the
 * precision grid. Learner settings are parameters; roles that may read row-level data see the card as stored.
 */
export function releaseModelCard(card: ModelCard, gate: ReleaseGate) {
  const t = card.trainingData;
  const rows = gate.countParts({ events: t.events, nonEvents: t.rows - t.events });
  return gate.bundle({
    title: card.title,
    cohort: card.cohort,
    features: card.features.map((f) => ({ name: f.name, description: f.description, missing: f.missing })),
    trainingData: {
      rows: rows.total,
      events: rows.parts.events,
      prevalence: gate.ratio(rows.parts.events, rows.total),
      features: t.features.map((f) => releaseFeature(f, t.rows, gate)),
    },
    evaluations: card.evaluations.map((e) => ({ name: e.name, report: releaseReport(e.report, gate) })),
    intendedUse: card.intendedUse,
    limitations: card.limitations,
    ...(card.fit !== undefined && { fit: releaseFit(card.fit, cardFitSupport(t), gate) }),
    ...(card.table !== undefined && { table: releaseTable(card.table, gate) }),
    ...(card.survival !== undefined && { survival: releaseSurvival(card.survival, t, gate) }),
    learner: {
      kind: card.learner.kind,
      settings: Object.fromEntries(
        Object.entries(card.learner.settings).map(([k, v]) => [
          k,
          typeof v === 'number' ? gate.parameter(v, `learner setting ${k}`) : v,
        ]),
      ),
    },
    federation: card.federation && releaseFederation(card.federation, gate),
  });
}

/**
 * A federated fit's record: hub names, timings and the per-hub counts the coordinating gate released when the fit
 * was registered (already rounded or suppressed; released again through this gate's counts).
 */
function releaseFederation(f: FederatedFitRecord, gate: ReleaseGate) {
  const count = (n: number | null | undefined) => (n === null || n === undefined ? null : gate.count(n));
  return {
    hubs: f.hubs,
    ...(f.project !== undefined && { project: f.project }),
    purpose: f.purpose,
    threshold: gate.parameter(f.threshold, 'disclosure threshold'),
    rounding: gate.parameter(f.rounding, 'count rounding'),
    rounds: f.rounds.map((r) => ({
      round: gate.parameter(r.round, 'round number'),
      operation: r.operation,
      ms: gate.parameter(Math.round(r.ms), 'round duration'),
      hubs: r.hubs,
      answers: r.answers.map((a) => ({
        hub: a.hub,
        rows: count(a.rows),
        ...(a.events !== undefined && { events: count(a.events) }),
      })),
    })),
  };
}
