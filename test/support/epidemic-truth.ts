import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIsoDay } from '../../src/surveillance/index.js';

/** One week of the synthetic generator's `truth/epidemic.ndjson`. */
export interface EpidemicWeek {
  weekEnd: string;
  iliVisits: number;
  expectedIliVisits: number;
  confirmedInfluenza: number;
}

/** The 2023-24 season's rounds, as FluSight ran them: Saturdays 2023-10-14 … 2024-05-04 (30 rounds). */
export const FIRST_ROUND_2023_24 = parseIsoDay('2023-10-14') as number;
export const ROUNDS_2023_24: readonly number[] = Array.from({ length: 30 }, (_, i) => FIRST_ROUND_2023_24 + 7 * i);

/** The true weekly epidemic of a generated region (`generateRegion`'s output folder). */
export function readEpidemicTruth(out: string): EpidemicWeek[] {
  return readFileSync(join(out, 'truth', 'epidemic.ndjson'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EpidemicWeek);
}
