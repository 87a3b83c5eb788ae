import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../../test/support/error-code.js';
import { simulateRisk } from '../../test/support/simulated-risk.js';
import {
  bandLabeller,
  brierScore,
  calibrationCurve,
  calibrationFit,
  evaluatePredictions,
  evaluationHtml,
  featureMatrixFromRows,
  groupingFromColumn,
  personSplit,
  randomSplit,
  rocAnalysis,
  seededRandom,
  temporalSplit,
} from './index.js';
import { ascendingOrder } from './roc-metrics.js';

/** DeLong by definition: O(n₀n₁) placement values with ψ = 1, ½, 0. */
function bruteForceDeLong(s: number[], y: number[]): { auc: number; se: number } {
  const pos = s.filter((_, i) => y[i] === 1);
  const neg = s.filter((_, i) => y[i] === 0);
  const psi = (a: number, b: number) => (a > b ? 1 : a === b ? 0.5 : 0);
  const v10 = pos.map((a) => neg.reduce((t, b) => t + psi(a, b), 0) / neg.length);
  const v01 = neg.map((b) => pos.reduce((t, a) => t + psi(a, b), 0) / pos.length);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const variance = (v: number[]) => {
    const m = mean(v);
    return v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
  };
  return { auc: mean(v10), se: Math.sqrt(variance(v10) / pos.length + variance(v01) / neg.length) };
}

function hasNaN(value: unknown): boolean {
  if (typeof value === 'number') return Number.isNaN(value);
  if (Array.isArray(value)) return value.some(hasNaN);
  if (value && typeof value === 'object') return Object.values(value).some(hasNaN);
  return false;
}

describe('discrimination metrics', () => {
  it('gives the textbook AUROC and average precision of a four-row example', () => {
    const r = rocAnalysis([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(r.auroc).toBeCloseTo(0.75, 12);
    expect(r.auprc).toBeCloseTo(5 / 6, 12);
    expect(r.curve.fpr[0]).toBe(0);
    expect(r.curve.tpr.at(-1)).toBe(1);
  });

  it('equals DeLong by definition, ties included', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 1 })), {
          minLength: 4,
          maxLength: 80,
        }),
        (pairs) => {
          const s = pairs.map(([v]) => v / 6);
          const y = pairs.map(([, c]) => c);
          const pos = y.filter((v) => v === 1).length;
          fc.pre(pos >= 2 && pos <= y.length - 2);
          const fast = rocAnalysis(s, y);
          const slow = bruteForceDeLong(s, y);
          expect(fast.auroc).toBeCloseTo(slow.auc, 12);
          expect(fast.aurocSe).toBeCloseTo(slow.se, 12);
          expect(fast.aurocCi[0]).toBeLessThanOrEqual(fast.auroc);
          expect(fast.aurocCi[1]).toBeGreaterThanOrEqual(fast.auroc);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses mismatched, empty or NaN predictions', () => {
    expect(codeOf(() => rocAnalysis([0.1], [0, 1]))).toBe('MODEL_SHAPE_MISMATCH');
    expect(codeOf(() => rocAnalysis([], []))).toBe('MODEL_EMPTY_DATA');
    expect(codeOf(() => rocAnalysis([0.1, Number.NaN], [0, 1]))).toBe('MODEL_MISSING_VALUE');
    expect(codeOf(() => rocAnalysis([0.1, 0.2], [1, 1]))).toBe('MODEL_SINGLE_CLASS');
  });
});

describe('calibration', () => {
  const { risk, matrix } = simulateRisk(40_000, 3, 8);
  const y = matrix.outcome!;
  const logit = (p: number) => Math.log(p / (1 - p));
  const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

  it('finds intercept 0 and slope 1 for the true risk, slope ½ for doubled log-odds, and a shift', () => {
    const truth = calibrationFit(risk, y);
    expect(Math.abs(truth.intercept)).toBeLessThan(0.05);
    expect(Math.abs(truth.slope - 1)).toBeLessThan(0.05);
    const overfit = calibrationFit(
      risk.map((p) => sigmoid(2 * logit(p))),
      y,
    );
    expect(Math.abs(overfit.slope - 0.5)).toBeLessThan(0.03);
    const shifted = calibrationFit(
      risk.map((p) => sigmoid(logit(p) + 0.7)),
      y,
    );
    expect(Math.abs(shifted.intercept + 0.7)).toBeLessThan(0.05);
  });

  it('groups deciles of predicted risk of equal size and computes the Brier score', () => {
    const bins = calibrationCurve(risk, y);
    expect(bins).toHaveLength(10);
    expect(bins.reduce((a, b) => a + b.n, 0)).toBe(y.length);
    for (let k = 1; k < bins.length; k++) expect(bins[k]!.meanPredicted).toBeGreaterThan(bins[k - 1]!.meanPredicted);
    for (const b of bins) expect(Math.abs(b.observed - b.meanPredicted)).toBeLessThan(0.03);
    expect(brierScore([0.2, 0.9], [0, 1])).toBeCloseTo((0.04 + 0.01) / 2, 12);
  });
});

describe('one sort for every figure', () => {
  const bySort = (s: ArrayLike<number>) => {
    const o = Uint32Array.from({ length: s.length }, (_, i) => i);
    return o.sort((a, b) => s[a]! - s[b]! || a - b);
  };

  it('orders large inputs by radix exactly as the comparison sort does: ties by row, negatives, −0, extremes', () => {
    const pool = [0, -0, 1, -1, 0.5, 1e-300, -1e-300, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 0.1 + 0.2, 0.3];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...pool), fc.double({ noNaN: true })), { minLength: 4096, maxLength: 6000 }),
        (values) => {
          const s = Float64Array.from(values);
          expect(Array.from(ascendingOrder(s))).toEqual(Array.from(bySort(s)));
        },
      ),
      { numRuns: 20 },
    );
    // Risks: many equal scores, as a model with few inputs gives.
    const { risk } = simulateRisk(20_000, 2, 5);
    const coarse = risk.map((p) => Math.round(p * 200) / 200);
    expect(Array.from(ascendingOrder(coarse))).toEqual(Array.from(bySort(coarse)));
  });

  it('gives each subgroup the figures it has when evaluated on its own rows', () => {
    const { risk, matrix } = simulateRisk(12_000, 2, 8);
    const y = matrix.outcome!;
    const coarse = risk.map((p) => Math.round(p * 500) / 500);
    const labels = Array.from({ length: y.length }, (_, i) => ['a', 'b', 'c'][(i * 7919) % 3]!);
    const report = evaluatePredictions(coarse, y, { groupings: [{ name: 'g', labels }] });
    for (const g of report.subgroups.g!) {
      const idx = labels.flatMap((l, i) => (l === g.group ? [i] : []));
      const alone = evaluatePredictions(
        idx.map((i) => coarse[i]!),
        idx.map((i) => y[i]!),
      );
      expect({ ...g, group: undefined }).toEqual({ ...alone.overall, group: undefined });
    }
  });
});

describe('evaluation report', () => {
  const { risk, matrix } = simulateRisk(3000, 2, 12);
  const y = matrix.outcome!;

  it('repeats every metric by subgroup and reports unestimable metrics as null with a reason', () => {
    const sex = Array.from({ length: y.length }, (_, i) => (i % 2 === 0 ? 'female' : 'male'));
    // A region where everyone has the outcome: AUROC cannot be estimated there.
    const rows = Array.from({ length: y.length }, (_, i) => [y[i] === 1 && i % 7 === 0 ? 1 : 0, 30 + (i % 50)]);
    const m = featureMatrixFromRows(['tiny', 'age'], rows, y);
    const region = groupingFromColumn(m, 'tiny', (v) => (v === 1 ? 'island' : 'mainland'), 'region');
    const age = groupingFromColumn(m, 'age', bandLabeller([40, 60]), 'age band');
    const report = evaluatePredictions(risk, y, { groupings: [{ name: 'sex', labels: sex }, region, age] });
    expect(report.subgroups.sex!.map((g) => g.group)).toEqual(['female', 'male']);
    expect(report.subgroups['age band']!.map((g) => g.group).sort()).toEqual(['40–60', '<40', '≥60'].sort());
    expect(report.subgroups.sex!.reduce((a, g) => a + g.n, 0)).toBe(y.length);
    const island = report.subgroups.region!.find((g) => g.group === 'island')!;
    expect(island.auroc).toBeNull();
    expect(island.notes[0]).toMatch(/one outcome class/);
    expect(report.subgroups.region!.find((g) => g.group === 'mainland')!.auroc).toBeGreaterThan(0.5);
    expect(hasNaN(report)).toBe(false);
    // JSON round trip loses nothing (no NaN or Infinity turned into null).
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('renders a self-contained HTML page with ROC and calibration plots', () => {
    const report = evaluatePredictions(risk, y, {
      groupings: [{ name: 'site <b>', labels: Array.from({ length: y.length }, (_, i) => `s${i % 3}`) }],
    });
    const html = evaluationHtml(report, 'Test & report');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg /g)).toHaveLength(2);
    expect(html).toContain('<polyline');
    expect(html).toContain('Test &#38; report');
    expect(html).toContain('By site &#60;b&#62;');
    // Nothing fetched from elsewhere: the only URL is the SVG namespace.
    expect(html.replaceAll('http://www.w3.org/2000/svg', '')).not.toMatch(/https?:|<script|<link|url\(/);
  });
});

describe('splits', () => {
  it('splits at random, disjoint and complete, reproducibly, keeping prevalence when stratified', () => {
    const y = Array.from({ length: 1000 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    const a = randomSplit(1000, 0.3, seededRandom(1), y);
    const b = randomSplit(1000, 0.3, seededRandom(1), y);
    expect(Array.from(a.test)).toEqual(Array.from(b.test));
    expect(new Set([...a.train, ...a.test]).size).toBe(1000);
    expect(a.test.length).toBe(300);
    expect(Array.from(a.test).filter((i) => y[i] === 1).length).toBe(60);
    const plain = randomSplit(10, 0.25, seededRandom(2));
    expect(plain.test.length).toBe(2);
    expect(codeOf(() => randomSplit(10, 1, seededRandom(1)))).toBe('MODEL_INVALID_OPTION');
    expect(codeOf(() => randomSplit(2, 0.3, seededRandom(1)))).toBe('MODEL_INVALID_OPTION');
  });

  it('splits by person: the main-date rows as randomSplit does, no held-out person in training at any date', () => {
    // 400 people at the main date, some of them also at two earlier dates, and 50 people only at earlier dates.
    const person: string[] = [];
    const main: boolean[] = [];
    const y: number[] = [];
    for (let p = 0; p < 450; p++) {
      const dates = p >= 400 ? 2 : p % 3;
      for (let d = 0; d < dates; d++) {
        person.push(`p${p}`);
        main.push(false);
        y.push(p % 7 === 0 ? 1 : 0);
      }
      if (p < 400) {
        person.push(`p${p}`);
        main.push(true);
        y.push(p % 5 === 0 ? 1 : 0);
      }
    }
    const s = personSplit(person, main, 0.4, seededRandom(3), y);
    const mainRows = main.flatMap((m, i) => (m ? [i] : []));
    const plain = randomSplit(
      mainRows.length,
      0.4,
      seededRandom(3),
      mainRows.map((i) => y[i]!),
    );
    expect(Array.from(s.test)).toEqual(Array.from(plain.test, (j) => mainRows[j]!));
    const heldOut = new Set(Array.from(s.test, (i) => person[i]));
    expect(Array.from(s.train).some((i) => heldOut.has(person[i]!))).toBe(false);
    // Every row of a person not held out trains, whatever its date; the 50 earlier-only people among them.
    expect(s.train.length + Array.from(person.keys()).filter((i) => heldOut.has(person[i]!)).length).toBe(
      person.length,
    );
    expect(new Set(Array.from(s.train, (i) => person[i])).has('p420')).toBe(true);
    expect(codeOf(() => personSplit(person, main.slice(1), 0.4, seededRandom(3)))).toBe('MODEL_SHAPE_MISMATCH');
  });

  it('splits by time: the test side lies at or after the cutoff', () => {
    const times = [5, 1, 9, 3, 7];
    const s = temporalSplit(times, 5);
    expect(Array.from(s.train)).toEqual([1, 3]);
    expect(Array.from(s.test)).toEqual([0, 2, 4]);
    expect(codeOf(() => temporalSplit(times, 100))).toBe('MODEL_INVALID_OPTION');
    expect(codeOf(() => temporalSplit([1, Number.NaN], 1))).toBe('MODEL_MISSING_VALUE');
  });
});
