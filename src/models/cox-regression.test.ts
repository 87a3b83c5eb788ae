import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeWithSharedData, sharedPath } from '../../test/support/shared-data.js';
import type { CoxTies } from './index.js';
import { coxCalibration, fitCox } from './index.js';

const COVARIATES = ['age', 'female', 'ph.ecog', 'ph.karno', 'wt.loss'];

/** lung.csv's complete cases on the reference model's columns, in file order (the reference's header). */
function lungCompleteCases(): { x: number[][]; time: number[]; event: boolean[] } {
  const [header, ...lines] = readFileSync(sharedPath('risk/lung.csv'), 'utf8').trim().split('\n');
  const cols = header!.split(',').map((c) => c.replaceAll('"', ''));
  const at = (name: string): number => cols.indexOf(name);
  const out = { x: [] as number[][], time: [] as number[], event: [] as boolean[] };
  for (const line of lines) {
    const f = line.split(',');
    const value = (name: string): number => (f[at(name)] === '' ? Number.NaN : Number(f[at(name)]));
    const row = [value('age'), value('sex') === 2 ? 1 : 0, value('ph.ecog'), value('ph.karno'), value('wt.loss')];
    if (row.some(Number.isNaN) || Number.isNaN(value('sex'))) continue;
    out.x.push(row);
    out.time.push(value('time'));
    out.event.push(value('status') === 2);
  }
  return out;
}

interface ReferenceFit {
  n: number;
  events: number;
  coef: Record<string, number>;
  se: Record<string, number>;
  loglik_null: number;
  loglik: number;
  concordance: number;
  cumhaz_baseline_at_365_uncentred: number;
  first5_risk365: number[];
}

describeWithSharedData('Cox proportional hazards against R survival::coxph on the NCCTG lung data', () => {
  const reference = JSON.parse(readFileSync(sharedPath('risk/reference_cox_lung.json'), 'utf8')) as Record<
    CoxTies,
    ReferenceFit
  >;
  const lung = lungCompleteCases();
  for (const ties of ['efron', 'breslow'] as const) {
    it(`reproduces coefficients, SEs, log-likelihoods, concordance, H0(365) and 365-day risks (${ties} ties)`, () => {
      const ref = reference[ties];
      const fit = fitCox(lung.x, lung.time, lung.event, COVARIATES, { ties });
      expect(fit.n).toBe(ref.n);
      expect(fit.events).toBe(ref.events);
      for (const c of fit.coefficients) {
        expect(Math.abs(c.estimate - ref.coef[c.name]!)).toBeLessThan(1e-6);
        expect(Math.abs(c.se - ref.se[c.name]!)).toBeLessThan(1e-6);
        expect(c.lower).toBeCloseTo(c.estimate - 1.959963984540054 * c.se, 12);
      }
      expect(Math.abs(fit.logLik - ref.loglik)).toBeLessThan(1e-6);
      expect(Math.abs(fit.logLikNull - ref.loglik_null)).toBeLessThan(1e-6);
      expect(fit.aic).toBeCloseTo(-2 * ref.loglik + 2 * COVARIATES.length, 5);
      expect(Math.abs(fit.concordance - ref.concordance)).toBeLessThan(1e-4);
      expect(Math.abs(fit.cumulativeHazardAt(365) - ref.cumhaz_baseline_at_365_uncentred)).toBeLessThan(1e-6);
      ref.first5_risk365.forEach((risk, i) => {
        expect(Math.abs(fit.riskAt(lung.x[i]!, 365) - risk)).toBeLessThan(1e-6);
      });
    });
  }

  it('reports Wald p-values that match the z statistics (ph.ecog: z ≈ 3.87, p ≈ 1.1e-4)', () => {
    const fit = fitCox(lung.x, lung.time, lung.event, COVARIATES);
    const ecog = fit.coefficients.find((c) => c.name === 'ph.ecog')!;
    // R's summary(coxph): z = 3.869, Pr(>|z|) = 0.000109.
    expect(ecog.estimate / ecog.se).toBeCloseTo(3.8687, 3);
    expect(ecog.p).toBeGreaterThan(1.0e-4);
    expect(ecog.p).toBeLessThan(1.2e-4);
    const age = fit.coefficients.find((c) => c.name === 'age')!;
    expect(age.p).toBeGreaterThan(0.1);
    expect(age.p).toBeLessThan(0.13);
  });

  it('calibrates at one year: predicted risk per bin against the Kaplan–Meier observed risk', () => {
    const fit = fitCox(lung.x, lung.time, lung.event, COVARIATES);
    const bins = coxCalibration(fit, lung.x, lung.time, lung.event, 365, 5);
    expect(bins).toHaveLength(5);
    expect(bins.reduce((s, b) => s + b.n, 0)).toBe(lung.x.length);
    for (let k = 1; k < bins.length; k++) expect(bins[k]!.predicted).toBeGreaterThan(bins[k - 1]!.predicted);
    // A model fitted on these rows is calibrated in the large on them and ranks the bins' observed risk.
    const meanPredicted = bins.reduce((s, b) => s + b.predicted * b.n, 0) / lung.x.length;
    const meanObserved = bins.reduce((s, b) => s + b.observed * b.n, 0) / lung.x.length;
    expect(Math.abs(meanPredicted - meanObserved)).toBeLessThan(0.05);
    expect(bins[4]!.observed).toBeGreaterThan(bins[0]!.observed + 0.2);
  });
});

describe('Cox proportional hazards on bad input', () => {
  const x = [[1], [0], [1], [0], [1], [0]];
  const time = [5, 6, 7, 8, 9, 10];
  const codeOf = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  };

  it('refuses data without events', () => {
    expect(
      codeOf(() =>
        fitCox(
          x,
          time,
          time.map(() => false),
          ['a'],
        ),
      ),
    ).toBe('MODEL_NO_EVENTS');
  });
  it('refuses missing, infinite or negative times', () => {
    const ev = [true, false, true, true, false, true];
    expect(codeOf(() => fitCox(x, [5, 6, Number.NaN, 8, 9, 10], ev, ['a']))).toBe('MODEL_BAD_TIME');
    expect(codeOf(() => fitCox(x, [5, 6, Number.POSITIVE_INFINITY, 8, 9, 10], ev, ['a']))).toBe('MODEL_BAD_TIME');
    expect(codeOf(() => fitCox(x, [5, -6, 7, 8, 9, 10], ev, ['a']))).toBe('MODEL_BAD_TIME');
  });
  it('refuses collinear covariates (singular information)', () => {
    const ev = [true, false, true, true, false, true];
    const x2 = x.map(([a], i) => [a!, i, 2 * a! + 1]);
    expect(codeOf(() => fitCox(x2, time, ev, ['a', 'i', 'b']))).toBe('MODEL_COLLINEAR');
  });
  it('refuses a covariate that orders the events perfectly (infinite coefficient) instead of a fake estimate', () => {
    const ev = [true, true, true, true, true, true];
    expect(codeOf(() => fitCox([[6], [5], [4], [3], [2], [1]], time, ev, ['a']))).toBe('MODEL_SEPARATION');
  });
  it('stops with MODEL_NOT_CONVERGED when the iteration limit is reached', () => {
    const ev = [true, false, true, true, false, true];
    expect(codeOf(() => fitCox(x, time, ev, ['a'], { maxIterations: 1 }))).toBe('MODEL_NOT_CONVERGED');
  });
  it('refuses missing covariates and mismatched lengths', () => {
    const ev = [true, false, true, true, false, true];
    expect(codeOf(() => fitCox([[1], [Number.NaN], [1], [0], [1], [0]], time, ev, ['a']))).toBe('MODEL_MISSING_VALUE');
    expect(codeOf(() => fitCox(x, time.slice(1), ev, ['a']))).toBe('MODEL_SHAPE_MISMATCH');
    expect(codeOf(() => fitCox([], [], [], ['a']))).toBe('MODEL_EMPTY_DATA');
  });
});
