import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isHealthmeshError } from '../core/index.js';
import { isReleased, Released, ReleaseGate, refusal, toPrecision } from './release-gate.js';

const gate = new ReleaseGate({ threshold: 10, rounding: 5, minCellSize: 10 });

describe('release gate', () => {
  it('releases counts suppressed under the threshold and rounded above it', () => {
    expect(gate.count(9).value).toBeNull();
    expect(gate.count(0).value).toBeNull();
    expect(gate.count(23).value).toBe(25);
    expect(isReleased(gate.count(23))).toBe(true);
  });

  it('serialises a released value as the value itself', () => {
    expect(JSON.stringify({ a: gate.count(23) })).toBe('{"a":25}');
  });

  it('cannot be constructed outside the gate', () => {
    const Forged = Released as unknown as new (m: symbol, v: unknown, r: string[]) => Released<number>;
    expect(() => new Forged(Symbol('release-gate'), 3, [])).toThrow();
  });

  it('withholds a mean over fewer contributors than the minimum, and puts the rest on the precision grid', () => {
    expect(gate.summary({ n: 9, mean: 5.4321 }).value).toMatchObject({ n: null, withheld: ['mean'] });
    const s = gate.summary({ n: 24, mean: 5.43219, sd: 1.23456 }).value;
    expect(s).toMatchObject({ n: 25, mean: 5.43, sd: 1.23 });
  });

  it('withholds a statistic when the two largest contributions dominate the total', () => {
    const dominated = gate.summary({ n: 30, mean: 100, dominance: { largestTwo: 2700, absoluteTotal: 3000 } });
    expect(dominated.value.mean).toBeUndefined();
    expect(dominated.value.withheld).toContain('mean');
    const spread = gate.summary({ n: 30, mean: 100, dominance: { largestTwo: 300, absoluteTotal: 3000 } });
    expect(spread.value.mean).toBe(100);
  });

  it('releases a metric only when people, events and non-events each reach the threshold', () => {
    expect(gate.metric(0.81234, { n: 100, events: 9 }).value).toBeNull();
    expect(gate.metric(0.81234, { n: 100, events: 95 }).value).toBeNull();
    expect(gate.metric(0.81234, { n: 100, events: 20 }).value).toBe(0.812);
  });

  it('derives a ratio from the released parts, never from the exact ones', () => {
    // 12 events of 97 rows: exact prevalence 0.1237…; released parts 10 and 95.
    const r = gate.ratio(gate.count(12), gate.count(97));
    expect(r.value).toBe(toPrecision(10 / 95, 3));
    expect(gate.ratio(gate.count(4), gate.count(97)).value).toBeNull();
  });

  it('assembles released parts and text, and refuses a raw number anywhere in a bundle', () => {
    const b = gate.bundle({ name: 'x', persons: gate.count(40), rows: [{ label: 'a', n: gate.count(12) }] });
    expect(b.value).toEqual({ name: 'x', persons: 40, rows: [{ label: 'a', n: 10 }] });
    const raw = { name: 'x', rows: [{ n: 12 }] } as unknown as Parameters<typeof gate.bundle>[0];
    try {
      gate.bundle(raw);
      expect.unreachable();
    } catch (e) {
      expect(isHealthmeshError(e) && e.code).toBe('DISCLOSURE_UNGATED');
    }
    expect(() => gate.bundle({ when: new Date() } as unknown as Parameters<typeof gate.bundle>[0])).toThrow();
  });

  it('refuses with the rule and no number', () => {
    const e = refusal('differencing', 'this release');
    expect(e.code).toBe('DISCLOSURE_DIFFERENCING');
    expect(e.message).not.toMatch(/\d/);
    expect(refusal('min-contributors', 'the feature summary').code).toBe('DISCLOSURE_REFUSED');
  });

  it('never releases a count under the threshold nor a statistic over fewer than the minimum (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 500 }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.integer({ min: 2, max: 20 }),
        (n, mean, threshold) => {
          const g = new ReleaseGate({ threshold, rounding: 5, minCellSize: threshold });
          const c = g.count(n).value;
          if (n < threshold) expect(c).toBeNull();
          else expect(c! % 5).toBe(0);
          const s = g.summary({ n, mean }).value;
          if (n < threshold) expect(s.mean).toBeUndefined();
        },
      ),
      { seed: 14, numRuns: 300 },
    );
  });

  it('releases an exact model update only over enough rows, events, non-events and contributors per feature', () => {
    const support = { rows: 200, events: 40, features: [{ name: 'age', contributors: 200 }] };
    const sums = { sums: [1234.5678] };
    expect(gate.modelUpdate(sums, support).value).toEqual(sums); // exact: a pooled fit needs the exact sums
    for (const thin of [
      { ...support, events: 9 },
      { ...support, events: 195 },
      { ...support, features: [{ name: 'wearable', contributors: 4 }] },
      { ...support, features: [{ name: 'rare', contributors: 200, groups: [197, 3] }] },
    ]) {
      try {
        gate.modelUpdate(sums, thin);
        expect.unreachable();
      } catch (e) {
        expect(isHealthmeshError(e) && e.code).toBe('DISCLOSURE_REFUSED');
        expect((e as Error).message).not.toMatch(/\d/);
      }
    }
    // A feature nobody recorded describes no one: a hub without wearables still takes part.
    expect(() => gate.modelUpdate(sums, { ...support, features: [{ name: 'w', contributors: 0 }] })).not.toThrow();
  });

  it('puts a prediction on the precision grid, and refuses it for a model fitted to too few', () => {
    const support = { rows: 200, events: 40, features: [{ name: 'age', contributors: 200 }] };
    expect(gate.prediction(0.0123456, support).value).toBe(0.0123);
    expect(() => gate.prediction(0.5, { ...support, features: [{ name: 'w', contributors: 4 }] })).toThrow();
  });

  it('computes from released values only', () => {
    const r = gate.fromReleased([gate.count(12), gate.count(97)], ([a, b]) => [a, b], 'derived-ratio');
    expect(r.value).toEqual([10, 95]);
    expect(r.rules).toEqual(['derived-ratio']);
  });

  it('releases the parts of a one-way count with complementary suppression, so a small part hides its complement', () => {
    const small = gate.countParts({ recorded: 4, missing: 596 });
    expect([small.parts.recorded.value, small.parts.missing.value, small.total.value]).toEqual([null, null, 600]);
    const fine = gate.countParts({ recorded: 120, missing: 480 });
    expect([fine.parts.recorded.value, fine.parts.missing.value]).toEqual([120, 480]);
  });
});
