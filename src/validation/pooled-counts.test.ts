import { describe, expect, it } from 'vitest';
import { seededRandom } from '../core/index.js';
import { ReleaseGate } from '../privacy/index.js';
import type { HubCounts } from './pooled-counts.js';
import { pooledCurve, pooledNetBenefit, releaseDecisionCounts, releaseRiskGrid } from './pooled-counts.js';

const gate = new ReleaseGate({ threshold: 10, rounding: 1, minCellSize: 10, precision: 12 });

function population(n: number, seed: number, shift = 0) {
  const rng = seededRandom(seed);
  const risks = Float64Array.from({ length: n }, () => Math.min(0.999, Math.max(0, rng.next() * 0.8 + shift)));
  const y = Uint8Array.from(risks, (p) => (rng.next() < p ? 1 : 0));
  return { risks, y };
}

function hubCounts(hub: string, risks: Float64Array, y: Uint8Array, thresholds: number[]): HubCounts {
  const events = y.reduce((s, v) => s + v, 0);
  return {
    hub,
    n: gate.count(y.length).value,
    events: gate.count(events).value,
    netBenefit: releaseDecisionCounts(risks, y, thresholds, gate).map((r) => gate.bundle(r).value),
    curve: gate.bundle(releaseRiskGrid(risks, y, gate)).value,
  };
}

describe('pooled net benefit and calibration curve', () => {
  it('withholds a threshold whose positives differ from a released one by a few people', () => {
    // Twenty people at each of 0.1 … 0.9, half events; one non-event at 0.55, alone between 0.55 and 0.56.
    const risks: number[] = [];
    const y: number[] = [];
    for (let k = 1; k <= 9; k++) {
      for (let i = 0; i < 20; i++) {
        risks.push(k / 10);
        y.push(i % 2);
      }
    }
    risks.push(0.55);
    y.push(0);
    const released = releaseDecisionCounts(risks, y, [0.56, 0.55, 0.3], gate).map((r) => gate.bundle(r).value);
    expect(released).toEqual([
      { threshold: 0.56, withheld: true },
      { threshold: 0.55, tp: 40, fp: 41 },
      { threshold: 0.3, tp: 70, fp: 71 },
    ]);
  });

  it('sums released counts into the rows’ net benefit and curve, and names hubs that withheld', () => {
    const thresholds = [0.02, 0.3, 0.5];
    const a = population(400, 1);
    const b = population(300, 2, 0.1);
    const pooled = pooledNetBenefit(
      [hubCounts('a', a.risks, a.y, thresholds), hubCounts('b', b.risks, b.y, thresholds)],
      thresholds,
      12,
    );
    const risks = [...a.risks, ...b.risks];
    const y = [...a.y, ...b.y];
    for (const [k, t] of thresholds.entries()) {
      if (k === 0) {
        // Under 0.02 hub b has no one (a few at a): too few false negatives, so the point is withheld.
        expect(pooled[k]).toMatchObject({ model: null });
        expect(pooled[k]!.withheldAt).toContain('b');
        continue;
      }
      let tp = 0;
      let fp = 0;
      risks.forEach((p, i) => {
        if (p >= t) y[i] === 1 ? tp++ : fp++;
      });
      expect(pooled[k]!.model).toBeCloseTo(tp / risks.length - (fp / risks.length) * (t / (1 - t)), 10);
    }
    const curve = pooledCurve([hubCounts('a', a.risks, a.y, thresholds), hubCounts('b', b.risks, b.y, thresholds)], 12);
    expect(curve.reduce((s, c) => s + c.n!, 0)).toBe(risks.length);
    for (const c of curve) {
      const last = c.upper === 1;
      const inBin = risks.flatMap((p, i) => (p >= c.lower && (p < c.upper || last) ? [i] : []));
      expect(c.n).toBe(inBin.length);
      expect(c.events).toBe(inBin.filter((i) => y[i] === 1).length);
      expect(c.meanPredicted).toBeCloseTo(inBin.reduce((s, i) => s + risks[i]!, 0) / inBin.length, 10);
    }
    // Every hub's own bins hold at least the threshold of events and of non-events.
    for (const bin of releaseRiskGrid(a.risks, a.y, gate).map((r) => gate.bundle(r).value)) {
      expect(bin.events).toBeGreaterThanOrEqual(10);
      expect(bin.n! - bin.events!).toBeGreaterThanOrEqual(10);
    }
    const withheld = hubCounts('c', a.risks, a.y, thresholds);
    withheld.curve = withheld.curve.map((c, i) => (i === 0 ? { ...c, meanPredicted: null } : c));
    expect(pooledCurve([withheld], 12)[0]).toMatchObject({ n: null, withheldAt: ['c'] });
  });
});
