/**
 * Builds the event index from the hub's analytic tables (`analyticTable` of the views module). Dates in the views
 * are ISO text (FHIR dates may be partial); here they become SQL DATEs once, so cohort rules compare dates, not
 * strings. A partial date takes its first day (2019-03 → 2019-03-01). The index is rebuilt when the analytic tables
 * changed since the last build (their refresh stamps are compared), inside one transaction. Rows are written sorted
 * by code: a concept set then touches few row groups (DuckDB prunes them by min/max; measured below in
 * bench/cohort.ts).
 */
import type { Clock } from '../core/index.js';
import type { Database } from '../store/index.js';
import type { BuiltInViewName } from '../views/index.js';
import { AnalyticTables, analyticTable, SHARD_COLUMN } from '../views/index.js';

export const FHIR_ORIGIN = 'fhir';

/**
 * The event index, for SQL in other modules: a published read-only relation with the columns docs/cohorts.md
 * documents (patient_key, domain, system, code, event_date DATE, value, unit, origin). Only this module writes it.
 */
export const EVENT_TABLE = 'cohort_event';

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/** An ISO date or date-time column as a SQL DATE (the local calendar date as written). */
export function isoToDate(col: string): string {
  return `CASE WHEN LENGTH(${col}) >= 10 THEN CAST(SUBSTR(${col}, 1, 10) AS DATE)
    WHEN LENGTH(${col}) = 7 THEN CAST(${col} || '-01' AS DATE)
    WHEN LENGTH(${col}) = 4 THEN CAST(${col} || '-01-01' AS DATE) END`;
}

interface Source {
  domain: string;
  view: BuiltInViewName;
  system: string;
  code: string;
  date: string;
  value: string;
  unit: string;
  where?: string;
}

/** Which view column feeds which event field, per domain. */
const SOURCES: readonly Source[] = [
  {
    domain: 'condition',
    view: 'condition',
    system: 'code_system',
    code: 'code_code',
    date: 'COALESCE(onset_start, recorded_date)',
    value: 'NULL',
    unit: 'NULL',
    where: "(verification_status IS NULL OR verification_status NOT IN ('entered-in-error', 'refuted'))",
  },
  {
    domain: 'measurement',
    view: 'observation',
    system: 'code_system',
    code: 'code_code',
    date: 'effective_start',
    value: 'value_quantity',
    unit: 'unit',
    where: "value_quantity IS NOT NULL AND (status IS NULL OR status <> 'entered-in-error')",
  },
  {
    domain: 'observation',
    view: 'observation',
    system: 'code_system',
    code: 'code_code',
    date: 'effective_start',
    value: 'NULL',
    unit: 'NULL',
    where: "value_quantity IS NULL AND (status IS NULL OR status <> 'entered-in-error')",
  },
  {
    // A coded answer is an event too, so "current smoker" (the answer's code) can be a concept set.
    domain: 'observation',
    view: 'observation',
    system: 'value_code_system',
    code: 'value_code',
    date: 'effective_start',
    value: 'NULL',
    unit: 'NULL',
    where: "value_code IS NOT NULL AND (status IS NULL OR status <> 'entered-in-error')",
  },
  {
    domain: 'medication',
    view: 'medication_request',
    system: 'medication_system',
    code: 'medication_code',
    date: 'authored_on',
    value: 'NULL',
    unit: 'NULL',
    where: "(status IS NULL OR status <> 'entered-in-error')",
  },
  {
    domain: 'procedure',
    view: 'procedure',
    system: 'code_system',
    code: 'code_code',
    date: 'performed_start',
    value: 'NULL',
    unit: 'NULL',
    where: "(status IS NULL OR status <> 'entered-in-error')",
  },
  {
    domain: 'encounter',
    view: 'encounter',
    system: 'type_system',
    code: 'type_code',
    date: 'start',
    value: 'NULL',
    unit: 'NULL',
  },
  {
    domain: 'encounter',
    view: 'encounter',
    system: `'${ACT_CODE}'`,
    code: 'class_code',
    date: 'start',
    value: 'NULL',
    unit: 'NULL',
  },
  {
    domain: 'immunization',
    view: 'immunization',
    system: 'vaccine_system',
    code: 'vaccine_code',
    date: 'occurrence',
    value: 'NULL',
    unit: 'NULL',
    where: "(status IS NULL OR status = 'completed')",
  },
];

/**
 * Bumped when the event index's SQL changes meaning: an index built by another version is rebuilt at open. It is
 * part of the source stamp too, so the rebuild happens even when the analytic tables have not changed.
 */
export const EVENT_INDEX_VERSION = 'event-index-3';

/** The analytic tables' refresh stamp (with the index version): changes whenever any of them was refreshed. */
async function viewsStamp(db: Database): Promise<string> {
  const tables = await AnalyticTables.refreshed(db);
  return [EVENT_INDEX_VERSION, ...tables.map((t) => `${t.view}:${String(t.refreshedAt)}:${String(t.rows)}`)].join('|');
}

/**
 * One source's events as rows (patient_key, domain, system, code, event_date, value, unit, then `extra`), from its
 * analytic table; `key` is the column the patient key is read from.
 */
function eventsOf(
  s: (typeof SOURCES)[number],
  tableOf: (view: BuiltInViewName) => string,
  key = 'patient_key',
  extra = '',
): string {
  const date = isoToDate(s.date);
  return `SELECT ${key} AS patient_key, '${s.domain}' AS domain, ${s.system} AS system, ${s.code} AS code, ${date} AS event_date,
      CAST(${s.value} AS DOUBLE PRECISION) AS value, CAST(${s.unit} AS VARCHAR) AS unit${extra}
    FROM ${tableOf(s.view)}
    WHERE patient_key IS NOT NULL AND ${s.system} IS NOT NULL AND ${s.code} IS NOT NULL AND ${date} IS NOT NULL
      ${s.where !== undefined ? `AND ${s.where}` : ''}`;
}

/**
 * The event rows (patient_key, domain, system, code, event_date, value, unit) of the relations `tableOf` names, each
 * with its analytic table's columns: the index's own rows over the analytic tables, or the same rows over other
 * relations of those columns (a citizen's records at a peer, flattened for one request into temporary tables).
 */
export function eventRowsSql(tableOf: (view: BuiltInViewName) => string): string {
  return SOURCES.map((s) => eventsOf(s, tableOf)).join('\n UNION ALL\n');
}

/** The columns of the event index a build writes, in the order `eventIndexSelects` gives them. */
export const EVENT_COLUMNS = ['patient_key', 'domain', 'system', 'code', 'event_date', 'value', 'unit', 'origin'];

/**
 * The SELECTs whose rows are the FHIR part of the event index, one per source, each over one analytic table. The
 * patient key is read from the table's `_shard_key`, which is the same value wherever `patient_key` is not NULL (the
 * only rows taken) and is the column a Citus cluster distributes the table by: the event index is distributed by
 * `patient_key` in the same co-location group, so Citus runs each `INSERT … SELECT` within every shard
 * (`Database.insertSelects`) instead of pulling every event through the coordinator.
 */
export function eventIndexSelects(): string[] {
  return SOURCES.map((s) => eventsOf(s, analyticTable, SHARD_COLUMN, `, '${FHIR_ORIGIN}' AS origin`));
}

/** Rebuilds the FHIR part of the event index if the analytic tables changed; returns whether it did. */
export async function refreshEventIndex(db: Database, clock: Clock, force = false): Promise<boolean> {
  const stamp = await viewsStamp(db);
  const [state] = await db.all<{ source_stamp: string }>(
    'SELECT source_stamp FROM cohort_index_state WHERE origin = $1',
    [FHIR_ORIGIN],
  );
  if (!force && state?.source_stamp === stamp) return false;
  await db.transaction(async (tx) => {
    await tx.run('DELETE FROM cohort_event WHERE origin = $1', [FHIR_ORIGIN]);
    await tx.run('DELETE FROM cohort_person WHERE origin = $1', [FHIR_ORIGIN]);
    await tx.run('DELETE FROM cohort_vocabulary WHERE origin = $1', [FHIR_ORIGIN]);
    // One statement for every source where the engine allows (`insertSelects`): written one INSERT per source, DuckDB
    // 1.5 lost the rows of a large insert (more than a row group, written optimistically) that followed another large
    // one in the same transaction: at 100,000 people every encounter event was invisible to the rest of the rebuild
    // and, once committed, survived the next rebuild's DELETE (issue 17's validation bench found it as populations
    // shrunk to a sixth). Sorted by code, where the engine keeps rows in that order.
    await tx.insertSelects(EVENT_TABLE, EVENT_COLUMNS, eventIndexSelects(), '3, 4, 1');
    // Observation runs from the first to the last record (or death): what the hub can see of each person.
    await tx.run(
      `INSERT INTO cohort_person (patient_key, gender, birth_year, birth_month, birth_day, region, death_date, observation_start, observation_end, origin)
       SELECT p.id, p.gender,
         CAST(SUBSTR(p.birth_date, 1, 4) AS INTEGER),
         CASE WHEN LENGTH(p.birth_date) >= 7 THEN CAST(SUBSTR(p.birth_date, 6, 2) AS INTEGER) ELSE 7 END,
         CASE WHEN LENGTH(p.birth_date) >= 10 THEN CAST(SUBSTR(p.birth_date, 9, 2) AS INTEGER) END,
         p.region, ${isoToDate('p.deceased_date')}, o.first_date, o.last_date, '${FHIR_ORIGIN}'
       FROM ${analyticTable('patient')} p
       LEFT JOIN (SELECT patient_key, MIN(event_date) AS first_date, MAX(event_date) AS last_date
                  FROM cohort_event WHERE origin = '${FHIR_ORIGIN}' GROUP BY patient_key) o ON o.patient_key = p.id
       WHERE p.birth_date IS NOT NULL`,
    );
    await tx.run(
      `INSERT INTO cohort_vocabulary (origin, domain, system, code, events)
       SELECT origin, domain, system, code, COUNT(*) FROM cohort_event WHERE origin = $1 GROUP BY origin, domain, system, code`,
      [FHIR_ORIGIN],
    );
    await tx.run('DELETE FROM cohort_index_state WHERE origin = $1', [FHIR_ORIGIN]);
    await tx.run('INSERT INTO cohort_index_state (origin, source_stamp, built_at) VALUES ($1, $2, $3)', [
      FHIR_ORIGIN,
      stamp,
      clock.now(),
    ]);
  });
  await db.analyze(['cohort_event', 'cohort_person', 'cohort_vocabulary']);
  return true;
}

/**
 * The first and last event date (ISO `YYYY-MM-DD`) of a domain in the event index, both null when it holds no event
 * of that domain.
 */
export async function eventDateSpan(
  db: Database,
  domain: string,
): Promise<{ first: string | null; last: string | null }> {
  const [span] = await db.all<{ lo: string | null; hi: string | null }>(
    'SELECT CAST(MIN(event_date) AS VARCHAR) AS lo, CAST(MAX(event_date) AS VARCHAR) AS hi FROM cohort_event WHERE domain = $1',
    [domain],
  );
  return { first: span?.lo ?? null, last: span?.hi ?? null };
}
