/**
 * A person's latent risk factors. Each person carries fixed offsets from the age-sex mean curves (risk factors
 * "track" through adult life), so the whole trajectory is a deterministic function of the person: the true
 * hazards, and with them the ground-truth risks, are exact. What clinics record are measurements of these
 * values with within-person and assay noise (`measure()` in `care-events.ts`), and treatment lowers the
 * measured values; the causal hazards stay on the untreated trajectory (see docs/synth.md, "Simplifications").
 *
 * Mean curves by age and sex are rounded from KNHANES 2019-2021 (KDCA): BMI, blood pressure, fasting glucose,
 * total and HDL cholesterol, triglycerides; eGFR decline of about 0.9 mL/min/1.73m2 a year after 25.
 */
import { DISEASES, FACTORS, LOG_HR } from './diseases.js';
import { PANEL } from './genotype-panel.js';
import type { Sex } from './identity.js';
import type { Rng } from './random.js';

/** Values at ages 20, 30, ..., 80 (held flat outside). */
type Curve = readonly [number, number, number, number, number, number, number];

function at(curve: Curve, age: number): number {
  const x = Math.min(80, Math.max(20, age));
  const i = Math.min(5, Math.floor((x - 20) / 10));
  const f = (x - 20 - i * 10) / 10;
  return (curve[i] as number) * (1 - f) + (curve[i + 1] as number) * f;
}

const MEANS: Record<'bmi' | 'sbp' | 'dbp' | 'fpg' | 'tc' | 'tg', Record<Sex, Curve>> = {
  bmi: { male: [23.5, 24.8, 25.0, 24.6, 24.3, 23.8, 23.0], female: [21.3, 22.0, 22.8, 23.5, 24.2, 24.3, 23.5] },
  sbp: { male: [114, 116, 119, 123, 127, 131, 133], female: [104, 106, 111, 118, 125, 131, 135] },
  dbp: { male: [72, 77, 80, 80, 78, 75, 72], female: [68, 70, 73, 75, 75, 73, 70] },
  fpg: { male: [89, 94, 99, 104, 106, 107, 105], female: [87, 89, 93, 98, 102, 104, 104] },
  tc: { male: [175, 195, 198, 194, 185, 178, 172], female: [175, 178, 186, 205, 202, 196, 190] },
  tg: { male: [100, 140, 155, 150, 135, 120, 110], female: [75, 80, 90, 110, 120, 120, 115] },
};
const MEAN_HDL: Record<Sex, number> = { male: 47, female: 55 };

export interface Traits {
  readonly sex: Sex;
  readonly birthDay: number;
  readonly zBmi: number;
  readonly zSbp: number;
  readonly zDbp: number;
  readonly zGlu: number;
  readonly zA1c: number;
  readonly zTc: number;
  readonly zHdl: number;
  readonly zTg: number;
  readonly zEgfr: number;
  readonly egfrSlope: number;
  readonly depressionTrait: number;
  /** Latent activity level, N(0,1). */
  readonly activity: number;
  /** AUDIT-C score, 0-12. */
  readonly auditC: number;
  /** Age at starting and at quitting smoking (Infinity: never). */
  readonly smokeStart: number;
  readonly smokeQuit: number;
  /** One flag per disease, in `DISEASES` order. */
  readonly familyHistory: Uint8Array;
  /** Risk alleles carried (0, 1, 2), in `PANEL` order. */
  readonly genotype: Uint8Array;
  /** Polygenic score per disease, standardised (0 where the panel has no variant for it). */
  readonly prs: Float64Array;
}

/** Standardisation of each disease's polygenic score from the allele frequencies (Hardy-Weinberg). */
const PRS_MOMENTS = DISEASES.map((d) => {
  let mean = 0;
  let variance = 0;
  for (const v of PANEL) {
    const w = v.weights[d.id] ?? 0;
    mean += w * 2 * v.riskAlleleFrequency;
    variance += w * w * 2 * v.riskAlleleFrequency * (1 - v.riskAlleleFrequency);
  }
  return { mean, sd: Math.sqrt(variance) };
});

function everSmokerShare(sex: Sex, birthYear: number): number {
  // Men born before 1970: ~65% ever smoked; falling to ~45% for those born after 1990 (KNHANES). Women: 5-10%.
  if (sex === 'female') return birthYear < 1960 ? 0.05 : 0.09;
  return birthYear < 1970 ? 0.65 : birthYear < 1990 ? 0.55 : 0.45;
}

export function drawTraits(rng: Rng, sex: Sex, birthDay: number, birthYear: number): Traits {
  const familyHistory = new Uint8Array(DISEASES.length);
  DISEASES.forEach((d, i) => {
    familyHistory[i] = rng.bernoulli(d.familyHistoryShare) ? 1 : 0;
  });
  const genotype = new Uint8Array(PANEL.length);
  PANEL.forEach((v, i) => {
    genotype[i] = (rng.bernoulli(v.riskAlleleFrequency) ? 1 : 0) + (rng.bernoulli(v.riskAlleleFrequency) ? 1 : 0);
  });
  const prs = new Float64Array(DISEASES.length);
  DISEASES.forEach((d, i) => {
    const m = PRS_MOMENTS[i];
    if (m === undefined || m.sd === 0) return;
    let s = 0;
    PANEL.forEach((v, j) => {
      s += (v.weights[d.id] ?? 0) * (genotype[j] ?? 0);
    });
    prs[i] = (s - m.mean) / m.sd;
  });
  const smoker = rng.bernoulli(everSmokerShare(sex, birthYear));
  const smokeStart = smoker ? Math.max(14, 20 + 3 * rng.normal()) : Number.POSITIVE_INFINITY;
  // Quitting: about 3% of smokers a year (mean 30 years of smoking), so most older men are former smokers.
  const smokeQuit = smoker ? smokeStart + 30 * rng.exponential() : Number.POSITIVE_INFINITY;
  const auditMean = sex === 'male' ? 4.5 : 2;
  const auditSd = sex === 'male' ? 3 : 2.2;
  return {
    sex,
    birthDay,
    zBmi: rng.normal(),
    zSbp: rng.normal(),
    zDbp: rng.normal(),
    zGlu: rng.normal(),
    zA1c: rng.normal(),
    zTc: rng.normal(),
    zHdl: rng.normal(),
    zTg: rng.normal(),
    zEgfr: rng.normal(),
    egfrSlope: 0.9 * Math.exp(0.3 * rng.normal()),
    depressionTrait: rng.normal(),
    activity: rng.normal(),
    auditC: Math.max(0, Math.min(12, Math.round(auditMean + auditSd * rng.normal()))),
    smokeStart,
    smokeQuit,
    familyHistory,
    genotype,
    prs,
  };
}

/** The untreated values of every measured risk factor at an age. */
export interface RiskFactorValues {
  bmi: number;
  sbp: number;
  dbp: number;
  fpg: number;
  hba1c: number;
  tc: number;
  hdl: number;
  ldl: number;
  tg: number;
  egfr: number;
  smoking: 'never' | 'current' | 'former';
  auditC: number;
  activityDays: number;
}

export function isHeavyDrinker(t: Traits): boolean {
  return t.auditC >= (t.sex === 'male' ? 8 : 6);
}

/** Systolic pressure above the age-sex mean: adiposity, a personal offset, and heavy drinking. */
export function sbpDeviation(t: Traits): number {
  return 0.9 * 3.2 * t.zBmi + 11 * t.zSbp + (isHeavyDrinker(t) ? 4 : 0);
}

export function smokingAt(t: Traits, age: number): 'never' | 'current' | 'former' {
  if (age < t.smokeStart) return 'never';
  return age < t.smokeQuit ? 'current' : 'former';
}

export function activityDaysAt(t: Traits, age: number): number {
  return Math.max(0, Math.min(7, Math.round(2.6 + 1.9 * t.activity - 0.015 * (age - 40))));
}

export function valuesAt(t: Traits, age: number): RiskFactorValues {
  const s = t.sex;
  const dBmi = 3.2 * t.zBmi;
  const bmi = Math.max(15, Math.min(45, at(MEANS.bmi[s], age) + dBmi));
  const heavy = isHeavyDrinker(t);
  const sbpDev = sbpDeviation(t);
  const sbp = at(MEANS.sbp[s], age) + sbpDev;
  const dbp = at(MEANS.dbp[s], age) + 0.45 * sbpDev + 5 * t.zDbp;
  const glu = t.zGlu > 0 ? 8 * t.zGlu + 3 * t.zGlu * t.zGlu : 8 * t.zGlu;
  const fpg = Math.max(65, at(MEANS.fpg[s], age) + 1.4 * dBmi + glu - 2 * t.activity);
  const hba1c = (fpg + 46.7) / 28.7 + 0.2 * t.zA1c; // ADAG relation (Nathan et al., Diabetes Care 2008)
  const tc = at(MEANS.tc[s], age) + 1.2 * dBmi + 30 * t.zTc;
  const moderate = t.auditC >= 3 && !heavy ? 2 : 0;
  const hdl = Math.max(20, MEAN_HDL[s] - 0.8 * dBmi + 10 * t.zHdl + 2 * t.activity + moderate);
  const tg = at(MEANS.tg[s], age) * Math.exp(0.03 * dBmi + 0.45 * t.zTg - 0.05 * t.activity);
  const ldl = Math.max(30, tc - hdl - tg / 5); // Friedewald
  const egfr = Math.max(5, Math.min(150, 115 - t.egfrSlope * Math.max(0, age - 25) + 12 * t.zEgfr));
  return {
    bmi,
    sbp,
    dbp,
    fpg,
    hba1c,
    tc,
    hdl,
    ldl,
    tg,
    egfr,
    smoking: smokingAt(t, age),
    auditC: t.auditC,
    activityDays: activityDaysAt(t, age),
  };
}

const F = Object.fromEntries(FACTORS.map((f, i) => [f, i])) as Record<(typeof FACTORS)[number], number>;
const NF = FACTORS.length;
const scratch = new Float64Array(NF);

/**
 * The linear predictor of every disease at an age, written into `out` (one per disease, `DISEASES` order).
 * Continuous factors are deviations from the age-sex mean, so the baseline hazard is that of an average
 * person of that age and sex.
 */
export function linearPredictorsAt(t: Traits, age: number, out: Float64Array): void {
  const v = valuesAt(t, age);
  const s = t.sex;
  const x = scratch;
  const beta = LOG_HR; // a local: module bindings cost a lookup on every access under some loaders
  const meanTc = at(MEANS.tc[s], age);
  const meanLdl = meanTc - MEAN_HDL[s] - at(MEANS.tg[s], age) / 5;
  x[F.sbp10] = (v.sbp - at(MEANS.sbp[s], age)) / 10;
  x[F.fpg10] = (v.fpg - at(MEANS.fpg[s], age)) / 10;
  x[F.bmi] = v.bmi - at(MEANS.bmi[s], age);
  x[F.tc10] = (v.tc - meanTc) / 10;
  x[F.ldl39] = (v.ldl - meanLdl) / 38.7;
  x[F.hdl10] = (v.hdl - MEAN_HDL[s]) / 10;
  x[F.egfrLow10] = (115 - 0.9 * Math.max(0, age - 25) - v.egfr) / 10;
  x[F.smokingCurrent] = v.smoking === 'current' ? 1 : 0;
  x[F.smokingFormer] = v.smoking === 'former' ? 1 : 0;
  x[F.heavyAlcohol] = isHeavyDrinker(t) ? 1 : 0;
  x[F.activityDays] = v.activityDays - 3;
  x[F.depressionTrait] = t.depressionTrait;
  for (let d = 0; d < DISEASES.length; d++) {
    x[F.familyHistory] = t.familyHistory[d] ?? 0;
    x[F.prs] = t.prs[d] ?? 0;
    let eta = 0;
    const row = d * NF;
    for (let k = 0; k < NF; k++) eta += (beta[row + k] as number) * (x[k] as number);
    out[d] = eta;
  }
}
