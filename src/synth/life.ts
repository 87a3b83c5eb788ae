/**
 * A person's latent life: when each chronic disease begins and when the person dies, drawn from the generating
 * hazards by inversion (one exponential draw per event, walked through piecewise-constant hazards per age-year).
 * The same hazards give the exact ground-truth risk: see `fiveYearRisk`.
 */
import type { BaselineHazards } from './baseline-hazards.js';
import { MAX_AGE, mortalityHazard } from './baseline-hazards.js';
import { DAYS_PER_YEAR } from './calendar.js';
import { DISEASES } from './diseases.js';
import type { Rng } from './random.js';
import type { Traits } from './risk-factors.js';
import { linearPredictorsAt } from './risk-factors.js';

const ND = DISEASES.length;

export interface Life {
  readonly traits: Traits;
  /** Day of onset per disease (fractional day numbers; Infinity when not before the end of the window). */
  readonly onset: Float64Array;
  /** Day of death, or Infinity when alive at the end of the window. */
  readonly death: number;
  /** Disease hazards per age-year `[age * ND + d]`, for the ground truth. */
  readonly hazard: Float64Array;
}

export function ageAt(t: Traits, day: number): number {
  return (day - t.birthDay) / DAYS_PER_YEAR;
}

function dayAtAge(t: Traits, age: number): number {
  return t.birthDay + age * DAYS_PER_YEAR;
}

/** People are alive at the window's start (or born inside it); deaths are drawn from then on. */
export function simulateLife(
  rng: Rng,
  t: Traits,
  baseline: BaselineHazards,
  windowStart: number,
  windowEnd: number,
  hazardsUntil = windowEnd,
): Life {
  const lastAge = Math.min(MAX_AGE - 1, Math.ceil(ageAt(t, Math.max(windowEnd, hazardsUntil))));
  const h0 = t.sex === 'male' ? baseline.male : baseline.female;
  const hazard = new Float64Array(MAX_AGE * ND);
  const eta = new Float64Array(ND);
  for (let a = 0; a <= lastAge; a++) {
    linearPredictorsAt(t, a + 0.5, eta);
    for (let d = 0; d < ND; d++) hazard[a * ND + d] = (h0[d * MAX_AGE + a] as number) * Math.exp(eta[d] as number);
  }
  const onset = new Float64Array(ND).fill(Number.POSITIVE_INFINITY);
  for (let d = 0; d < ND; d++) {
    const e = rng.exponential();
    let cum = 0;
    for (let a = 0; a <= lastAge; a++) {
      const h = hazard[a * ND + d] as number;
      if (cum + h >= e) {
        const day = dayAtAge(t, a + (e - cum) / h);
        if (day <= windowEnd) onset[d] = day;
        break;
      }
      cum += h;
    }
  }
  return { traits: t, onset, death: drawDeath(rng, t, windowStart, windowEnd), hazard };
}

function drawDeath(rng: Rng, t: Traits, windowStart: number, windowEnd: number): number {
  const e = rng.exponential();
  let cum = 0;
  let age = Math.max(0, ageAt(t, windowStart));
  const endAge = ageAt(t, windowEnd);
  while (age < endAge) {
    const next = Math.min(endAge, Math.floor(age) + 1);
    const m = mortalityHazard(t, Math.floor(age));
    const exposure = m * (next - age);
    if (cum + exposure >= e) return dayAtAge(t, age + (e - cum) / m);
    cum += exposure;
    age = next;
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * The true probability that disease `d` begins within `years` of `indexDay`, before death, for a person alive
 * and free of it at `indexDay`: the cumulative incidence under competing mortality, integrated exactly over the
 * piecewise-constant hazards the generator drew from. NaN when the person is not at risk at the index date.
 */
export function trueRisk(life: Life, d: number, indexDay: number, years: number): number {
  const t = life.traits;
  if (life.death <= indexDay || life.onset[d]! <= indexDay || t.birthDay > indexDay) return Number.NaN;
  let age = ageAt(t, indexDay);
  const endAge = age + years;
  let survival = 1;
  let risk = 0;
  while (age < endAge) {
    const a = Math.floor(age);
    const next = Math.min(endAge, a + 1);
    const hd = a < MAX_AGE ? (life.hazard[a * ND + d] as number) : 0;
    const hm = mortalityHazard(t, a);
    const total = hd + hm;
    const stay = Math.exp(-total * (next - age));
    if (total > 0) risk += (survival * hd * (1 - stay)) / total;
    survival *= stay;
    age = next;
  }
  return risk;
}
