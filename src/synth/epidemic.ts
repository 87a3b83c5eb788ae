/**
 * Seasonal influenza over the three regions: a deterministic metapopulation SEIR model at the regions' real
 * population sizes, coupled by travel (each region's residents make a small share of their contacts with the
 * others'), with seasonal forcing of transmission, autumn vaccination, yearly antigenic drift, and importations
 * that arrive through Gyeonggi (the capital area's airports) and Busan's port, so Gwangju's epidemics trail
 * theirs. Contact restrictions from February 2020 to August 2022 suppress transmission, as happened in Korea
 * (no influenza epidemic was declared in the 2020-21 and 2021-22 seasons).
 *
 * Synthetic people are then infected with the model's force of infection (see `care-events.ts`), so the
 * weekly visits in each hub's data follow the model's curves.
 */
import { dayOf, weekStart, yearOf } from './calendar.js';
import { Rng } from './random.js';
import type { RegionId } from './regions.js';
import { REGION_IDS, REGIONS } from './regions.js';

/** Share of each region's contacts made with residents of another (rows: residents of; columns: with). */
const TRAVEL: Readonly<Record<RegionId, Partial<Record<RegionId, number>>>> = {
  gwangju: { gyeonggi: 0.01, busan: 0.005 },
  gyeonggi: { gwangju: 0.002, busan: 0.004 },
  busan: { gyeonggi: 0.012, gwangju: 0.004 },
};
const LATENT_DAYS = 2;
const INFECTIOUS_DAYS = 3;
const VACCINE_EFFECTIVENESS = 0.5;
/** Share of the whole population vaccinated each autumn (KDCA: ~80% of 65+, ~70% of children, far fewer adults). */
const POPULATION_COVERAGE = 0.38;
const STEPS_PER_DAY = 4;
/** Share of last season's immunity lost to antigenic drift each August. */
const DRIFT = 0.9;
const R0_LOW = 1.1;
const R0_HIGH = 1.3;
/** Infections a day brought in from abroad during the importation season (about six months from early October). */
const IMPORTS_PER_DAY: Readonly<Record<RegionId, number>> = { gyeonggi: 30, busan: 8, gwangju: 0 };

export interface EpidemicCurves {
  readonly regions: readonly RegionId[];
  /** Sunday of each week. */
  readonly weeks: Int32Array;
  /** Force of infection summed over each week (per susceptible person), `[r * weeks + w]`. */
  readonly force: Float64Array;
  /** New infections in each week at the region's real population size, `[r * weeks + w]`. */
  readonly infections: Float64Array;
  /** Per-season basic reproduction number drawn from the seed, by the season's starting year. */
  readonly r0: ReadonlyMap<number, number>;
}

function contactRestriction(day: number): number {
  return day >= dayOf(2020, 2, 20) && day <= dayOf(2022, 8, 31) ? 0.55 : 1;
}

export function simulateEpidemic(seed: string | number, fromDay: number, toDay: number): EpidemicCurves {
  const rng = Rng.of(seed, 'epidemic');
  const start = weekStart(fromDay) - 364; // a burn-in year settles immunity
  const end = weekStart(toDay) + 7;
  const nWeeks = Math.round((end - (start + 364)) / 7);
  const weeks = new Int32Array(nWeeks);
  for (let w = 0; w < nWeeks; w++) weeks[w] = start + 364 + 7 * w;
  const R = REGION_IDS.length;
  const pop = REGION_IDS.map((r) => REGIONS[r].population);
  const S = pop.map((n) => 0.55 * n);
  const E = pop.map(() => 0);
  const I = pop.map((n) => 1e-5 * n);
  const Rm = pop.map((n, i) => n - (S[i] as number) - (I[i] as number));
  const force = new Float64Array(R * nWeeks);
  const infections = new Float64Array(R * nWeeks);
  const r0 = new Map<number, number>();
  const importDay = new Map<number, number>();
  for (let y = yearOf(start) - 1; y <= yearOf(end); y++) {
    r0.set(y, R0_LOW + (R0_HIGH - R0_LOW) * rng.float());
    importDay.set(y, dayOf(y, 10, 1) + rng.int(30));
  }
  const sigma = 1 / LATENT_DAYS;
  const gamma = 1 / INFECTIOUS_DAYS;
  const dt = 1 / STEPS_PER_DAY;
  const lambda = new Float64Array(R);
  for (let day = start; day < end; day++) {
    const date = new Date(day * 86_400_000);
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth() + 1;
    const season = month >= 8 ? year : year - 1;
    const doy = (day - dayOf(year, 1, 1)) / 365.25;
    if (month === 8 && date.getUTCDate() === 1) {
      // Antigenic drift: most of last season's immunity no longer protects.
      for (let r = 0; r < R; r++) {
        const lost = DRIFT * (Rm[r] as number);
        Rm[r] = (Rm[r] as number) - lost;
        S[r] = (S[r] as number) + lost;
      }
    }
    const beta = (r0.get(season) ?? 1.4) * gamma * (1 + 0.35 * Math.cos(2 * Math.PI * doy)) * contactRestriction(day);
    const imported = importDay.get(season) ?? 0;
    const w = Math.floor((day - (start + 364)) / 7);
    for (let step = 0; step < STEPS_PER_DAY; step++) {
      for (let r = 0; r < R; r++) {
        const id = REGION_IDS[r] as RegionId;
        let mix = 0;
        let own = 1;
        for (let s = 0; s < R; s++) {
          if (s === r) continue;
          const c = TRAVEL[id][REGION_IDS[s] as RegionId] ?? 0;
          own -= c;
          mix += (c * (I[s] as number)) / (pop[s] as number);
        }
        lambda[r] = beta * (mix + (own * (I[r] as number)) / (pop[r] as number));
      }
      for (let r = 0; r < R; r++) {
        const id = REGION_IDS[r] as RegionId;
        const seedDaily = day >= imported && day < imported + 180 ? IMPORTS_PER_DAY[id] : 0;
        const newInf = (lambda[r] as number) * (S[r] as number) * dt;
        const vaccinating = month === 10 || month === 11 ? (POPULATION_COVERAGE * VACCINE_EFFECTIVENESS) / 61 : 0;
        const vaccinated = vaccinating * (S[r] as number) * dt;
        const waned = ((Rm[r] as number) / (3 * 365)) * dt;
        S[r] = (S[r] as number) - newInf - vaccinated + waned;
        E[r] = (E[r] as number) + newInf - sigma * (E[r] as number) * dt + seedDaily * dt;
        I[r] = (I[r] as number) + sigma * (E[r] as number) * dt - gamma * (I[r] as number) * dt;
        Rm[r] = (Rm[r] as number) + gamma * (I[r] as number) * dt + vaccinated - waned;
        if (w >= 0 && w < nWeeks) {
          force[r * nWeeks + w] = (force[r * nWeeks + w] as number) + (lambda[r] as number) * dt;
          infections[r * nWeeks + w] = (infections[r * nWeeks + w] as number) + newInf + seedDaily * dt;
        }
      }
    }
  }
  return { regions: REGION_IDS, weeks, force, infections, r0 };
}
