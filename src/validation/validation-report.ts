/**
 * The external-validation report of one model on this hub's rows, after TRIPOD+AI and the usual guidance for
 * external validation (Riley et al. 2024; Van Calster et al. 2019; Vickers & Elkin 2006): discrimination,
 * calibration, net benefit, subgroups, missing data, dataset shift, sample size and a verdict against the
 * developer's claims. Every number is built by the release gate: the report goes to the developer, a role without
 * row-level rights, so counts are suppressed and rounded, statistics need enough contributors, figures sit on the
 * hub's precision grid, and ratios and the verdict are derived from released values only.
 */
import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { EvaluationReport, FeatureMatrix, HubFeatureRows, Metrics } from '../models/index.js';
import { bandLabeller, evaluatePredictions, NewtonIteration, partialNewtonStep } from '../models/index.js';
import type { Released, ReleasedCount, ReleaseGate } from '../privacy/index.js';
import { toPrecision } from '../privacy/index.js';
import type { ValidationManifest } from './manifest.js';
import { DEFAULT_THRESHOLDS, missingPolicyOf } from './manifest.js';
import type { Submission } from './submission-store.js';

/** The document's format, first in every report. */
export const REPORT_FORMAT = 'healthmesh-validation-report/1';

/** Age bands of the subgroup table (lower bound inclusive). */
const AGE_EDGES = [40, 50, 60, 70];
/** The fewest events and non-events for a sufficient external validation (Collins et al. 2016; Riley et al. 2021 ask more when calibration is wanted). */
export const MIN_EVENTS = 100;
/** |standardised mean difference| above this marks a feature as shifted from the developer's data (Austin 2009). */
const SHIFT_SMD = 0.1;
const LOGIT_CLIP = 1e-12;

/** What the report is computed from: exact, in the hub; nothing here leaves but through the gate. */
export interface ValidationInputs {
  submission: Submission;
  manifest: ValidationManifest;
  rows: HubFeatureRows;
  /** The model's predicted risks, one per row of `rows`. */
  risks: Float64Array;
  startedBy: string;
  createdAt: Date;
}

/** A risk's log-odds, clipped at 1e-12 from 0 and 1 so a certain prediction stays finite (every validation figure's scale). */
export const logit = (p: number) => {
  const q = Math.min(1 - LOGIT_CLIP, Math.max(LOGIT_CLIP, p));
  return Math.log(q / (1 - q));
};

/**
 * The integrated calibration index (Austin & Steyerberg 2019) over the logistic calibration curve
 * logit P(y) = a + b·logit(p): the mean |curve(pᵢ) − pᵢ|. (Austin's is over a loess curve; the logistic one is
 * its parametric form, smooth and free of a bandwidth.) Null under separation or no convergence.
 */
export function integratedCalibrationIndex(p: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const n = p.length;
  const l = Float64Array.from({ length: n }, (_, i) => logit(p[i]!));
  const m: FeatureMatrix = { names: ['logit'], rows: n, values: l, outcome: Uint8Array.from(y as ArrayLike<number>) };
  const fit = new NewtonIteration(m.names);
  try {
    while (!fit.accept(partialNewtonStep(m, fit.beta))) {
      // Newton steps until converged
    }
  } catch (e) {
    if (isHealthmeshError(e)) return null;
    throw e;
  }
  const [a, b] = [fit.beta[0]!, fit.beta[1]!];
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.abs(1 / (1 + Math.exp(-(a + b * l[i]!))) - p[i]!);
  return s / n;
}

function enough(m: Metrics, gate: ReleaseGate): boolean {
  const t = gate.policy.threshold;
  return m.n >= gate.minContributors && m.events >= t && m.n - m.events >= t;
}

function performance(m: Metrics, gate: ReleaseGate, ici?: number | null) {
  const support = { n: m.n, events: m.events };
  const c = gate.countParts({ events: m.events, nonEvents: m.n - m.events });
  return {
    n: c.total,
    events: c.parts.events,
    auroc: gate.metric(m.auroc, support),
    aurocCi: m.aurocCi === null ? null : [gate.metric(m.aurocCi[0], support), gate.metric(m.aurocCi[1], support)],
    calibrationIntercept: gate.metric(m.calibrationIntercept, support),
    calibrationSlope: gate.metric(m.calibrationSlope, support),
    brier: gate.metric(m.brier, support),
    ...(ici !== undefined && { ici: gate.metric(ici, support) }),
  };
}

/** Observed against predicted risk per tenth of predicted risk; a bin of too few people is left out. */
function curve(ev: EvaluationReport, gate: ReleaseGate) {
  return ev.overall.calibrationCurve
    .filter((b) => b.n >= gate.minContributors)
    .map((b) => {
      const events = Math.round(b.observed * b.n);
      const c = gate.countParts({ events, nonEvents: b.n - events });
      return {
        n: c.total,
        meanPredicted: gate.statistic(b.meanPredicted, b.n),
        observed: gate.ratio(c.parts.events, c.total),
      };
    });
}

/**
 * Net benefit (Vickers & Elkin 2006) at each threshold t: TP/n − FP/n · t/(1 − t), against treating everyone and
 * no one; from the confusion counts as the gate releases them (a small cell withholds the point).
 */
function netBenefit(
  p: Float64Array,
  y: Uint8Array,
  thresholds: readonly number[],
  gate: ReleaseGate,
  overall: { events: Released<ReleasedCount>; total: Released<ReleasedCount> },
) {
  return thresholds.map((t) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    for (let i = 0; i < p.length; i++) {
      const pos = p[i]! >= t;
      if (y[i] === 1) pos ? tp++ : fn++;
      else pos ? fp++ : tn++;
    }
    const c = gate.countParts({ tp, fp, fn, tn });
    const odds = t / (1 - t);
    return {
      threshold: gate.parameter(t, 'decision threshold'),
      model: gate.fromReleased(
        [c.parts.tp, c.parts.fp, c.total],
        ([a, b, n]) =>
          a === null || b === null || n === null || n === 0
            ? null
            : toPrecision(a / n - (b / n) * odds, gate.precision),
        'derived-ratio',
      ),
      // Treating everyone depends on the prevalence alone: from the overall released counts.
      treatAll: gate.fromReleased(
        [overall.events, overall.total],
        ([e, n]) =>
          e === null || n === null || n === 0 ? null : toPrecision(e / n - (1 - e / n) * odds, gate.precision),
        'derived-ratio',
      ),
      treatNone: gate.parameter(0, 'net benefit of treating no one'),
    };
  });
}

/** Per feature of the spec: how many rows had no value, and what took its place. */
function missingData(inputs: ValidationInputs, gate: ReleaseGate) {
  const { rows, manifest } = inputs;
  const m = rows.matrix;
  const width = m.names.length;
  return manifest.featureSpec.features.map((f, j) => {
    const policy = missingPolicyOf(f);
    if (policy === undefined) {
      // Age, sex and counts are computed for every person: no count of anyone is involved.
      return {
        feature: f.name,
        missing: gate.parameter(0, 'never missing by construction'),
        share: gate.parameter(0, 'never missing by construction'),
        handling: 'never missing (computed for every person)',
      };
    }
    let missing = 0;
    for (let i = 0; i < m.rows; i++) if (Number.isNaN(m.values[i * width + j]!)) missing++;
    const c = gate.countParts({ recorded: m.rows - missing, missing });
    const handling =
      policy === undefined
        ? 'never missing (computed for every person)'
        : policy === 'keep'
          ? 'passed to the model as NaN'
          : typeof policy === 'object'
            ? `replaced by the manifest's constant ${policy.value}`
            : `replaced by the developer's training mean ${manifest.trainingData.features[f.name]?.mean}${policy === 'indicator' ? ', with a 0/1 indicator column' : ''}`;
    return {
      feature: f.name,
      missing: c.parts.missing,
      share: gate.ratio(c.parts.missing, c.total),
      handling,
    };
  });
}

/** Per feature with a developer summary: this hub's mean and SD against it, and the standardised difference. */
function datasetShift(inputs: ValidationInputs, gate: ReleaseGate) {
  const { rows, manifest } = inputs;
  const m = rows.matrix;
  const width = m.names.length;
  return manifest.featureSpec.features.flatMap((f, j) => {
    const dev = manifest.trainingData.features[f.name];
    if (dev === undefined) return [];
    let n = 0;
    let sum = 0;
    let sq = 0;
    let abs = 0;
    let top1 = 0;
    let top2 = 0;
    for (let i = 0; i < m.rows; i++) {
      const v = m.values[i * width + j]!;
      if (Number.isNaN(v)) continue;
      n++;
      sum += v;
      sq += v * v;
      const a = Math.abs(v);
      abs += a;
      if (a > top1) [top1, top2] = [a, top1];
      else if (a > top2) top2 = a;
    }
    const mean = n > 0 ? sum / n : null;
    const sd = n > 1 && mean !== null ? Math.sqrt(Math.max(0, (sq - n * mean * mean) / (n - 1))) : null;
    const dominance = { largestTwo: top1 + top2, absoluteTotal: abs };
    const hubMean = gate.statistic(mean, n, dominance);
    const hubSd = gate.statistic(sd, n, dominance);
    const smd = gate.fromReleased(
      [hubMean, hubSd],
      ([hm, hs]) => {
        if (hm === null || hs === null) return null;
        const pooled = Math.sqrt((hs * hs + dev.sd * dev.sd) / 2);
        return pooled > 0 ? toPrecision((hm - dev.mean) / pooled, gate.precision) : null;
      },
      'derived-ratio',
    );
    return [
      {
        feature: f.name,
        developer: {
          mean: gate.parameter(dev.mean, "developer's figure"),
          sd: gate.parameter(dev.sd, "developer's figure"),
        },
        hub: { mean: hubMean, sd: hubSd },
        standardisedDifference: smd,
        shifted: smd.value === null ? null : Math.abs(smd.value) > SHIFT_SMD,
      },
    ];
  });
}

/** Plain verdict, from released figures only; `where` names the population (this hub's, or the hubs'). */
export function reportVerdict(
  manifest: ValidationManifest,
  auroc: number | null,
  ci: [number | null, number | null] | null,
  intercept: number | null,
  slope: number | null,
  sufficient: boolean,
  where = "this hub's population",
) {
  const claimed = manifest.reportedPerformance.auroc;
  let discrimination: 'consistent with the claim' | 'lower than claimed' | 'higher than claimed' | 'not estimable';
  if (auroc === null || ci === null || ci[0] === null || ci[1] === null) discrimination = 'not estimable';
  else if (claimed > ci[1]) discrimination = 'lower than claimed';
  else if (claimed < ci[0]) discrimination = 'higher than claimed';
  else discrimination = 'consistent with the claim';
  let calibration: string;
  if (intercept === null || slope === null) calibration = 'not estimable';
  else if (Math.abs(intercept) <= 0.2 && slope >= 0.8 && slope <= 1.2) calibration = 'adequate';
  else {
    const parts = [];
    if (intercept > 0.2) parts.push('risks under-predicted on the whole');
    if (intercept < -0.2) parts.push('risks over-predicted on the whole');
    if (slope < 0.8) parts.push('predictions too extreme (slope below 1)');
    if (slope > 1.2) parts.push('predictions too moderate (slope above 1)');
    calibration = `miscalibrated: ${parts.join('; ')}`;
  }
  const supported =
    !sufficient || discrimination === 'not estimable' || calibration === 'not estimable'
      ? 'inconclusive'
      : discrimination !== 'lower than claimed' && calibration === 'adequate'
        ? 'supported'
        : 'not supported';
  const why = [
    `discrimination ${discrimination} (claimed AUROC ${claimed}${auroc !== null ? `, here ${auroc}` : ''})`,
    `calibration ${calibration}`,
    sufficient ? 'sample size sufficient' : `sample below ${MIN_EVENTS} events and ${MIN_EVENTS} non-events`,
  ];
  return {
    discrimination,
    calibration,
    claims: supported,
    summary: `The developer's claims are ${supported === 'inconclusive' ? 'not decided by this validation' : supported === 'supported' ? 'supported' : 'not supported'} on ${where}: ${why.join('; ')}.`,
  };
}

/** How every report begins, local or pooled: which hub made it, when, by whom, about which submission (text only). */
export function reportHead(
  hub: Pick<Hub, 'config'>,
  inputs: Pick<ValidationInputs, 'submission' | 'manifest' | 'startedBy' | 'createdAt'>,
) {
  const { submission, manifest } = inputs;
  return {
    format: REPORT_FORMAT,
    hub: hub.config.name,
    createdAt: inputs.createdAt.toISOString(),
    startedBy: inputs.startedBy,
    submission: {
      id: submission.id,
      name: manifest.name,
      version: manifest.version,
      developer: manifest.developer.name,
      projectId: manifest.projectId ?? null,
      submittedBy: submission.submittedBy,
      submittedAt: submission.submittedAt.toISOString(),
      modelSha256: submission.modelSha256,
    },
    intendedUse: manifest.intendedUse,
  };
}

/**
 * Build the report of `inputs` through `hub.gate`. Returns plain JSON (every number released), ready to sign.
 */
export function buildValidationReport(hub: Pick<Hub, 'gate' | 'config'>, inputs: ValidationInputs) {
  const gate = hub.gate;
  const { manifest, rows, risks } = inputs;
  const y = rows.matrix.outcome;
  if (y === undefined) throw new HealthmeshError('INTERNAL', 'validation rows have no outcome');
  const label = bandLabeller(AGE_EDGES);
  const ev = evaluatePredictions(risks, y, {
    groupings: [
      { name: 'sex', labels: rows.sex },
      { name: 'ageBand', labels: Array.from(rows.age, (a) => (Number.isNaN(a) ? 'missing' : label(a))) },
    ],
  });
  const o = ev.overall;
  if (!enough(o, gate)) {
    throw new HealthmeshError(
      'DISCLOSURE_REFUSED',
      "the validation population has too few people, events or non-events for any figure to pass this hub's release gate",
      { path: 'min-contributors' },
    );
  }
  const ici = integratedCalibrationIndex(risks, y);
  const overall = performance(o, gate, ici);
  const counts = gate.countParts({ events: o.events, nonEvents: o.n - o.events });
  const sufficient = o.events >= MIN_EVENTS && o.n - o.events >= MIN_EVENTS;
  const subgroups = Object.fromEntries(
    Object.entries(ev.subgroups).map(([name, groups]) => {
      const released = groups.map((g) =>
        enough(g, gate) ? { group: g.group, ...performance(g, gate) } : { group: g.group, withheld: true as const },
      );
      // The gap between the best and the worst group, from the groups' released figures only.
      const gap = (pick: (g: ReturnType<typeof performance>) => Released<number | null>) => {
        const shown = released.flatMap((g) => ('withheld' in g ? [] : [pick(g)]));
        return gate.fromReleased(
          shown,
          (vs) => {
            const xs = (vs as (number | null)[]).filter((v): v is number => v !== null);
            return xs.length < 2 ? null : toPrecision(Math.max(...xs) - Math.min(...xs), gate.precision);
          },
          'derived-ratio',
        );
      };
      return [
        name,
        {
          groups: released,
          aurocGap: gap((g) => g.auroc),
          calibrationInterceptGap: gap((g) => g.calibrationIntercept),
        },
      ];
    }),
  );
  const released = gate.bundle({
    ...reportHead(hub, inputs),
    population: {
      indexDate: 'indexDate' in manifest.featureSpec.population ? manifest.featureSpec.population.indexDate : null,
      outcome: manifest.featureSpec.outcome?.name ?? null,
      horizonDays: gate.parameter(manifest.featureSpec.outcome?.horizonDays ?? null, 'outcome horizon'),
      consentPurpose: rows.consent.purpose,
      leftOutByConsent: gate.count(rows.consent.leftOut),
    },
    sampleSize: {
      n: counts.total,
      events: counts.parts.events,
      nonEvents: counts.parts.nonEvents,
      prevalence: gate.ratio(counts.parts.events, counts.total),
      sufficient,
      rule: `at least ${MIN_EVENTS} events and ${MIN_EVENTS} non-events (Collins et al. 2016)`,
    },
    discrimination: {
      auroc: overall.auroc,
      aurocCi: overall.aurocCi,
      method: 'AUROC (Mann-Whitney) with a 95% DeLong interval',
    },
    calibration: {
      intercept: overall.calibrationIntercept,
      slope: overall.calibrationSlope,
      ici: overall.ici ?? gate.metric(null, { n: 0 }),
      brier: overall.brier,
      curve: curve(ev, gate),
      method:
        'intercept with the log-odds as offset, slope by logistic recalibration; ICI over the logistic calibration curve; curve by tenths of predicted risk',
    },
    netBenefit: netBenefit(risks, y, manifest.thresholds ?? DEFAULT_THRESHOLDS, gate, {
      events: counts.parts.events,
      total: counts.total,
    }),
    subgroups,
    missingData: missingData(inputs, gate),
    datasetShift: datasetShift(inputs, gate),
    reportedPerformance: {
      auroc: gate.parameter(manifest.reportedPerformance.auroc, "developer's claim"),
      aurocCi: manifest.reportedPerformance.aurocCi?.map((v) => gate.parameter(v, "developer's claim")) ?? null,
      calibrationIntercept: gate.parameter(
        manifest.reportedPerformance.calibrationIntercept ?? null,
        "developer's claim",
      ),
      calibrationSlope: gate.parameter(manifest.reportedPerformance.calibrationSlope ?? null, "developer's claim"),
    },
    disclosure: {
      threshold: gate.parameter(gate.policy.threshold, 'disclosure threshold'),
      rounding: gate.parameter(gate.policy.rounding, 'count rounding'),
      precision: gate.parameter(gate.precision, 'significant digits'),
    },
  });
  const r = released.value;
  const ci = r.discrimination.aurocCi as [number | null, number | null] | null;
  return {
    ...r,
    verdict: reportVerdict(
      manifest,
      r.discrimination.auroc,
      ci,
      r.calibration.intercept,
      r.calibration.slope,
      sufficient,
    ),
  };
}

/** A validation report as signed and stored. */
export type ValidationReport = ReturnType<typeof buildValidationReport>;
