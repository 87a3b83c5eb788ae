import type { PeerFigures } from '../federation/index.js';
import type { HubValidation } from './federated-validation.js';
import { LOGIT_GRID } from './federated-validation.js';
import type { ValidationManifest } from './manifest.js';
import { DEFAULT_THRESHOLDS } from './manifest.js';
import { checkPeerCounts } from './pooled-counts.js';

/** The subgroup tables one hub's report holds (`buildValidationReport`'s groupings). */
const SUBGROUPS = ['ageBand', 'sex'];
/** The calibration curve is by tenths of predicted risk. */
const CURVE_BINS = 10;

const probability = { min: 0, max: 1 };

/** One subgroup table: each group withheld, or its counts released and its figures in range. */
function checkSubgroup(f: PeerFigures, value: unknown, path: string): void {
  const table = f.object(value, path);
  f.list(table.groups, `${path}.groups`).forEach((g, i) => {
    const at = `${path}.groups[${i}]`;
    const group = f.object(g, at);
    f.text(group.group, `${at}.group`);
    if (group.withheld === true) return;
    f.count(group.n, `${at}.n`);
    f.count(group.events, `${at}.events`);
    f.numberOrNull(group.auroc, `${at}.auroc`, probability);
    f.numberOrNull(group.brier, `${at}.brier`, probability);
    f.numberOrNull(group.calibrationIntercept, `${at}.calibrationIntercept`);
    f.numberOrNull(group.calibrationSlope, `${at}.calibrationSlope`);
  });
}

/**
 * One outcome's score histogram: bins in order from an open lower end to an open upper end, each edge on the
 * log-odds grid and each bin's lower edge the upper edge of the one before, every count one this hub releases,
 * each mean inside its bin; their sum no more than the outcome's count allows
 * (the pooled calibration expands every bin into its people, so an inflated count is a wrong figure and a cost).
 */
function checkHistogram(f: PeerFigures, value: unknown, path: string, total: number | null): void {
  const bins = f.list(value, path);
  if (bins.length === 0) f.fail(path, 'has no bins');
  let previous: number | null = null;
  let sum = 0;
  bins.forEach((b, i) => {
    const at = `${path}[${i}]`;
    const bin = f.object(b, at);
    const lower = i === 0 ? null : f.number(bin.lower, `${at}.lower`);
    if (i === 0 && bin.lower !== null) f.fail(`${at}.lower`, 'is not open (null)');
    if (i > 0 && lower !== previous) f.fail(`${at}.lower`, `is ${lower}, not the upper edge before it (${previous})`);
    const last = i === bins.length - 1;
    const upper = last ? null : f.number(bin.upper, `${at}.upper`);
    if (last && bin.upper !== null) f.fail(`${at}.upper`, 'is not open (null)');
    if (upper !== null) {
      if (Math.abs(upper / LOGIT_GRID - Math.round(upper / LOGIT_GRID)) > 1e-6)
        f.fail(`${at}.upper`, `is ${upper}, off the grid`);
      if (lower !== null && upper <= lower) f.fail(`${at}.upper`, `is ${upper}, not above its lower edge ${lower}`);
    }
    previous = upper;
    sum += f.shownCount(bin.n, `${at}.n`);
    f.numberOrNull(bin.meanLogit, `${at}.meanLogit`, {
      ...(lower !== null && { min: lower }),
      ...(upper !== null && { max: upper }),
    });
    f.numberOrNull(bin.sdLogit, `${at}.sdLogit`, { min: 0 });
  });
  // Each bin is rounded on its own: the sum may pass the rounded total by at most half a base per bin.
  if (total !== null && sum > total + f.policy.rounding * bins.length)
    f.fail(path, `holds ${sum} people, more than the ${total} the report counts`);
}

/**
 * Why a peer's `validation.score` answer is usable, or a `PeerFigures` failure naming why not: a part for the hub
 * that signed it, its report's sample size, calibration curve, subgroup tables and missing data shaped as this
 * version builds them for `manifest`, every count one this hub releases, every figure finite and in range, its
 * histograms as `checkHistogram` describes, its counts as `checkPeerCounts` does, and its session a handle.
 */
export function checkPeerValidation(
  f: PeerFigures,
  value: unknown,
  signer: string,
  manifest: ValidationManifest,
): HubValidation {
  const part = f.object(value, 'result');
  if (part.hub !== signer) f.fail('hub', `is ${JSON.stringify(part.hub)}, not the hub that signed the answer`);
  const report = f.object(part.report, 'report');
  const size = f.object(report.sampleSize, 'report.sampleSize');
  const n = f.count(size.n, 'report.sampleSize.n');
  const events = f.count(size.events, 'report.sampleSize.events');
  const nonEvents = f.count(size.nonEvents, 'report.sampleSize.nonEvents');
  f.count(f.object(report.population, 'report.population').leftOutByConsent, 'report.population.leftOutByConsent');
  const discrimination = f.object(report.discrimination, 'report.discrimination');
  f.numberOrNull(discrimination.auroc, 'report.discrimination.auroc', probability);
  if (discrimination.aurocCi !== null)
    f.list(discrimination.aurocCi, 'report.discrimination.aurocCi', 2).forEach((v, i) => {
      f.numberOrNull(v, `report.discrimination.aurocCi[${i}]`, probability);
    });
  const calibration = f.object(report.calibration, 'report.calibration');
  f.numberOrNull(calibration.intercept, 'report.calibration.intercept');
  f.numberOrNull(calibration.slope, 'report.calibration.slope');
  f.numberOrNull(calibration.brier, 'report.calibration.brier', probability);
  const curve = f.list(calibration.curve, 'report.calibration.curve');
  if (curve.length > CURVE_BINS)
    f.fail('report.calibration.curve', `has ${curve.length} bins, more than ${CURVE_BINS}`);
  curve.forEach((b, i) => {
    const bin = f.object(b, `report.calibration.curve[${i}]`);
    f.count(bin.n, `report.calibration.curve[${i}].n`);
    f.numberOrNull(bin.meanPredicted, `report.calibration.curve[${i}].meanPredicted`, probability);
    f.numberOrNull(bin.observed, `report.calibration.curve[${i}].observed`, probability);
  });
  const subgroups = f.object(report.subgroups, 'report.subgroups');
  const names = Object.keys(subgroups).sort();
  if (names.join() !== SUBGROUPS.join())
    f.fail('report.subgroups', `are ${names.join(', ') || 'none'}, not ${SUBGROUPS.join(', ')}`);
  for (const name of names) checkSubgroup(f, subgroups[name], `report.subgroups.${name}`);
  const features = manifest.featureSpec.features;
  f.list(report.missingData, 'report.missingData', features.length).forEach((m, j) => {
    const at = `report.missingData[${j}]`;
    const row = f.object(m, at);
    if (row.feature !== features[j]!.name) f.fail(`${at}.feature`, `is not ${features[j]!.name}`);
    // A feature computed for everyone reports 0 missing as a fact of its definition, not as a count.
    if (row.missing !== 0) f.count(row.missing, `${at}.missing`);
  });
  f.list(report.datasetShift, 'report.datasetShift').forEach((d, i) => {
    f.object(d, `report.datasetShift[${i}]`);
  });
  const histogram = f.object(part.histogram, 'histogram');
  checkHistogram(f, histogram.events, 'histogram.events', events);
  checkHistogram(f, histogram.nonEvents, 'histogram.nonEvents', nonEvents);
  const counts = checkPeerCounts(f, part.counts, manifest.thresholds ?? DEFAULT_THRESHOLDS);
  const people = counts.curve.reduce((s, b) => s + (b.n ?? 0), 0);
  if (n !== null && people > n + f.policy.rounding * counts.curve.length)
    f.fail('counts.curve', `holds ${people} people, more than the ${n} the report counts`);
  if (part.session !== undefined && !/^[0-9a-f]{32}$/.test(f.text(part.session, 'session')))
    f.fail('session', 'is not a session handle');
  return value as HubValidation;
}
