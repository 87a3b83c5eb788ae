/**
 * OMOP CDM v5.3 / v5.4 import into the event index. OMOP is already an analytic model, so it does not pass
 * through FHIR and the views: its clinical tables map straight to `cohort_event`, its persons to
 * `cohort_person`, its `concept_ancestor` to the hierarchy concept sets use. Every event is written twice: coded
 * by OMOP concept id (system `https://fhir-terminology.ohdsi.org`) and by the concept's own vocabulary code
 * (SNOMED CT, RxNorm, LOINC, ICD-10…) when the CDM ships that concept, so one definition runs over FHIR and OMOP.
 *
 * Person ids are pseudonymised with the hub's key (`HMAC(source, person_id)`), like FHIR Patient ids; source
 * values (`*_source_value`) are not loaded at all: they may hold local identifiers. The whole import is one
 * transaction: CSVs are staged as text tables, transformed in SQL, and the staging is dropped.
 */
import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { parse } from 'csv-parse';
import type { Clock } from '../core/index.js';
import { checkSourceName, HealthmeshError } from '../core/index.js';
import type { Pseudonymiser } from '../privacy/index.js';
import type { Database, SqlValue } from '../store/index.js';

export const OMOP_CONCEPT_SYSTEM = 'https://fhir-terminology.ohdsi.org';

/** OMOP vocabulary ids whose codes we also index under their FHIR system URI. */
const VOCABULARY_SYSTEMS: Readonly<Record<string, string>> = {
  SNOMED: 'http://snomed.info/sct',
  RxNorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  LOINC: 'http://loinc.org',
  ICD10CM: 'http://hl7.org/fhir/sid/icd-10-cm',
  ICD10: 'http://hl7.org/fhir/sid/icd-10',
  CVX: 'http://hl7.org/fhir/sid/cvx',
  ATC: 'http://www.whocc.no/atc',
};

/** The CDM tables we read, and the columns each must have. */
const TABLES: Readonly<Record<string, readonly string[]>> = {
  person: ['person_id', 'gender_concept_id', 'year_of_birth'],
  observation_period: ['person_id', 'observation_period_start_date', 'observation_period_end_date'],
  death: ['person_id', 'death_date'],
  condition_occurrence: ['person_id', 'condition_concept_id', 'condition_start_date'],
  drug_exposure: ['person_id', 'drug_concept_id', 'drug_exposure_start_date'],
  procedure_occurrence: ['person_id', 'procedure_concept_id', 'procedure_date'],
  measurement: ['person_id', 'measurement_concept_id', 'measurement_date'],
  observation: ['person_id', 'observation_concept_id', 'observation_date'],
  visit_occurrence: ['person_id', 'visit_concept_id', 'visit_start_date'],
  concept: ['concept_id', 'vocabulary_id', 'concept_code'],
  concept_ancestor: ['ancestor_concept_id', 'descendant_concept_id'],
  cdm_source: [],
};
const REQUIRED = ['person', 'observation_period'];

/** The CDM's clinical tables and the event-index domain each is loaded into. */
export const OMOP_EVENT_TABLES: readonly {
  table: string;
  domain: string;
  concept: string;
  date: string;
  value?: string;
  unit?: string;
}[] = [
  { table: 'condition_occurrence', domain: 'condition', concept: 'condition_concept_id', date: 'condition_start_date' },
  { table: 'drug_exposure', domain: 'medication', concept: 'drug_concept_id', date: 'drug_exposure_start_date' },
  { table: 'procedure_occurrence', domain: 'procedure', concept: 'procedure_concept_id', date: 'procedure_date' },
  {
    table: 'measurement',
    domain: 'measurement',
    concept: 'measurement_concept_id',
    date: 'measurement_date',
    value: 'value_as_number',
    unit: 'unit_source_value',
  },
  {
    table: 'observation',
    domain: 'observation',
    concept: 'observation_concept_id',
    date: 'observation_date',
    value: 'value_as_number',
  },
  { table: 'visit_occurrence', domain: 'encounter', concept: 'visit_concept_id', date: 'visit_start_date' },
];

export interface OmopImportSummary {
  cdmVersion: string | null;
  persons: number;
  events: Record<string, number>;
  conceptAncestors: number;
}

/** `condition_occurrence.csv.gz`, `CONDITION_OCCURRENCE.csv`… → table name and path. */
function findFiles(dir: string): Map<string, string> {
  if (!existsSync(dir)) throw new HealthmeshError('INGEST_UNREADABLE', `no OMOP CDM folder at ${dir}`, { file: dir });
  const found = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const m = /^([a-z_]+)\.csv(\.gz)?$/i.exec(name);
    if (m?.[1] !== undefined && m[1].toLowerCase() in TABLES) found.set(m[1].toLowerCase(), join(dir, name));
  }
  if (found.size === 0 && existsSync(join(dir, 'csv'))) return findFiles(join(dir, 'csv'));
  return found;
}

async function stageTable(tx: Database, table: string, file: string): Promise<string[]> {
  const input = createReadStream(file);
  const source = /\.gz$/i.test(file) ? input.pipe(createGunzip()) : input;
  const parser = source.pipe(parse({ bom: true, relax_column_count: false, skip_empty_lines: true }));
  let header: string[] | undefined;
  let batch: SqlValue[][] = [];
  let line = 1;
  const stage = `omop_stage_${table}`;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (header === undefined) {
        header = record.map((h) => h.trim().toLowerCase());
        const missing = (TABLES[table] ?? []).filter((c) => !header?.includes(c));
        if (missing.length > 0) {
          throw new HealthmeshError('OMOP_INVALID_TABLE', `${file}: missing column(s) ${missing.join(', ')}`, {
            file,
            line: 1,
            path: missing[0],
          });
        }
        await tx.run(`CREATE TABLE ${stage} (${header.map((h) => `"${h}" VARCHAR`).join(', ')})`);
        continue;
      }
      line++;
      batch.push(record.map((v) => (v === '' ? null : v)));
      if (batch.length >= 20_000) {
        await tx.append(stage, batch);
        batch = [];
      }
    }
  } catch (e) {
    if (e instanceof HealthmeshError) throw e;
    throw new HealthmeshError(
      'OMOP_INVALID_TABLE',
      `${file} line ${line + 1}: ${e instanceof Error ? e.message : String(e)}`,
      { file, line: line + 1 },
      { cause: e },
    );
  }
  if (header === undefined)
    throw new HealthmeshError('OMOP_INVALID_TABLE', `${file}: empty file, no header`, { file, line: 1 });
  if (batch.length > 0) await tx.append(stage, batch);
  return header;
}

const num = (v: unknown) => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0));

export async function importOmop(
  db: Database,
  dir: string,
  options: { source: string; region: string; pseudonymiser: Pseudonymiser; clock: Clock },
): Promise<OmopImportSummary> {
  checkSourceName(options.source);
  const files = findFiles(dir);
  for (const t of REQUIRED) {
    if (!files.has(t))
      throw new HealthmeshError('OMOP_INVALID_TABLE', `${dir}: the CDM has no ${t} table`, { file: dir, path: t });
  }
  const origin = `omop:${options.source}`;
  return db.transaction(async (tx) => {
    const staged: string[] = [];
    {
      const headers = new Map<string, string[]>();
      for (const [table, file] of files) {
        headers.set(table, await stageTable(tx, table, file));
        staged.push(`omop_stage_${table}`);
      }
      // Keyed pseudonyms for person ids, computed here (the key never enters SQL).
      const ids = await tx.all<{ person_id: string }>(
        'SELECT DISTINCT person_id FROM omop_stage_person WHERE person_id IS NOT NULL',
      );
      await tx.run('CREATE TABLE omop_stage_key (person_id VARCHAR NOT NULL, patient_key VARCHAR NOT NULL)');
      staged.push('omop_stage_key');
      const keys = ids.map((r) => [r.person_id, options.pseudonymiser.patientKey(options.source, r.person_id)]);
      for (let i = 0; i < keys.length; i += 20_000) await tx.append('omop_stage_key', keys.slice(i, i + 20_000));

      await tx.run('DELETE FROM cohort_event WHERE origin = $1', [origin]);
      await tx.run('DELETE FROM cohort_person WHERE origin = $1', [origin]);
      await tx.run('DELETE FROM cohort_vocabulary WHERE origin = $1', [origin]);
      const death = files.has('death')
        ? 'LEFT JOIN (SELECT person_id, MIN(CAST(death_date AS DATE)) AS death_date FROM omop_stage_death GROUP BY person_id) d ON d.person_id = p.person_id'
        : 'LEFT JOIN (SELECT NULL AS person_id, CAST(NULL AS DATE) AS death_date) d ON d.person_id = p.person_id';
      const personCols = headers.get('person') ?? [];
      const monthCol = personCols.includes('month_of_birth') ? 'p.month_of_birth' : 'NULL';
      // A day without its month says nothing: kept only beside a month.
      const dayCol =
        personCols.includes('day_of_birth') && monthCol !== 'NULL'
          ? `CASE WHEN p.month_of_birth IS NOT NULL THEN CAST(p.day_of_birth AS INTEGER) END`
          : 'NULL';
      await tx.run(
        `INSERT INTO cohort_person (patient_key, gender, birth_year, birth_month, birth_day, region, death_date, observation_start, observation_end, origin)
         SELECT k.patient_key,
           CASE p.gender_concept_id WHEN '8507' THEN 'male' WHEN '8532' THEN 'female' ELSE 'unknown' END,
           CAST(p.year_of_birth AS INTEGER), COALESCE(CAST(${monthCol} AS INTEGER), 7), ${dayCol}, $1, d.death_date, o.first_date, o.last_date, $2
         FROM omop_stage_person p
         JOIN omop_stage_key k ON k.person_id = p.person_id
         ${death}
         LEFT JOIN (SELECT person_id, MIN(CAST(observation_period_start_date AS DATE)) AS first_date,
                           MAX(CAST(observation_period_end_date AS DATE)) AS last_date
                    FROM omop_stage_observation_period GROUP BY person_id) o ON o.person_id = p.person_id`,
        [options.region, origin],
      );
      const hasConcept = files.has('concept');
      const vocabCase = `CASE c.vocabulary_id ${Object.entries(VOCABULARY_SYSTEMS)
        .map(([v, s]) => `WHEN '${v}' THEN '${s}'`)
        .join(' ')} END`;
      const events: Record<string, number> = {};
      for (const e of OMOP_EVENT_TABLES) {
        if (!files.has(e.table)) continue;
        const cols = headers.get(e.table) ?? [];
        const value =
          e.value !== undefined && cols.includes(e.value) ? `CAST(t.${e.value} AS DOUBLE PRECISION)` : 'NULL';
        const unit = e.unit !== undefined && cols.includes(e.unit) ? `t.${e.unit}` : 'NULL';
        const base = `FROM omop_stage_${e.table} t JOIN omop_stage_key k ON k.person_id = t.person_id
          WHERE t.${e.concept} IS NOT NULL AND t.${e.concept} <> '0' AND t.${e.date} IS NOT NULL`;
        await tx.run(
          `INSERT INTO cohort_event (patient_key, domain, system, code, event_date, value, unit, origin)
           SELECT k.patient_key, '${e.domain}', '${OMOP_CONCEPT_SYSTEM}', t.${e.concept}, CAST(t.${e.date} AS DATE), ${value}, ${unit}, $1 ${base}`,
          [origin],
        );
        if (hasConcept) {
          await tx.run(
            `INSERT INTO cohort_event (patient_key, domain, system, code, event_date, value, unit, origin)
             SELECT k.patient_key, '${e.domain}', ${vocabCase}, c.concept_code, CAST(t.${e.date} AS DATE), ${value}, ${unit}, $1
             ${base.replace('WHERE', `JOIN omop_stage_concept c ON c.concept_id = t.${e.concept} WHERE ${vocabCase} IS NOT NULL AND`)}`,
            [origin],
          );
        }
        const [n] = await tx.all(`SELECT COUNT(*) AS n FROM omop_stage_${e.table}`);
        events[e.domain] = (events[e.domain] ?? 0) + num(n?.n);
      }
      await tx.run(
        `INSERT INTO cohort_vocabulary (origin, domain, system, code, events)
         SELECT origin, domain, system, code, COUNT(*) FROM cohort_event WHERE origin = $1 GROUP BY origin, domain, system, code`,
        [origin],
      );
      let ancestors = 0;
      if (files.has('concept_ancestor')) {
        await tx.run(
          `INSERT INTO concept_ancestor (system, ancestor_code, descendant_code)
           SELECT DISTINCT '${OMOP_CONCEPT_SYSTEM}', ancestor_concept_id, descendant_concept_id FROM omop_stage_concept_ancestor
           EXCEPT SELECT system, ancestor_code, descendant_code FROM concept_ancestor`,
        );
        if (hasConcept) {
          await tx.run(
            `INSERT INTO concept_ancestor (system, ancestor_code, descendant_code)
             SELECT DISTINCT ${vocabCase.replace(/c\.vocabulary_id/g, 'ca.vocabulary_id')}, ca.concept_code, cd.concept_code
             FROM omop_stage_concept_ancestor a
             JOIN omop_stage_concept ca ON ca.concept_id = a.ancestor_concept_id
             JOIN omop_stage_concept cd ON cd.concept_id = a.descendant_concept_id AND cd.vocabulary_id = ca.vocabulary_id
             WHERE ${vocabCase.replace(/c\.vocabulary_id/g, 'ca.vocabulary_id')} IS NOT NULL
             EXCEPT SELECT system, ancestor_code, descendant_code FROM concept_ancestor`,
          );
        }
        const [n] = await tx.all('SELECT COUNT(*) AS n FROM omop_stage_concept_ancestor');
        ancestors = num(n?.n);
      }
      let cdmVersion: string | null = null;
      if (files.has('cdm_source') && headers.get('cdm_source')?.includes('cdm_version')) {
        const [v] = await tx.all<{ cdm_version: string | null }>('SELECT cdm_version FROM omop_stage_cdm_source');
        cdmVersion = v?.cdm_version ?? null;
      }
      await tx.run('DELETE FROM cohort_index_state WHERE origin = $1', [origin]);
      await tx.run('INSERT INTO cohort_index_state (origin, source_stamp, built_at) VALUES ($1, $2, $3)', [
        origin,
        dir,
        options.clock.now(),
      ]);
      // On failure the transaction rolls the staging tables back with everything else.
      for (const t of staged) await tx.run(`DROP TABLE IF EXISTS ${t}`);
      return { cdmVersion, persons: ids.length, events, conceptAncestors: ancestors };
    }
  });
}
