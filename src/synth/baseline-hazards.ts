/**
 * Baseline hazards solved from target prevalence curves, and the mortality model.
 *
 * For each sex, disease and age-year [a, a+1), h0(a) is the value for which the mean cumulative incidence of a
 * fixed calibration sample of people (drawn from the same trait distribution, with its own fixed seed) reaches
 * the target prevalence at a+1. Solving it on heterogeneous people, rather than inverting the prevalence curve
 * directly, corrects for frailty: with strong risk factors, 1 - E[exp(-H)] < 1 - exp(-E[H]).
 */
import { DISEASES, TARGET_AGES } from './diseases.js';
import type { Sex } from './identity.js';
import { Rng } from './random.js';
import type { Traits } from './risk-factors.js';
import { drawTraits, linearPredictorsAt, sbpDeviation, smokingAt } from './risk-factors.js';

export const MAX_AGE = 110;
const CALIBRATION_PEOPLE = 2000;
const ND = DISEASES.length;

/** Target prevalence (a fraction) at an exact age: linear between the published points. */
export function targetPrevalence(d: number, sex: Sex, age: number): number {
  const disease = DISEASES[d];
  if (disease === undefined) throw new RangeError(`no disease ${d}`);
  const pts = disease.target[sex];
  if (age <= disease.minAge) return 0;
  const first = TARGET_AGES[0];
  const p0 = (pts[0] ?? 0) / 100;
  if (age <= first) return disease.minAge >= first ? 0 : (p0 * (age - disease.minAge)) / (first - disease.minAge);
  for (let i = 0; i + 1 < TARGET_AGES.length; i++) {
    const a0 = TARGET_AGES[i] as number;
    const a1 = TARGET_AGES[i + 1] as number;
    if (age <= a1) {
      const lo = Math.max(disease.minAge, a0);
      const y0 = age < lo ? 0 : (pts[i] ?? 0) / 100;
      const y1 = (pts[i + 1] ?? 0) / 100;
      if (lo >= a1) return 0;
      const from = a0 < disease.minAge ? 0 : y0;
      return from + ((y1 - from) * (age - Math.max(a0, disease.minAge))) / (a1 - Math.max(a0, disease.minAge));
    }
  }
  // Past the last point: half the last segment's slope, so prevalence keeps rising slowly with age.
  const n = pts.length;
  const last = (pts[n - 1] ?? 0) / 100;
  const slope = (last - (pts[n - 2] ?? 0) / 100) / 10;
  return Math.min(0.95, last + 0.5 * slope * (age - (TARGET_AGES[n - 1] as number)));
}

/** h0 per age-year, indexed `[d * MAX_AGE + age]`, per sex. */
export interface BaselineHazards {
  readonly male: Float64Array;
  readonly female: Float64Array;
}

function solveSex(sex: Sex): Float64Array {
  const rng = Rng.of('healthmesh-synth-calibration', sex);
  const people: Traits[] = [];
  for (let i = 0; i < CALIBRATION_PEOPLE; i++) {
    const birthYear = 1940 + rng.int(60);
    people.push(drawTraits(rng, sex, 0, birthYear));
  }
  // Relative hazards exp(eta) of every calibration person at every age: [age][person][disease].
  const rel = new Float64Array(MAX_AGE * CALIBRATION_PEOPLE * ND);
  const eta = new Float64Array(ND);
  for (let a = 0; a < MAX_AGE; a++) {
    for (let i = 0; i < CALIBRATION_PEOPLE; i++) {
      linearPredictorsAt(people[i] as Traits, a + 0.5, eta);
      for (let d = 0; d < ND; d++) rel[(a * CALIBRATION_PEOPLE + i) * ND + d] = Math.exp(eta[d] as number);
    }
  }
  const h0 = new Float64Array(ND * MAX_AGE);
  const cum = new Float64Array(CALIBRATION_PEOPLE);
  for (let d = 0; d < ND; d++) {
    cum.fill(0);
    for (let a = 0; a < MAX_AGE; a++) {
      const target = targetPrevalence(d, sex, a + 1);
      let h = 0;
      if (target > 0) {
        h = Math.max(0, -Math.log(1 - target) + Math.log(1 - targetPrevalence(d, sex, a)));
        for (let iter = 0; iter < 8; iter++) {
          let f = 0;
          let df = 0;
          for (let i = 0; i < CALIBRATION_PEOPLE; i++) {
            const r = rel[(a * CALIBRATION_PEOPLE + i) * ND + d] as number;
            const s = Math.exp(-(cum[i] as number) - h * r);
            f += 1 - s;
            df += r * s;
          }
          f = f / CALIBRATION_PEOPLE - target;
          df /= CALIBRATION_PEOPLE;
          if (df <= 0) break;
          const next = Math.max(0, h - f / df);
          if (Math.abs(next - h) < 1e-12) break;
          h = next;
        }
      }
      h0[d * MAX_AGE + a] = h;
      for (let i = 0; i < CALIBRATION_PEOPLE; i++) {
        cum[i] = (cum[i] as number) + h * (rel[(a * CALIBRATION_PEOPLE + i) * ND + d] as number);
      }
    }
  }
  return h0;
}

let cached: BaselineHazards | undefined;

/** Solved once per process (about 0.3 s) and deterministic: the calibration sample has its own fixed seed. */
export function baselineHazards(): BaselineHazards {
  cached ??= { male: solveSex('male'), female: solveSex('female') };
  return cached;
}

/**
 * Mortality per year at an age: Gompertz curves fitted by eye to the Korean life tables 2022 (Statistics
 * Korea; about 0.65% at 60 and 4.3% at 80 for men, 0.25% and 2.0% for women), with hazard ratios for smoking
 * (current 1.8, former 1.3; Jee et al., KCPS) and blood pressure (1.1 per 10 mmHg above the mean).
 */
export function mortalityHazard(t: Traits, age: number): number {
  const base = t.sex === 'male' ? 2.17e-5 * Math.exp(0.095 * age) : 4.59e-6 * Math.exp(0.105 * age);
  const smoking = smokingAt(t, age);
  let hr = smoking === 'current' ? 1.8 : smoking === 'former' ? 1.3 : 1;
  hr *= Math.exp((Math.log(1.1) * sbpDeviation(t)) / 10);
  return Math.max(2e-4, base * hr);
}
