import { createHash } from 'node:crypto';
import type { Clock } from '../core/index.js';
import { HealthmeshError } from '../core/index.js';
import type { ConsentFilter } from '../privacy/index.js';
import type { Database } from '../store/index.js';
import { compileCohort, conceptSetQueries } from './cohort-compiler.js';
import type { CohortDefinition } from './cohort-definition.js';
import { validateCohortDefinition } from './cohort-validation.js';

export interface AttritionStep {
  step: string;
  persons: number;
}

export interface CohortRun {
  cohortId: string;
  name: string;
  /** Distinct persons in the cohort. */
  persons: number;
  /** Cohort entries (one per person for `first`; possibly more for `all`). */
  entries: number;
  attrition: AttritionStep[];
  /**
   * The purpose the cohort ran for and how many people met the definition but were left out because their
   * consent refuses it (raw: released through disclosure control wherever it leaves the hub). Absent for a run
   * without a purpose (`runCohort` called without a consent filter, as tests of the compiler do).
   */
  consent?: CohortConsent;
}

export interface CohortConsent {
  purpose: string;
  /** The time consents were read as of (ISO). */
  asOf: string;
  leftOut: number;
}

/**
 * A stable id for a definition (and the purpose it runs for): the same definition run twice for the same purpose
 * replaces its earlier result; run for another purpose it is another result, since consent selects other people.
 */
export function cohortIdOf(def: CohortDefinition, purpose?: string): string {
  const text = purpose === undefined ? JSON.stringify(def) : JSON.stringify([def, purpose]);
  return `c${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

function num(v: unknown): number {
  return typeof v === 'bigint' ? Number(v) : Number(v ?? 0);
}

/**
 * Runs a definition over the event index and keeps the result in `cohort_result` (cohort id, patient key,
 * start, end) with its attrition in `cohort_run`. The flags are computed once into a temporary table, which
 * both the attrition and the result read. With a consent filter, people whose consent refuses its purpose are
 * left out of the attrition and the result; how many of them met the whole definition is `consent.leftOut`.
 */
export async function runCohort(
  db: Database,
  input: unknown,
  clock: Clock,
  consent?: ConsentFilter,
): Promise<CohortRun> {
  const def = validateCohortDefinition(input);
  // Concept sets first (small queries on the vocabulary), so the main statement filters events by constant codes.
  const resolved = new Map<string, { system: string; code: string }[]>();
  for (const q of conceptSetQueries(def)) {
    resolved.set(q.key, await db.all<{ system: string; code: string }>(q.sql, q.params));
  }
  const compiled = compileCohort(def, resolved);
  const cohortId = cohortIdOf(def, consent?.purpose);
  const temp = `cohort_flags_${cohortId}`;
  const all = ['r_obs = 1', ...Array.from({ length: compiled.ruleCount }, (_, k) => `r${k} = 1`)];
  const allowed = consent !== undefined ? consent.allows('f.patient_key') : 'TRUE';
  return db.transaction(async (tx) => {
    await tx.run(
      `CREATE TEMPORARY TABLE ${temp} AS SELECT f.*, CASE WHEN ${allowed} THEN 1 ELSE 0 END AS c_ok FROM (${compiled.flagsSql}) f`,
      compiled.params,
    );
    {
      const counts = [`COUNT(DISTINCT CASE WHEN c_ok = 1 THEN patient_key END) AS n0`];
      for (let i = 1; i <= all.length; i++) {
        counts.push(
          `COUNT(DISTINCT CASE WHEN c_ok = 1 AND ${all.slice(0, i).join(' AND ')} THEN patient_key END) AS n${i}`,
        );
      }
      counts.push(`SUM(CASE WHEN c_ok = 1 AND ${all.join(' AND ')} THEN 1 ELSE 0 END) AS entries`);
      counts.push(`COUNT(DISTINCT CASE WHEN c_ok = 0 AND ${all.join(' AND ')} THEN patient_key END) AS left_out`);
      const [row] = await tx.all(`SELECT ${counts.join(', ')} FROM ${temp}`);
      const attrition = compiled.steps.map((step, i) => ({ step, persons: num(row?.[`n${i}`]) }));
      const persons = attrition[attrition.length - 1]?.persons ?? 0;
      await tx.run('DELETE FROM cohort_result WHERE cohort_id = $1', [cohortId]);
      await tx.run('DELETE FROM cohort_run WHERE cohort_id = $1', [cohortId]);
      await tx.run(
        `INSERT INTO cohort_result (cohort_id, patient_key, start_date, end_date)
         SELECT $1, patient_key, index_date, CASE WHEN end_date IS NULL OR end_date < index_date THEN index_date ELSE end_date END FROM ${temp} WHERE c_ok = 1 AND ${all.join(' AND ')}`,
        [cohortId],
      );
      const run: CohortRun = { cohortId, name: def.name, persons, entries: num(row?.entries), attrition };
      if (consent !== undefined) {
        run.consent = { purpose: consent.purpose, asOf: consent.asOf.toISOString(), leftOut: num(row?.left_out) };
      }
      await tx.run(
        'INSERT INTO cohort_run (cohort_id, name, definition, created_at, persons, entries, attrition, purpose, left_out) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [
          cohortId,
          def.name,
          JSON.stringify(def),
          clock.now(),
          run.persons,
          run.entries,
          JSON.stringify(attrition),
          run.consent?.purpose ?? null,
          run.consent?.leftOut ?? null,
        ],
      );
      await tx.run(`DROP TABLE ${temp}`);
      return run;
    }
  });
}

/** A stored run as `listCohortRuns` gives it. */
export interface CohortRunSummary {
  cohortId: string;
  name: string;
  persons: number;
  createdAt: Date;
}

/** The runs stored on this hub, oldest first. */
export async function listCohortRuns(db: Database): Promise<CohortRunSummary[]> {
  const rows = await db.all<{ cohort_id: string; name: string; persons: unknown; created_at: unknown }>(
    'SELECT cohort_id, name, persons, created_at FROM cohort_run ORDER BY created_at',
  );
  return rows.map((r) => ({
    cohortId: r.cohort_id,
    name: r.name,
    persons: num(r.persons),
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(String(r.created_at)),
  }));
}

/**
 * The entries of a stored result per start day (ISO `YYYY-MM-DD`), in no order: raw counts, disclosure control is
 * the caller's. A cohort with `all` occurrences counts a person once per entry.
 */
export async function entriesByDay(db: Database, cohortId: string): Promise<{ day: string; entries: number }[]> {
  const rows = await db.all<{ d: string; n: unknown }>(
    'SELECT CAST(start_date AS VARCHAR) AS d, COUNT(*) AS n FROM cohort_result WHERE cohort_id = $1 GROUP BY start_date',
    [cohortId],
  );
  return rows.map((r) => ({ day: r.d, entries: num(r.n) }));
}

/** The stored runs whose result includes any of `patientKeys` (a citizen's records), in no order. */
export async function cohortIdsIncluding(db: Database, patientKeys: readonly string[]): Promise<string[]> {
  if (patientKeys.length === 0) return [];
  const rows = await db.all<{ cohort_id: string }>(
    `SELECT DISTINCT cohort_id FROM cohort_result WHERE ${db.inList('patient_key', '$1')}`,
    [[...patientKeys]],
  );
  return rows.map((r) => r.cohort_id);
}

/** A stored run, or COHORT_NOT_FOUND. */
export async function loadCohortRun(
  db: Database,
  cohortId: string,
): Promise<
  CohortRun & { definition: CohortDefinition /** The purpose it ran for, null without one. */; purpose: string | null }
> {
  const [r] = await db.all<{
    name: string;
    definition: string;
    persons: unknown;
    entries: unknown;
    attrition: string;
    purpose: string | null;
    left_out: unknown;
  }>('SELECT name, definition, persons, entries, attrition, purpose, left_out FROM cohort_run WHERE cohort_id = $1', [
    cohortId,
  ]);
  if (r === undefined)
    throw new HealthmeshError('COHORT_NOT_FOUND', `no cohort ${cohortId} on this hub`, { path: 'cohortId' });
  return {
    cohortId,
    name: r.name,
    persons: num(r.persons),
    entries: num(r.entries),
    attrition: JSON.parse(r.attrition) as AttritionStep[],
    definition: JSON.parse(r.definition) as CohortDefinition,
    purpose: r.purpose,
  };
}
