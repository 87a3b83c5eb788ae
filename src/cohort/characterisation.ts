/**
 * Describes a cohort held in `cohort_result`: who is in it (age band at index, sex, region), what they have
 * (conditions and medications recorded up to the index date), their measurements (latest value in the year
 * before index: n, mean, SD, quartiles), and, given an outcome cohort, the incidence rate and a Kaplan-Meier
 * curve. Raw counts: disclosure control is applied where results leave the hub, not here.
 */

import type { ConsentFilter } from '../privacy/index.js';
import { gridCellSql } from '../privacy/index.js';
import type { Database } from '../store/index.js';
import { wholeAgeSql } from './person-age.js';

export interface CountCell {
  key: string;
  persons: number;
}

export interface CodeShare {
  system: string;
  code: string;
  persons: number;
  share: number;
}

export interface MeasurementSummary {
  system: string;
  code: string;
  unit: string | null;
  n: number;
  mean: number;
  sd: number;
  p25: number;
  median: number;
  p75: number;
  /** The two largest absolute values and the sum of absolute values: the release gate's dominance rule. */
  dominance: { largestTwo: number; absoluteTotal: number };
}

export interface Incidence {
  outcomeCohortId: string;
  persons: number;
  events: number;
  personYears: number;
  /** Events per 1,000 person-years. */
  ratePer1000: number;
}

export interface SurvivalPoint {
  days: number;
  atRisk: number;
  events: number;
  survival: number;
}

export interface Characterisation {
  cohortId: string;
  persons: number;
  ageBands: CountCell[];
  sex: CountCell[];
  region: CountCell[];
  conditions: CodeShare[];
  medications: CodeShare[];
  measurements: MeasurementSummary[];
  incidence?: Incidence;
  survival?: SurvivalPoint[];
  /** With a consent filter: its purpose and how many members (of the cohort and the outcome cohort) it left out now. */
  consent?: { purpose: string; asOf: string; leftOut: number };
}

const n = (v: unknown) => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0));

/** One row per person: their first entry (cohorts of `all` occurrences describe people, not entries). */
const FIRST_ENTRY = `(SELECT patient_key, MIN(start_date) AS start_date, MIN(end_date) AS end_date FROM cohort_result WHERE cohort_id = $1 GROUP BY patient_key)`;

async function cells(db: Database, cohortId: string, expr: string): Promise<CountCell[]> {
  const rows = await db.all<{ k: unknown; persons: unknown }>(
    `SELECT ${expr} AS k, COUNT(*) AS persons FROM ${FIRST_ENTRY} r JOIN cohort_person p ON p.patient_key = r.patient_key GROUP BY ${expr} ORDER BY 1`,
    [cohortId],
  );
  return rows.map((r) => ({ key: String(r.k ?? 'unknown'), persons: n(r.persons) }));
}

async function codeShares(
  db: Database,
  cohortId: string,
  domain: string,
  persons: number,
  top: number,
): Promise<CodeShare[]> {
  const rows = await db.all<{ system: string; code: string; persons: unknown }>(
    `SELECT e.system, e.code, COUNT(DISTINCT r.patient_key) AS persons
     FROM ${FIRST_ENTRY} r JOIN cohort_event e ON e.patient_key = r.patient_key
     WHERE e.domain = $2 AND e.event_date <= r.start_date
     GROUP BY e.system, e.code ORDER BY persons DESC, e.system, e.code LIMIT ${Math.trunc(top)}`,
    [cohortId, domain],
  );
  return rows.map((r) => ({
    system: r.system,
    code: r.code,
    persons: n(r.persons),
    share: persons > 0 ? n(r.persons) / persons : 0,
  }));
}

/** Each member's latest value of each measurement in the year up to their first entry (rn = 1). */
const LATEST_MEASUREMENTS = `WITH latest AS (
       SELECT e.patient_key, e.system, e.code, e.unit, e.value,
         ROW_NUMBER() OVER (PARTITION BY e.patient_key, e.system, e.code ORDER BY e.event_date DESC, e.value DESC) AS rn
       FROM ${FIRST_ENTRY} r JOIN cohort_event e ON e.patient_key = r.patient_key
       WHERE e.domain = 'measurement' AND e.value IS NOT NULL AND e.event_date <= r.start_date AND e.event_date >= r.start_date - 365)`;

async function measurements(db: Database, cohortId: string, top: number): Promise<MeasurementSummary[]> {
  const rows = await db.all<Record<string, unknown>>(
    `${LATEST_MEASUREMENTS},
     ranked AS (SELECT system, code, unit, value,
         ROW_NUMBER() OVER (PARTITION BY system, code ORDER BY ABS(value) DESC) AS largest
       FROM latest WHERE rn = 1)
     SELECT system, code, MIN(unit) AS unit, COUNT(*) AS n, AVG(value) AS mean, STDDEV_SAMP(value) AS sd,
       PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY value) AS p25,
       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY value) AS median,
       PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY value) AS p75,
       SUM(CASE WHEN largest <= 2 THEN ABS(value) ELSE 0 END) AS largest_two,
       SUM(ABS(value)) AS absolute_total
     FROM ranked GROUP BY system, code ORDER BY n DESC, system, code LIMIT ${Math.trunc(top)}`,
    [cohortId],
  );
  return rows.map((r) => ({
    system: String(r.system),
    code: String(r.code),
    unit: r.unit === null || r.unit === undefined ? null : String(r.unit),
    n: n(r.n),
    mean: n(r.mean),
    sd: n(r.sd),
    p25: n(r.p25),
    median: n(r.median),
    p75: n(r.p75),
    dominance: { largestTwo: n(r.largest_two), absoluteTotal: n(r.absolute_total) },
  }));
}

/**
 * The contributors of each measurement: the patient keys of the members with a latest value in the year before
 * index, keyed `system|code`. The release log compares a measurement's statistics by this population.
 */
export async function measurementContributors(db: Database, cohortId: string): Promise<Map<string, string[]>> {
  const rows = await db.all<{ system: string; code: string; patient_key: string }>(
    `${LATEST_MEASUREMENTS}
     SELECT system, code, patient_key FROM latest WHERE rn = 1`,
    [cohortId],
  );
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const key = `${r.system}|${r.code}`;
    const keys = out.get(key) ?? [];
    keys.push(String(r.patient_key));
    out.set(key, keys);
  }
  return out;
}

/**
 * The same latest values counted per cell of the disclosure grid (privacy's `gridCellSql`): the input of a
 * released histogram, so no single value leaves this query.
 */
export async function measurementGridCells(
  db: Database,
  cohortId: string,
): Promise<{ system: string; code: string; cell: number | null; count: number }[]> {
  const rows = await db.all<{ system: string; code: string; cell: unknown; n: unknown }>(
    `${LATEST_MEASUREMENTS}
     SELECT system, code, ${gridCellSql('value')} AS cell, COUNT(*) AS n FROM latest WHERE rn = 1 GROUP BY 1, 2, 3`,
    [cohortId],
  );
  return rows.map((r) => ({
    system: String(r.system),
    code: String(r.code),
    cell: r.cell === null || r.cell === undefined ? null : Number(r.cell),
    count: Number(r.n),
  }));
}

/** Time from each person's entry to the outcome cohort's first start after it, censored at the end of their entry. */
export async function timeToOutcome(
  db: Database,
  cohortId: string,
  outcomeId: string,
): Promise<{ days: number; event: boolean }[]> {
  const rows = await db.all<{ start_date: unknown; end_date: unknown; outcome: unknown }>(
    `SELECT r.start_date, r.end_date,
       (SELECT MIN(o.start_date) FROM cohort_result o WHERE o.cohort_id = $2 AND o.patient_key = r.patient_key AND o.start_date > r.start_date) AS outcome
     FROM ${FIRST_ENTRY} r`,
    [cohortId, outcomeId],
  );
  const day = (v: unknown) => Math.floor(new Date(String(v)).getTime() / 86_400_000);
  return rows.map((r) => {
    const start = day(r.start_date);
    const end = day(r.end_date);
    const outcome = r.outcome === null || r.outcome === undefined ? Number.POSITIVE_INFINITY : day(r.outcome);
    return outcome <= end ? { days: outcome - start, event: true } : { days: Math.max(0, end - start), event: false };
  });
}

/** Kaplan-Meier product-limit estimate, one point per distinct event time. */
export function kaplanMeier(times: readonly { days: number; event: boolean }[]): SurvivalPoint[] {
  const sorted = [...times].sort((a, b) => a.days - b.days || Number(b.event) - Number(a.event));
  let atRisk = sorted.length;
  let survival = 1;
  const out: SurvivalPoint[] = [];
  let i = 0;
  while (i < sorted.length) {
    const t = sorted[i]?.days ?? 0;
    let events = 0;
    let leaving = 0;
    while (i < sorted.length && sorted[i]?.days === t) {
      if (sorted[i]?.event) events++;
      leaving++;
      i++;
    }
    if (events > 0) {
      survival *= 1 - events / atRisk;
      out.push({ days: t, atRisk, events, survival });
    }
    atRisk -= leaving;
  }
  return out;
}

/**
 * Leaves out of stored cohort results the members whose consent now refuses the filter's purpose (a stored result
 * predates consents given since it ran); returns how many people were left out.
 */
async function applyConsent(db: Database, cohortIds: readonly string[], consent: ConsentFilter): Promise<number> {
  const ids = cohortIds.map((_, i) => `$${i + 1}`).join(', ');
  const refused = `cohort_id IN (${ids}) AND NOT (${consent.allows('patient_key')})`;
  return db.transaction(async (tx) => {
    const [r] = await tx.all<{ n: unknown }>(
      `SELECT COUNT(DISTINCT patient_key) AS n FROM cohort_result WHERE ${refused}`,
      cohortIds,
    );
    await tx.run(`DELETE FROM cohort_result WHERE ${refused}`, cohortIds);
    return n(r?.n);
  });
}

/**
 * Describes a stored cohort result. With `consent`, members whose consent now refuses its purpose are left out of
 * the stored result first, so a consent given after the run counts at this query.
 */
export async function characterise(
  db: Database,
  cohortId: string,
  options: { outcomeCohortId?: string; top?: number; consent?: ConsentFilter } = {},
): Promise<Characterisation> {
  const top = options.top ?? 20;
  const consent = options.consent;
  const leftOut =
    consent === undefined
      ? undefined
      : await applyConsent(
          db,
          [cohortId, ...(options.outcomeCohortId !== undefined ? [options.outcomeCohortId] : [])],
          consent,
        );
  const [row] = await db.all<{ persons: unknown }>(`SELECT COUNT(*) AS persons FROM ${FIRST_ENTRY} r`, [cohortId]);
  const persons = n(row?.persons);
  const age = wholeAgeSql('r.start_date', 'p');
  const band = `CASE WHEN ${age} >= 80 THEN '80+' ELSE CAST(CAST(FLOOR(${age} / 10) * 10 AS INTEGER) AS VARCHAR) || '-' || CAST(CAST(FLOOR(${age} / 10) * 10 + 9 AS INTEGER) AS VARCHAR) END`;
  const result: Characterisation = {
    cohortId,
    persons,
    ageBands: await cells(db, cohortId, band),
    sex: await cells(db, cohortId, 'p.gender'),
    region: await cells(db, cohortId, 'p.region'),
    conditions: await codeShares(db, cohortId, 'condition', persons, top),
    medications: await codeShares(db, cohortId, 'medication', persons, top),
    measurements: await measurements(db, cohortId, top),
  };
  if (consent !== undefined) {
    result.consent = { purpose: consent.purpose, asOf: consent.asOf.toISOString(), leftOut: leftOut ?? 0 };
  }
  if (options.outcomeCohortId !== undefined) {
    const times = await timeToOutcome(db, cohortId, options.outcomeCohortId);
    const events = times.filter((t) => t.event).length;
    const personYears = times.reduce((s, t) => s + t.days, 0) / 365.25;
    result.incidence = {
      outcomeCohortId: options.outcomeCohortId,
      persons: times.length,
      events,
      personYears,
      ratePer1000: personYears > 0 ? (1000 * events) / personYears : 0,
    };
    result.survival = kaplanMeier(times);
  }
  return result;
}
