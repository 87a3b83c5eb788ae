/**
 * One synthetic person, fully determined by (seed, home region, index): demographics, identity, latent risk
 * factors, disease onsets, death, and the flags that decide what care and devices they have. Nothing here
 * depends on which region's output is being written, so a person who is treated in two regions is the same
 * person in both.
 */
import type { BaselineHazards } from './baseline-hazards.js';
import { DAYS_PER_YEAR, dayOf } from './calendar.js';
import type { Identity, Sex } from './identity.js';
import { makeIdentity } from './identity.js';
import type { Life } from './life.js';
import { simulateLife } from './life.js';
import { Rng } from './random.js';
import type { Region, RegionId } from './regions.js';
import { REGION_IDS, REGIONS } from './regions.js';
import { drawTraits } from './risk-factors.js';

/** Share of people who also receive care in another region (documented in docs/synth.md). */
export const TRAVELLER_SHARE = 0.03;
/**
 * Share of people (by age at the end of the window) who wear an activity tracker at some point: an assumption
 * in line with Korean smartwatch ownership surveys (roughly one adult in six to eight), lower with age.
 */
export function wearableShare(age: number): number {
  if (age < 15) return 0;
  if (age < 50) return 0.15;
  if (age < 70) return 0.08;
  return 0.02;
}
/** Share of adults with a genotype panel result (direct-to-consumer and clinical testing). */
export const GENOTYPED_SHARE = 0.15;
/** Share of people who opt out of research use (a documented assumption: no national figure exists). */
export const OPT_OUT_SHARE = 0.04;

export interface Person {
  readonly key: string;
  readonly home: RegionId;
  readonly index: number;
  readonly sex: Sex;
  readonly identity: Identity;
  readonly life: Life;
  /** The other region this person is also treated in, if any. */
  readonly alsoIn: RegionId | undefined;
  readonly heightCm: number;
  /** Day the person starts wearing a tracker (Infinity: never). */
  readonly wearableFrom: number;
  readonly genotypedOn: number;
  readonly optOut: boolean;
  /** Propensities that tie a person's yearly choices together. */
  readonly screeningPropensity: number;
  readonly vaccinePropensity: number;
}

export interface Window {
  readonly start: number;
  readonly end: number;
  /** Index date of the ground-truth risks, and their horizon in years. */
  readonly index: number;
  readonly horizonYears: number;
}

/** Whether person `index` of `home` also receives care elsewhere, and where: a cheap draw of its own. */
export function travelDestination(seed: string | number, home: RegionId, index: number): RegionId | undefined {
  const rng = Rng.of(seed, home, 'travel', index);
  if (!rng.bernoulli(TRAVELLER_SHARE)) return undefined;
  const region = REGIONS[home];
  const others = REGION_IDS.filter((r) => r !== home);
  return others[rng.weighted(others.map((r) => region.travelTo[r] ?? 0))];
}

function drawAgeAtEnd(rng: Rng, region: Region): { age: number; sex: Sex } {
  const band = rng.weighted(region.ageShares);
  const male = rng.bernoulli(region.maleShares[band] ?? 0.5);
  // The open band 80+: ages 80-99, fewer at each older year (about 12% a year fewer).
  const age = band < 8 ? band * 10 + rng.float() * 10 : 80 + Math.min(19.99, rng.exponential() / 0.12);
  return { age, sex: male ? 'male' : 'female' };
}

/**
 * The age-sex structure applies at the end of the window (the statistics' reference date): people are placed
 * by their age then, and those born inside the window enter at birth. Deaths during the window thin the oldest
 * bands a little (docs/synth.md).
 */
export function makePerson(
  seed: string | number,
  home: RegionId,
  index: number,
  window: Window,
  baseline: BaselineHazards,
): Person {
  const rng = Rng.of(seed, home, 'person', index);
  const region = REGIONS[home];
  const { age, sex } = drawAgeAtEnd(rng, region);
  const birthDay = Math.floor(window.end - age * DAYS_PER_YEAR);
  const birthYear = new Date(birthDay * 86_400_000).getUTCFullYear();
  const traits = drawTraits(rng, sex, birthDay, birthYear);
  const life = simulateLife(
    rng,
    traits,
    baseline,
    window.start,
    window.end,
    window.index + window.horizonYears * DAYS_PER_YEAR,
  );
  const identity = makeIdentity(rng, region, birthDay, sex);
  const cohortHeight =
    sex === 'male' ? 174 - 0.2 * Math.max(0, 1990 - birthYear) : 161 - 0.17 * Math.max(0, 1990 - birthYear);
  const heightCm = cohortHeight + (sex === 'male' ? 5.8 : 5.2) * rng.normal();
  const wearer = rng.bernoulli(wearableShare(age));
  // Tracker adoption grows over the window: the start day is drawn with weight rising linearly in time.
  const wearableFrom = wearer
    ? window.start + Math.sqrt(rng.float()) * (window.end - window.start)
    : Number.POSITIVE_INFINITY;
  const genotyped = age >= 20 && rng.bernoulli(GENOTYPED_SHARE);
  const genotypedOn = genotyped ? window.start + rng.int(window.end - window.start) : Number.POSITIVE_INFINITY;
  return {
    key: `${home}-${index}`,
    home,
    index,
    sex,
    identity,
    life,
    alsoIn: travelDestination(seed, home, index),
    heightCm,
    wearableFrom: Math.max(wearableFrom, birthDay + 15 * DAYS_PER_YEAR),
    genotypedOn: Math.max(genotypedOn, birthDay + 20 * DAYS_PER_YEAR),
    optOut: rng.bernoulli(OPT_OUT_SHARE),
    screeningPropensity: rng.normal(),
    vaccinePropensity: rng.normal(),
  };
}

export function defaultWindow(endYear = 2025, years = 10): Window {
  const end = dayOf(endYear, 12, 31);
  const start = dayOf(endYear - years + 1, 1, 1);
  const horizonYears = 5;
  return { start, end, index: Math.max(start, end + 1 - Math.round(horizonYears * DAYS_PER_YEAR)), horizonYears };
}
