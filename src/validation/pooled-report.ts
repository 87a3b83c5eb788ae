/**
 * The report of a validation across hubs, pooled by the demonstration hub from what each hub released
 * (federated-validation.ts): the same sections as one hub's report, with the hubs as the `region` subgroup, each
 * hub's own sex and age-band tables, missing data summed, dataset shift per hub, net benefit and the calibration
 * curve from the hubs' summed counts (pooled-counts.ts), and the calibration fitted across the hubs by Newton rounds
 * (pooled-calibration.ts). Every pooled figure is derived from released values only. Docs: docs/validation.md,
 * "Across hubs".
 */
import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import { toPrecision } from '../privacy/index.js';
import type { AurocOutcome } from './federated-auroc.js';
import type { CalibrationOutcome } from './federated-calibration.js';
import type { FederatedParts, HubValidation, ScoreBin } from './federated-validation.js';
import type { ValidationManifest } from './manifest.js';
import { DEFAULT_THRESHOLDS } from './manifest.js';
import { AUROC_GRID } from './pooled-auroc.js';
import { pooledCurve, pooledNetBenefit } from './pooled-counts.js';
import type { Submission } from './submission-store.js';
import { MIN_EVENTS, reportHead, reportVerdict } from './validation-report.js';

/** The interval a bin's people are spread over in the pooled figures: around its mean, inside its edges. */
function spread(b: ScoreBin): [number, number] | null {
  if (b.meanLogit === null) return null;
  const m = b.meanLogit;
  const r = Math.min(b.lower === null ? Infinity : m - b.lower, b.upper === null ? Infinity : b.upper - m);
  return Number.isFinite(r) ? [m - r, m + r] : [m, m];
}

/** P(X > Y) for X uniform on `x` and Y uniform on `z` (an interval of width 0 is a point). */
function above(x: [number, number], z: [number, number]): number {
  const cdf = (v: number) =>
    z[1] === z[0] ? (v > z[0] ? 1 : v === z[0] ? 0.5 : 0) : Math.min(1, Math.max(0, (v - z[0]) / (z[1] - z[0])));
  if (x[1] === x[0]) return cdf(x[0]);
  const K = 64;
  let s = 0;
  for (let k = 0; k < K; k++) s += cdf(x[0] + ((k + 0.5) / K) * (x[1] - x[0]));
  return s / K;
}

/**
 * The pooled AUROC: pairs within a hub from the hub's own released AUROC, pairs across hubs from the histograms.
 * Across hubs, an event bin wholly above a non-event bin orders all their pairs; bins whose ranges overlap are
 * ordered with each bin's people spread evenly around its mean inside its edges, and those pairs are the
 * uncertainty: `bound` is the largest the error can be (their share of all pairs).
 */
export function pooledAuroc(parts: readonly HubValidation[]): { auroc: number; bound: number } | null {
  let wins = 0;
  let uncertain = 0;
  const e = (p: HubValidation) => p.report.sampleSize.events;
  const m = (p: HubValidation) => p.report.sampleSize.nonEvents;
  for (const p of parts) {
    const a = p.report.discrimination.auroc;
    if (a === null || e(p) === null || m(p) === null) return null;
    wins += a * e(p)! * m(p)!;
  }
  const pairs = parts.reduce((s, p) => s + e(p)!, 0) * parts.reduce((s, p) => s + m(p)!, 0);
  if (pairs === 0) return null;
  for (const h of parts) {
    for (const g of parts) {
      if (h === g) continue;
      for (const x of h.histogram.events) {
        for (const z of g.histogram.nonEvents) {
          const n = (x.n ?? 0) * (z.n ?? 0);
          if (n === 0) continue;
          const [xLow, xHigh] = [x.lower ?? -Infinity, x.upper ?? Infinity];
          const [zLow, zHigh] = [z.lower ?? -Infinity, z.upper ?? Infinity];
          if (xLow >= zHigh) wins += n;
          else if (xHigh > zLow) {
            uncertain += n;
            const sx = spread(x);
            const sz = spread(z);
            wins += sx === null || sz === null ? n / 2 : n * above(sx, sz);
          }
        }
      }
    }
  }
  return { auroc: wins / pairs, bound: uncertain / pairs };
}

/** Hanley & McNeil (1982): the AUROC's standard error from its value and the numbers of events and non-events. */
function hanleyMcNeil(a: number, events: number, nonEvents: number): [number, number] {
  const q1 = a / (2 - a);
  const q2 = (2 * a * a) / (1 + a);
  const v = (a * (1 - a) + (events - 1) * (q1 - a * a) + (nonEvents - 1) * (q2 - a * a)) / (events * nonEvents);
  const se = Math.sqrt(Math.max(0, v));
  return [Math.max(0, a - 1.96 * se), Math.min(1, a + 1.96 * se)];
}

const sum = (xs: readonly (number | null)[]) =>
  xs.some((x) => x === null) ? null : xs.reduce<number>((s, x) => s + x!, 0);

/** What the pooled report is built from. */
export interface PoolInputs {
  submission: Submission;
  manifest: ValidationManifest;
  gathered: FederatedParts;
  /** The calibration fitted across the parts' hubs by Newton rounds (`ValidationFederation.calibrate`). */
  calibration: CalibrationOutcome;
  /**
   * The AUROC pooled by secure products (`ValidationFederation.auroc`); absent, too few hubs or failed: the
   * histograms order the pairs across hubs.
   */
  auroc?: AurocOutcome;
  hubs: readonly string[];
  startedBy: string;
  createdAt: Date;
}

/** The pooled report, every figure derived from the hubs' released values, ready to sign. */
export function buildPooledReport(hub: Pick<Hub, 'gate' | 'config'>, inputs: PoolInputs) {
  const { gate } = hub;
  const { manifest } = inputs;
  const parts = inputs.gathered.parts;
  if (parts.length === 0) {
    throw new HealthmeshError(
      'DISCLOSURE_REFUSED',
      `no hub released a part of this validation (${inputs.gathered.failed.map((f) => `${f.hub}: ${f.remoteCode ?? f.kind}`).join('; ')})`,
    );
  }
  const precision = (v: number | null) => (v === null ? null : toPrecision(v, gate.precision));
  const n = sum(parts.map((p) => p.report.sampleSize.n));
  const events = sum(parts.map((p) => p.report.sampleSize.events));
  const nonEvents = sum(parts.map((p) => p.report.sampleSize.nonEvents));
  const secure = inputs.auroc !== undefined && 'auroc' in inputs.auroc ? inputs.auroc : null;
  const a = secure === null ? pooledAuroc(parts) : { auroc: secure.auroc, bound: null };
  const cal = 'fit' in inputs.calibration ? inputs.calibration.fit : null;
  const counts = parts.map((p) => ({
    hub: p.hub,
    n: p.report.sampleSize.n,
    events: p.report.sampleSize.events,
    netBenefit: p.counts.netBenefit,
    curve: p.counts.curve,
  }));
  const brier =
    n === null
      ? null
      : sum(
          parts.map((p) =>
            p.report.calibration.brier === null ? null : p.report.calibration.brier * p.report.sampleSize.n!,
          ),
        );
  const sufficient = events !== null && nonEvents !== null && events >= MIN_EVENTS && nonEvents >= MIN_EVENTS;
  const auroc = precision(a?.auroc ?? null);
  const ci =
    a === null || events === null || nonEvents === null
      ? null
      : (hanleyMcNeil(a.auroc, events, nonEvents).map(precision) as [number | null, number | null]);
  const region = parts.map((p) => ({
    group: p.hub,
    n: p.report.sampleSize.n,
    events: p.report.sampleSize.events,
    auroc: p.report.discrimination.auroc,
    aurocCi: p.report.discrimination.aurocCi,
    calibrationIntercept: p.report.calibration.intercept,
    calibrationSlope: p.report.calibration.slope,
    brier: p.report.calibration.brier,
  }));
  const gap = (xs: (number | null)[]) => {
    const shown = xs.filter((x): x is number => x !== null);
    return shown.length < 2 ? null : precision(Math.max(...shown) - Math.min(...shown));
  };
  const subgroups: Record<string, unknown> = {
    region: {
      groups: region,
      aurocGap: gap(region.map((g) => g.auroc)),
      calibrationInterceptGap: gap(region.map((g) => g.calibrationIntercept)),
    },
  };
  for (const p of parts) {
    for (const [name, table] of Object.entries(p.report.subgroups)) subgroups[`${name} at ${p.hub}`] = table;
  }
  const first = parts[0]!.report;
  const missingData = first.missingData.map((f, j) => {
    const missing = sum(parts.map((p) => p.report.missingData[j]?.missing ?? null));
    return {
      feature: f.feature,
      missing,
      share: missing === null || n === null || n === 0 ? null : precision(missing / n),
      handling: f.handling,
    };
  });
  const pooled = {
    ...reportHead(hub, inputs),
    federation: {
      asked: [...inputs.hubs],
      tookPart: parts.map((p) => p.hub),
      failed: inputs.gathered.failed,
      method: `each hub scored its own population in the sandbox and released its report, a score histogram by outcome (bins of at least the threshold of events and of non-events) and its counts at each threshold and on a fixed risk grid; pairs within a hub are ordered by its own AUROC, pairs across hubs ${secure === null ? 'by the histograms' : 'by secure scalar products computed by a third hub'}; the calibration is fitted across the hubs by Newton rounds on their exact sums`,
      aurocMethod: secure === null ? 'histogram' : 'secure-product',
      /** With secure products: the grid the pairs across hubs were counted on (pairs sharing a cell are halved). */
      aurocGrid:
        secure === null
          ? null
          : { cells: AUROC_GRID.cells, logitMin: AUROC_GRID.logitMin, logitMax: AUROC_GRID.logitMax },
      aurocFailed: inputs.auroc !== undefined && 'failed' in inputs.auroc ? inputs.auroc.failed : null,
      aurocMaxError: a === null || a.bound === null ? null : precision(a.bound),
      calibrationRounds: cal?.rounds ?? null,
      calibrationFailed: 'failed' in inputs.calibration ? inputs.calibration.failed : null,
    },
    population: {
      indexDate: first.population.indexDate,
      outcome: first.population.outcome,
      horizonDays: first.population.horizonDays,
      consentPurpose: first.population.consentPurpose,
      leftOutByConsent: sum(parts.map((p) => p.report.population.leftOutByConsent)),
    },
    sampleSize: {
      n,
      events,
      nonEvents,
      prevalence: events === null || n === null || n === 0 ? null : precision(events / n),
      sufficient,
      rule: `at least ${MIN_EVENTS} events and ${MIN_EVENTS} non-events (Collins et al. 2016)`,
    },
    discrimination: {
      auroc,
      aurocCi: ci,
      method: 'AUROC pooled from the hubs (see federation.method) with a 95% Hanley-McNeil interval',
    },
    calibration: {
      intercept: precision(cal?.intercept ?? null),
      slope: precision(cal?.slope ?? null),
      ici: precision(cal?.ici ?? null),
      brier: brier === null || n === null || n === 0 ? null : precision(brier / n),
      curve: pooledCurve(counts, gate.precision),
      method:
        "intercept with the log-odds as offset and slope by logistic recalibration, fitted across the hubs by Newton rounds on each hub's exact gradient and information (the fit on all their rows); ICI over that curve from each hub's mean gap weighted by its n; Brier weighted by the hubs' n; curve on a fixed grid of predicted risk, in the bins every hub's curve shares",
    },
    netBenefit: pooledNetBenefit(counts, manifest.thresholds ?? DEFAULT_THRESHOLDS, gate.precision),
    subgroups,
    missingData,
    datasetShift: parts.flatMap((p) =>
      p.report.datasetShift.map((d) => ({ ...d, feature: `${d.feature} at ${p.hub}` })),
    ),
    reportedPerformance: first.reportedPerformance,
    disclosure: first.disclosure,
    // The session handles were for this hub's rounds only.
    hubs: parts.map(({ session: _session, ...part }) => part),
  };
  return {
    // Sums, means and fits of the hubs' released values only: reissued as the peers released them.
    ...gate.reissue(pooled, 'peer').value,
    verdict: reportVerdict(
      manifest,
      auroc,
      ci,
      pooled.calibration.intercept,
      pooled.calibration.slope,
      sufficient,
      `the population of ${pooled.federation.tookPart.join(', ')}`,
    ),
  };
}

/** A pooled validation report as signed and stored. */
export type PooledValidationReport = ReturnType<typeof buildPooledReport>;
