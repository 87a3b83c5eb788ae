/**
 * A Kaplan–Meier curve and its cumulative incidence as they may leave the hub: read at regular times (every
 * `stepDays` from the index), each with the number still at risk released as a count by the release gate (null under
 * the threshold, otherwise rounded), and the curve's value only where it steps by at least the threshold's events.
 *
 * Why the last rule: between two released times the curve falls by a factor of about 1 − e/n, so with n at risk
 * known to the rounding and the value to the gate's precision, e — the events in between — can be read back. A time
 * is therefore released only when at least `threshold` events lie between it and the previous released time (the
 * events accumulate over withheld times) and at least `minContributors` are still at risk; otherwise its value is
 * `null`. Cumulative incidence is 1 − KM: one event type, no competing risks (the cohort language has no competing
 * outcome to give an Aalen–Johansen estimate).
 */

import type { Released, ReleasedCount, ReleaseGate } from '../privacy/index.js';
import { refusal } from '../privacy/index.js';

/** A released survival curve: per regular time, the released number at risk, survival and cumulative incidence. */
export interface ReleasedSurvival {
  /** The spacing of the times, in days. */
  stepDays: number;
  /** Days from index: 0, stepDays, 2·stepDays, … up to the last time anyone is at risk (at most `maxDays`). */
  days: number[];
  atRisk: ReleasedCount[];
  /** Kaplan–Meier S(t); null where withheld. */
  survival: (number | null)[];
  /** 1 − S(t); null where withheld. */
  cumulativeIncidence: (number | null)[];
  method: 'kaplan-meier; cumulative incidence = 1 - KM (one event type, no competing risks)';
}

/**
 * Release the curve of `times` (one per person: days to the outcome, or to censoring). The whole curve is refused
 * (`DISCLOSURE_REFUSED`, rule `threshold`, no number) when the people or their events are under the threshold.
 */
export function releaseSurvival(
  gate: ReleaseGate,
  times: readonly { days: number; event: boolean }[],
  options: { stepDays?: number; maxDays?: number } = {},
): Released<ReleasedSurvival> {
  const step = options.stepDays ?? 365;
  const threshold = gate.policy.threshold;
  const eventCount = times.reduce((n, t) => n + (t.event ? 1 : 0), 0);
  if (times.length < threshold || eventCount < threshold) throw refusal('threshold', 'this survival curve');
  const sorted = [...times].sort((a, b) => a.days - b.days);
  const last = Math.min(sorted[sorted.length - 1]!.days, options.maxDays ?? Number.POSITIVE_INFINITY);
  const days: number[] = [];
  for (let d = 0; d <= last; d += step) days.push(d);
  // S(d) = Π over event times u ≤ d of (1 − events(u)/atRisk(u)); walk the sorted times once.
  let i = 0;
  let atRiskNow = sorted.length;
  let s = 1;
  let eventsSinceReleased = 0;
  const atRisk: Released<ReleasedCount>[] = [];
  const survival: Released<number | null>[] = [];
  const incidence: Released<number | null>[] = [];
  for (const d of days) {
    while (i < sorted.length && sorted[i]!.days <= d) {
      const u = sorted[i]!.days;
      let events = 0;
      let leaving = 0;
      while (i < sorted.length && sorted[i]!.days === u) {
        if (sorted[i]!.event) events++;
        leaving++;
        i++;
      }
      if (events > 0) s *= 1 - events / atRiskNow;
      eventsSinceReleased += events;
      atRiskNow -= leaving;
    }
    // At risk at d: people whose time is at least d (those leaving at d were at risk at d).
    const n = sorted.length - lowerBound(sorted, d);
    atRisk.push(gate.count(n));
    const release = d === 0 || (eventsSinceReleased >= threshold && n >= gate.minContributors);
    if (release) eventsSinceReleased = 0;
    survival.push(gate.statistic(release ? s : null, n));
    incidence.push(gate.statistic(release ? 1 - s : null, n));
  }
  return gate.bundle({
    stepDays: gate.parameter(step, 'time step'),
    days: days.map((d) => gate.parameter(d, 'days from index')),
    atRisk,
    survival,
    cumulativeIncidence: incidence,
    method: 'kaplan-meier; cumulative incidence = 1 - KM (one event type, no competing risks)' as const,
  });
}

/** The index of the first time ≥ d in sorted times. */
function lowerBound(sorted: readonly { days: number }[], d: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.days < d) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
