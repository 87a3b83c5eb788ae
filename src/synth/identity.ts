import { isoDate } from './calendar.js';
import type { Rng } from './random.js';
import type { Region } from './regions.js';

/**
 * Direct identifiers that look real, so pseudonymisation has real work to do. None of them belongs to a real
 * person: names are drawn from syllables, resident registration numbers from random digits.
 */

/** Surname shares (%) of the 2015 Population and Housing Census (Statistics Korea), the 20 most common. */
const SURNAMES: readonly [string, number][] = [
  ['김', 21.5],
  ['이', 14.7],
  ['박', 8.4],
  ['최', 4.7],
  ['정', 4.3],
  ['강', 2.3],
  ['조', 2.1],
  ['윤', 2.1],
  ['장', 2.0],
  ['임', 1.6],
  ['한', 1.5],
  ['오', 1.5],
  ['서', 1.5],
  ['신', 1.5],
  ['권', 1.4],
  ['황', 1.4],
  ['안', 1.3],
  ['송', 1.3],
  ['전', 1.1],
  ['홍', 1.1],
];
const SURNAME_WEIGHTS = SURNAMES.map(([, w]) => w);
const GIVEN_MALE = '민준서도현우지호성영진동상재훈석수철용태'.split('');
const GIVEN_FEMALE = '서지민수영현은미경희윤아하연유숙정혜자순'.split('');

export type Sex = 'male' | 'female';

export interface Identity {
  family: string;
  given: string;
  /** 주민등록번호, `YYMMDD-GNNNNNN`. */
  rrn: string;
  mobile: string;
  line: string;
  district: string;
  postalCode: string;
}

function digits(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(rng.int(10));
  return s;
}

/**
 * A resident registration number: birth date, a sex-and-century digit (1/2 born 1900-1999, 3/4 from 2000),
 * random digits, and the check digit of the pre-2020 scheme.
 */
export function residentRegistrationNumber(rng: Rng, birthDay: number, sex: Sex): string {
  const iso = isoDate(birthDay);
  const century2000 = iso.startsWith('20');
  const g = (sex === 'male' ? 1 : 2) + (century2000 ? 2 : 0);
  const body = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${g}${digits(rng, 5)}`;
  const weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
  let sum = 0;
  for (let i = 0; i < 12; i++) sum += Number(body[i]) * (weights[i] ?? 0);
  const check = (11 - (sum % 11)) % 10;
  return `${body.slice(0, 6)}-${body.slice(6)}${check}`;
}

export function makeIdentity(rng: Rng, region: Region, birthDay: number, sex: Sex): Identity {
  const family = SURNAMES[rng.weighted(SURNAME_WEIGHTS)]?.[0] ?? '김';
  const pool = sex === 'male' ? GIVEN_MALE : GIVEN_FEMALE;
  const first = rng.pick(pool);
  let second = rng.pick(pool);
  if (second === first) second = rng.pick(pool);
  const district = region.districts[rng.weighted(region.districts.map((d) => d.weight))]?.name ?? '';
  const apartment = rng.bernoulli(0.6)
    ? ` ${100 + rng.int(20)}동 ${1 + rng.int(25)}${String(1 + rng.int(8)).padStart(2, '0')}호`
    : '';
  return {
    family,
    given: first + second,
    rrn: residentRegistrationNumber(rng, birthDay, sex),
    mobile: `010-${digits(rng, 4)}-${digits(rng, 4)}`,
    line: `${rng.pick(region.streets)} ${1 + rng.int(300)}${apartment}`,
    district,
    postalCode: `${rng.pick(region.postalPrefix)}${digits(rng, 3)}`,
  };
}
