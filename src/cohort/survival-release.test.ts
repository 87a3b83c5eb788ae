import { describe, expect, it } from 'vitest';
import { seededRandom } from '../core/index.js';
import { ReleaseGate, releaseCount } from '../privacy/index.js';
import { kaplanMeier } from './characterisation.js';
import { survivalHtml } from './survival-html.js';
import { releaseSurvival } from './survival-release.js';

const POLICY = { threshold: 10, rounding: 5, minCellSize: 10 };
const gate = new ReleaseGate(POLICY);

/** Seeded times: exponential time to event (median ~6 years) against uniform censoring over 10 years. */
function cohortTimes(n: number, seed: number) {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const event = Math.floor(-Math.log(1 - random.next()) * 3000);
    const censor = Math.floor(random.next() * 3650);
    return event <= censor ? { days: event, event: true } : { days: censor, event: false };
  });
}

/** S(d) from the product-limit points: the last point at or before d. */
function kmAt(points: ReturnType<typeof kaplanMeier>, d: number): number {
  let s = 1;
  for (const p of points) if (p.days <= d) s = p.survival;
  return s;
}

describe('the survival curve released through the gate', () => {
  it('releases the numbers at risk at each regular time as the gate releases that count, computed directly', () => {
    const times = cohortTimes(400, 20);
    const r = releaseSurvival(gate, times, { stepDays: 365 }).value;
    expect(r.days[0]).toBe(0);
    expect(r.days.every((d, k) => d === k * 365)).toBe(true);
    r.days.forEach((d, k) => {
      const direct = times.filter((t) => t.days >= d).length;
      expect(r.atRisk[k], `at risk at day ${d}`).toBe(releaseCount(direct, POLICY));
    });
    // A tail where fewer than the threshold remain is suppressed rather than rounded.
    const tail = releaseSurvival(gate, [...times, { days: 5000, event: false }], { stepDays: 365 }).value;
    expect(tail.atRisk.at(-1)).toBeNull();
  });

  it('gives Kaplan–Meier and 1 − KM where at least the threshold of events lie since the last released time', () => {
    const times = cohortTimes(400, 20);
    const points = kaplanMeier(times);
    const r = releaseSurvival(gate, times, { stepDays: 90 }).value;
    let previous = 0;
    let withheld = 0;
    r.days.forEach((d, k) => {
      const s = r.survival[k] ?? null;
      if (s === null) {
        withheld++;
        expect(r.cumulativeIncidence[k]).toBeNull();
        return;
      }
      expect(Math.abs(s - kmAt(points, d))).toBeLessThan(5e-3); // the gate's precision grid
      expect(Math.abs((r.cumulativeIncidence[k] ?? Number.NaN) - (1 - kmAt(points, d)))).toBeLessThan(5e-3);
      if (d > 0) {
        const events = times.filter((t) => t.event && t.days > previous && t.days <= d).length;
        expect(events).toBeGreaterThanOrEqual(POLICY.threshold);
      }
      previous = d;
    });
    // With quarter-year steps some times hold fewer than the threshold's events and are withheld.
    expect(withheld).toBeGreaterThan(0);
    expect(survivalHtml(r, 'test')).toContain('<path class="survival" d="M');
  });

  it('refuses the whole curve, with no number, when the events are under the threshold', () => {
    const times = [...Array.from({ length: 50 }, () => ({ days: 400, event: false })), { days: 30, event: true }];
    let caught: unknown;
    try {
      releaseSurvival(gate, times);
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({ code: 'DISCLOSURE_REFUSED' });
    expect((caught as Error).message).not.toMatch(/\d/);
  });
});
