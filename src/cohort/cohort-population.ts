/**
 * Populations for analyses over the event index (models' features): people with an index date each, written into
 * a table the caller made, so the caller's own SQL joins them without reading this module's tables.
 */

import type { Database, SqlValue } from '../store/index.js';
import { wholeAgeSql } from './person-age.js';

/** What the people of an index date must also meet when chosen by criteria. */
export interface ObservedCriteria {
  /** Days of observation required before the index date; the observation period must also reach the date. */
  priorDays: number;
  /** Whole years of age on the index date. */
  age?: { min?: number; max?: number };
}

/** For each of the (distinct) index dates, everyone of the event index alive on it with a known birth year. */
export interface CriteriaPopulation {
  indexDates: readonly string[];
  /** Omitted: no observation or age requirement. */
  observed?: ObservedCriteria;
}

/** Who a population holds: the entries of a stored cohort result (index date = entry start), or criteria. */
export type PopulationSource = { cohortId: string } | CriteriaPopulation;

/** Columns `fillPopulation` writes, in this order. */
export const POPULATION_COLUMNS =
  'rid BIGINT, patient_key VARCHAR, gender VARCHAR, birth_year INTEGER, birth_month INTEGER, birth_day INTEGER, region VARCHAR, index_date DATE';

/** Whole years of age on the date `d` (an SQL expression). */
const wholeAge = (d: string) => wholeAgeSql(d, 'p');

/**
 * Inserts a population into the caller's `table` (columns `POPULATION_COLUMNS`, usually a temporary table of the
 * caller's transaction, on the same `db`): one row per distinct (person, index date), numbered 1… by `rid`, with the
 * person's sex, birth year and month and region. With `patients`, only those patient keys.
 */
export async function fillPopulation(
  db: Database,
  table: string,
  source: PopulationSource,
  patients?: readonly string[],
): Promise<void> {
  const params: SqlValue[] = [];
  const add = (v: SqlValue) => {
    params.push(v);
    return `$${params.length}`;
  };
  const cols = 'p.patient_key, p.gender, p.birth_year, p.birth_month, p.birth_day, p.region';
  const only = patients !== undefined ? ` AND ${db.inList('p.patient_key', add([...patients]))}` : '';
  let select: string;
  if ('cohortId' in source) {
    select = `SELECT DISTINCT ${cols}, r.start_date AS index_date FROM cohort_result r
      JOIN cohort_person p ON p.patient_key = r.patient_key WHERE r.cohort_id = ${add(source.cohortId)}${only}`;
  } else {
    // One SELECT per date, each date's population chosen as on the index date.
    select = source.indexDates
      .map((date) => {
        const d = `CAST(${add(date)} AS DATE)`;
        const conds = [`(p.death_date IS NULL OR p.death_date > ${d})`, 'p.birth_year IS NOT NULL'];
        const observed = source.observed;
        if (observed !== undefined) {
          conds.push(
            `p.observation_start IS NOT NULL AND p.observation_start <= ${d} - ${Math.trunc(observed.priorDays)} AND p.observation_end >= ${d}`,
          );
          if (observed.age?.min !== undefined) conds.push(`${wholeAge(d)} >= ${add(observed.age.min)}`);
          if (observed.age?.max !== undefined) conds.push(`${wholeAge(d)} <= ${add(observed.age.max)}`);
        }
        return `SELECT DISTINCT ${cols}, ${d} AS index_date FROM cohort_person p WHERE ${conds.join(' AND ')}${only}`;
      })
      .join('\nUNION ALL\n');
  }
  // ROW_NUMBER() without a window order numbers rows as they stream by (DuckDB's streaming window): no sort.
  await db.run(`INSERT INTO ${table} SELECT ROW_NUMBER() OVER () AS rid, x.* FROM (${select}) x`, params);
}
