/**
 * A person's care over the window as a timeline of events, each placed in a region. Events carry what was
 * measured (drawn here, so every region's output sees the same values); `fhir-writer.ts` turns them into
 * resources for one region's output.
 *
 * Volumes aim at realism without drowning the demo: biennial national health screening from 20 (birth-year
 * parity decides the year, as in Korea), chronic-disease follow-up every six months with a 180-day
 * prescription (Korean clinics often see patients monthly; we summarise), about 0.5 minor visits a year, and
 * wearable data summarised weekly (three Observations a week per wearer).
 */
import { DAYS_PER_YEAR, dayOf, weekStart, yearOf } from './calendar.js';
import { DISEASES } from './diseases.js';
import type { EpidemicCurves } from './epidemic.js';
import { ageAt } from './life.js';
import type { Person, Window } from './person.js';
import { Rng } from './random.js';
import type { RegionId } from './regions.js';
import { REGION_IDS, REGIONS } from './regions.js';
import { activityDaysAt, valuesAt } from './risk-factors.js';

const ND = DISEASES.length;
const D = Object.fromEntries(DISEASES.map((d, i) => [d.id, i])) as Record<(typeof DISEASES)[number]['id'], number>;
const SCREENING_PARTICIPATION = 0.72; // NHIS general health screening uptake, 2019-2022 (about 72-75%)

/** Measured values at one visit; what was not measured is absent. */
export interface Measured {
  heightCm?: number;
  weightKg?: number;
  sbp?: number;
  dbp?: number;
  fpg?: number;
  hba1c?: number;
  tc?: number;
  hdl?: number;
  ldl?: number;
  tg?: number;
  egfr?: number;
  creatinine?: number;
  smoking?: 'never' | 'current' | 'former';
  auditC?: number;
  activityDays?: number;
  phq9?: number;
  mmse?: number;
  fev1Fvc?: number;
}

interface Base {
  day: number;
  minute: number;
  where: RegionId;
}

export type CareEvent =
  | (Base & { kind: 'screening'; values: Measured; familyHistory: boolean; note: boolean })
  | (Base & {
      kind: 'diagnosis';
      disease: number;
      code: number;
      values: Measured;
      stayDays: number;
      procedure: boolean;
    })
  | (Base & { kind: 'followup'; diseases: number[]; values: Measured })
  | (Base & { kind: 'minor'; condition: number; days: number; note: boolean })
  | (Base & { kind: 'ili'; influenza: boolean; tested: boolean; positive: boolean; antiviral: boolean })
  | (Base & { kind: 'vaccination' })
  | (Base & { kind: 'lifelog'; steps: number; sleepHours: number; restingHr: number })
  | (Base & { kind: 'genotype' });

/** Weekly tallies of the home population's influenza, for the ground truth. */
export interface EpidemicTally {
  infections: Float64Array;
  iliVisits: Float64Array;
  expectedIliVisits: Float64Array;
  confirmed: Float64Array;
}

/** Relative susceptibility-and-contact by age, normalised per region in `fluAgeNormaliser`. */
function fluAgeFactor(age: number): number {
  if (age < 5) return 1.6;
  if (age < 15) return 2.2;
  if (age < 65) return 1;
  return 0.6;
}

function careSeeking(age: number): number {
  return age < 15 ? 0.5 : age < 65 ? 0.3 : 0.4;
}

/** Influenza vaccine coverage by age (KDCA national immunisation programme figures, rounded). */
function vaccineCoverage(age: number): number {
  if (age < 0.5) return 0;
  if (age < 13) return 0.7;
  if (age < 19) return 0.3;
  if (age < 50) return 0.2;
  if (age < 65) return 0.42;
  return 0.82;
}

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function logit(p: number): number {
  return Math.log(p / (1 - p));
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** Serum creatinine from eGFR by inverting CKD-EPI 2009 (mg/dL). */
function creatinineFrom(egfr: number, age: number, female: boolean): number {
  const kappa = female ? 0.7 : 0.9;
  const alpha = female ? -0.329 : -0.411;
  const x = egfr / (141 * 0.993 ** age * (female ? 1.018 : 1));
  return kappa * (x <= 1 ? x ** (-1 / 1.209) : x ** (1 / alpha));
}

export class CareTimeline {
  private readonly rng: Rng;
  private readonly events: CareEvent[] = [];
  private readonly aliveFrom: number;
  private readonly aliveTo: number;
  private readonly onset: Float64Array;

  constructor(
    seed: string | number,
    private readonly person: Person,
    window: Window,
  ) {
    this.rng = Rng.of(seed, person.home, 'care', person.index);
    this.aliveFrom = Math.max(window.start, person.life.traits.birthDay);
    this.aliveTo = Math.min(window.end, Math.floor(person.life.death));
    this.onset = person.life.onset;
  }

  /** Events sorted by day (then by kind order of creation). */
  build(epidemic: EpidemicCurves, tally?: EpidemicTally): CareEvent[] {
    if (this.aliveTo < this.aliveFrom) return [];
    this.screenings();
    this.diseaseCare();
    this.minorVisits();
    this.influenza(epidemic, tally);
    this.lifelog();
    if (this.person.genotypedOn >= this.aliveFrom && this.person.genotypedOn <= this.aliveTo) {
      this.events.push({
        kind: 'genotype',
        day: Math.floor(this.person.genotypedOn),
        minute: 600,
        where: this.person.home,
      });
    }
    const elsewhere = this.person.alsoIn;
    if (elsewhere !== undefined && !this.events.some((e) => e.where === elsewhere)) {
      // A traveller has at least one visit in the other region: that is what makes them one.
      this.events.push({
        kind: 'minor',
        day: this.aliveFrom + this.rng.int(this.aliveTo - this.aliveFrom + 1),
        minute: this.clinicMinute(),
        where: elsewhere,
        condition: this.rng.int(8),
        days: 5 + this.rng.int(20),
        note: false,
      });
    }
    return this.events.sort((a, b) => a.day - b.day || a.minute - b.minute);
  }

  private age(day: number): number {
    return ageAt(this.person.life.traits, day);
  }

  private active(d: number, day: number): boolean {
    return (this.onset[d] as number) <= day;
  }

  private away(share: number): RegionId {
    const p = this.person;
    return p.alsoIn !== undefined && this.rng.bernoulli(share) ? p.alsoIn : p.home;
  }

  private clinicMinute(): number {
    return 540 + this.rng.int(480);
  }

  /** Values a clinic records: the latent value, the disease's own effect once it began, treatment, noise. */
  private measure(day: number, full: boolean): Measured {
    const t = this.person.life.traits;
    const age = this.age(day);
    const v = valuesAt(t, age);
    const r = this.rng;
    const on = (d: number) => this.active(d, day);
    const statin = on(D.dyslipidaemia) || on(D.ihd) || on(D.stroke);
    const sbp = v.sbp + (on(D.htn) ? 15 - 12 : 0) + 7 * r.normal();
    const m: Measured = {
      sbp: Math.round(sbp),
      dbp: Math.round(v.dbp + (on(D.htn) ? 8 - 6 : 0) + 5 * r.normal()),
    };
    const fpg = v.fpg + (on(D.t2d) ? 35 - 20 : 0) + 7 * r.normal();
    m.fpg = Math.round(Math.max(60, fpg));
    m.hba1c = round1(v.hba1c + (on(D.t2d) ? 1.2 - 0.7 : 0) + 0.2 * r.normal());
    let egfr = v.egfr;
    if (on(D.ckd)) egfr = Math.min(egfr, 50 + 5 * r.normal());
    egfr = Math.max(5, egfr + 5 * r.normal());
    m.egfr = Math.round(egfr);
    m.creatinine = Math.round(100 * creatinineFrom(egfr, age, t.sex === 'female')) / 100;
    if (full) {
      m.heightCm = round1(this.person.heightCm + 0.4 * r.normal());
      m.weightKg = round1(((v.bmi + 0.4 * r.normal()) * this.person.heightCm * this.person.heightCm) / 10000);
      m.smoking = v.smoking;
      m.auditC = v.auditC;
      m.activityDays = activityDaysAt(t, age);
    }
    const dyslipEffect = on(D.dyslipidaemia) ? 40 : 0;
    const tc = v.tc + dyslipEffect - (statin ? 55 : 0) + 12 * r.normal();
    m.tc = Math.round(Math.max(90, tc));
    m.hdl = Math.round(Math.max(20, v.hdl + 4 * r.normal()));
    m.tg = Math.round(v.tg * Math.exp(0.2 * r.normal()));
    m.ldl = Math.round(Math.max(30, v.ldl + dyslipEffect - (statin ? 50 : 0) + 10 * r.normal()));
    return m;
  }

  private screenings(): void {
    const p = this.person;
    const birthYear = yearOf(p.life.traits.birthDay);
    let first = true;
    for (let y = yearOf(this.aliveFrom); y <= yearOf(this.aliveTo); y++) {
      const ageThatYear = y - birthYear;
      if (ageThatYear < 20 || ageThatYear % 2 !== 0) continue;
      const attend = this.rng.bernoulli(logistic(logit(SCREENING_PARTICIPATION) + 0.8 * p.screeningPropensity));
      const day = dayOf(y, 1, 1) + this.rng.int(365);
      if (!attend || day < this.aliveFrom || day > this.aliveTo) continue;
      const values = this.measure(day, true);
      if (ageThatYear % 4 !== 0) {
        // Lipid panels are every four years in the national programme.
        delete values.tc;
        delete values.hdl;
        delete values.ldl;
        delete values.tg;
      }
      delete values.hba1c; // not part of the national screening
      if (ageThatYear % 10 === 0 && ageThatYear <= 70) values.phq9 = this.phq9(day);
      this.events.push({
        kind: 'screening',
        day,
        minute: 480 + this.rng.int(240),
        where: p.home,
        values,
        familyHistory: first,
        note: this.rng.bernoulli(0.02),
      });
      first = false;
    }
  }

  private phq9(day: number): number {
    const t = this.person.life.traits;
    const depressed = this.active(D.depression, day);
    const score = 3 + 2.2 * t.depressionTrait + (depressed ? 8 : 0) + 2.5 * this.rng.normal();
    return Math.max(0, Math.min(27, Math.round(score)));
  }

  private diseaseCare(): void {
    let firstActive = Number.POSITIVE_INFINITY;
    for (let d = 0; d < ND; d++) {
      const onset = this.onset[d] as number;
      if (onset > this.aliveTo) continue;
      firstActive = Math.min(firstActive, Math.max(onset, this.aliveFrom));
      if (onset < this.aliveFrom) continue; // prevalent: recorded at its first follow-up
      const disease = DISEASES[d];
      if (disease === undefined) continue;
      const day = Math.floor(onset);
      const values = this.measure(day, false);
      if (d === D.depression) values.phq9 = this.phq9(day);
      if (d === D.dementia) values.mmse = Math.max(5, Math.min(26, Math.round(19 + 3 * this.rng.normal())));
      if (d === D.copd) values.fev1Fvc = Math.round(60 + 5 * this.rng.normal());
      this.events.push({
        kind: 'diagnosis',
        day,
        minute: disease.acute ? this.rng.int(1440) : this.clinicMinute(),
        where: this.away(disease.acute ? 0.5 : 0.15),
        disease: d,
        code: this.rng.weighted(disease.codes.map((c) => c.weight)),
        values,
        stayDays: disease.acute ? 4 + this.rng.int(9) : 0,
        procedure: this.rng.bernoulli(disease.acute ? 0.6 : 1),
      });
    }
    if (!Number.isFinite(firstActive)) return;
    // Follow-up every six months (±3 weeks) while any chronic disease is active.
    let day = Math.floor(firstActive) + 30 + this.rng.int(150);
    while (day <= this.aliveTo) {
      const diseases: number[] = [];
      for (let d = 0; d < ND; d++) if (this.active(d, day)) diseases.push(d);
      if (diseases.length > 0) {
        this.events.push({
          kind: 'followup',
          day,
          minute: this.clinicMinute(),
          where: this.away(0.15),
          diseases,
          values: this.measure(day, false),
        });
      }
      day += 161 + this.rng.int(43);
    }
  }

  private minorVisits(): void {
    const years = (this.aliveTo - this.aliveFrom) / DAYS_PER_YEAR;
    const n = this.rng.poisson(0.5 * years);
    for (let i = 0; i < n; i++) {
      const day = this.aliveFrom + this.rng.int(this.aliveTo - this.aliveFrom + 1);
      this.events.push({
        kind: 'minor',
        day,
        minute: this.clinicMinute(),
        where: this.away(0.2),
        condition: this.rng.int(8),
        days: 5 + this.rng.int(20),
        note: this.rng.bernoulli(0.03),
      });
    }
  }

  private influenza(epidemic: EpidemicCurves, tally?: EpidemicTally): void {
    const p = this.person;
    const r = REGION_IDS.indexOf(p.home);
    const nWeeks = epidemic.weeks.length;
    const calendar = weekCalendar(epidemic);
    let immuneUntil = Number.NEGATIVE_INFINITY;
    let season = -1;
    let vaccinated = false;
    const norm = fluAgeNormaliser(p.home);
    for (let w = 0; w < nWeeks; w++) {
      const week = epidemic.weeks[w] as number;
      if (week + 6 < this.aliveFrom || week > this.aliveTo) continue;
      const thisSeason = calendar.season[w] as number;
      if (thisSeason !== season) {
        season = thisSeason;
        const vday = dayOf(season, 10, 15) + this.rng.int(45);
        const coverage = vaccineCoverage(this.age(vday));
        vaccinated =
          coverage > 0 &&
          vday >= this.aliveFrom &&
          vday <= this.aliveTo &&
          this.rng.bernoulli(logistic(logit(coverage) + 1.5 * p.vaccinePropensity));
        if (vaccinated)
          this.events.push({ kind: 'vaccination', day: vday, minute: this.clinicMinute(), where: p.home });
      }
      const age = this.age(week);
      if (age < 0) continue;
      const day = Math.max(week, this.aliveFrom) + this.rng.int(7);
      if (day > this.aliveTo) continue;
      const visitShare = 0.67 * careSeeking(age);
      const background = (calendar.background[w] as number) * (age < 15 ? 3 : 1);
      let pInfect = 0;
      if (week >= immuneUntil) {
        const force = (epidemic.force[r * nWeeks + w] as number) * (fluAgeFactor(age) / norm) * (vaccinated ? 0.5 : 1);
        pInfect = 1 - Math.exp(-force);
      }
      if (tally !== undefined)
        tally.expectedIliVisits[w] = (tally.expectedIliVisits[w] as number) + pInfect * visitShare + background;
      if (pInfect > 0 && this.rng.bernoulli(pInfect)) {
        immuneUntil = week + 300;
        if (tally !== undefined) tally.infections[w] = (tally.infections[w] as number) + 1;
        if (this.rng.bernoulli(visitShare)) {
          const tested = this.rng.bernoulli(0.5);
          const positive = tested && this.rng.bernoulli(0.85);
          const antiviral = this.rng.bernoulli(positive ? 0.8 : 0.3);
          this.events.push({
            kind: 'ili',
            day,
            minute: this.clinicMinute(),
            where: p.home,
            influenza: true,
            tested,
            positive,
            antiviral,
          });
          if (tally !== undefined) {
            tally.iliVisits[w] = (tally.iliVisits[w] as number) + 1;
            if (positive) tally.confirmed[w] = (tally.confirmed[w] as number) + 1;
          }
        }
      } else if (this.rng.bernoulli(background)) {
        const tested = this.rng.bernoulli(0.3);
        this.events.push({
          kind: 'ili',
          day,
          minute: this.clinicMinute(),
          where: p.home,
          influenza: false,
          tested,
          positive: false,
          antiviral: false,
        });
        if (tally !== undefined) tally.iliVisits[w] = (tally.iliVisits[w] as number) + 1;
      }
    }
  }

  private lifelog(): void {
    const p = this.person;
    const t = p.life.traits;
    const from = Math.max(p.wearableFrom, this.aliveFrom);
    if (!Number.isFinite(from)) return;
    for (let week = weekStart(Math.floor(from)) + 7; week + 6 <= this.aliveTo; week += 7) {
      const age = this.age(week);
      const v = valuesAt(t, age);
      const winter = Math.cos((2 * Math.PI * (week - dayOf(yearOf(week), 1, 15))) / 365);
      const depressed = this.active(D.depression, week);
      const steps =
        7000 + 1800 * t.activity - 40 * (age - 40) - 700 * winter - (depressed ? 1200 : 0) + 900 * this.rng.normal();
      const sleep = 6.9 - (t.sex === 'male' ? 0.2 : 0) + (depressed ? -0.5 : 0) + 0.35 * this.rng.normal();
      const rhr = 66 - 3 * t.activity + 0.4 * (v.bmi - 24) + 2 * this.rng.normal();
      this.events.push({
        kind: 'lifelog',
        day: week,
        minute: 0,
        where: p.home,
        steps: Math.max(300, Math.round(steps)),
        sleepHours: round1(Math.max(3, sleep)),
        restingHr: Math.round(rhr),
      });
    }
  }
}

const normalisers = new Map<RegionId, number>();

/** The population mean of `fluAgeFactor`, so each region's average person feels the model's force. */
export function fluAgeNormaliser(region: RegionId): number {
  let n = normalisers.get(region);
  if (n === undefined) {
    // Band-level approximation: 0-9 split evenly between under-5s and 5-9s, 10-19 between 10-14 and 15-19.
    const shares = REGIONS[region].ageShares;
    const factors = [(1.6 + 2.2) / 2, (2.2 + 1) / 2, 1, 1, 1, 1, (1 + 0.6) / 2, 0.6, 0.6];
    let sum = 0;
    let total = 0;
    shares.forEach((s, i) => {
      sum += s * (factors[i] ?? 1);
      total += s;
    });
    n = sum / total;
    normalisers.set(region, n);
  }
  return n;
}

interface WeekCalendar {
  /** The influenza season (September to August) of each week, by its starting year. */
  season: Int32Array;
  /** Weekly chance of an influenza-like illness visit from other respiratory viruses (adults), winter-peaked. */
  background: Float64Array;
}

const calendars = new WeakMap<EpidemicCurves, WeekCalendar>();

/** Per-week facts shared by every person: computed once per epidemic, not once per person and week. */
function weekCalendar(epidemic: EpidemicCurves): WeekCalendar {
  let c = calendars.get(epidemic);
  if (c === undefined) {
    const n = epidemic.weeks.length;
    c = { season: new Int32Array(n), background: new Float64Array(n) };
    for (let w = 0; w < n; w++) {
      const week = epidemic.weeks[w] as number;
      const date = new Date(week * 86_400_000);
      const year = date.getUTCFullYear();
      c.season[w] = date.getUTCMonth() + 1 >= 9 ? year : year - 1;
      c.background[w] = 0.0004 * (1 + 0.8 * Math.cos((2 * Math.PI * (week - dayOf(year, 1, 1))) / 365));
    }
    calendars.set(epidemic, c);
  }
  return c;
}
