/**
 * Computes a feature spec's rows inside the hub, in SQL: the population goes to a temporary table, then one
 * statement joins each feature (a CTE per feature over `cohort_event`, `view_lifelog` or `view_observation`) to it.
 * Runs in one writer transaction because DuckDB's temporary tables belong to a connection. What comes back is one
 * row per (person, index date) with raw values — NaN where nothing was recorded; filling them is the fitted
 * plan's job (`feature-plan.ts`), so training and scoring fill the same way.
 */
import { randomBytes } from 'node:crypto';
import type { Domain, Window } from '../cohort/index.js';
import { conceptSetCodes, refreshCohortIndex, runCohort } from '../cohort/index.js';
import { HealthmeshError } from '../core/index.js';
import type { Hub } from '../hub/index.js';
import type { SqlValue } from '../store/index.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { featureMatrix } from './feature-matrix.js';
import type { FeatureDefinition, FeatureSpec } from './feature-spec.js';

/** A spec's rows on one hub: raw feature values (NaN = not recorded) and who and when each row is. */
export interface HubFeatureRows {
  /** Columns = the spec's features in order (no indicator columns yet); outcome set when the spec has one. */
  matrix: FeatureMatrix;
  patientKeys: string[];
  indexDates: string[];
  sex: string[];
  region: string[];
  /** Age at index in years (also a feature when the spec asks for it); for age-band subgroups. */
  age: Float64Array;
}

/** Which people to compute, when not the spec's own population (scoring one patient, or a chosen few). */
export interface FeatureScope {
  /** Only these patient keys; the observation-period requirement is dropped (a patient seen today is scored today). */
  patients?: readonly string[];
  /** Replaces the spec's index date (fixed-date populations and `patients` scoring). */
  indexDate?: string;
}

/** LOINC codes of the FHIR genomics reporting style the synthetic data and most labs use for a variant result. */
const VARIANT_ASSESSMENT = '69548-6';
const DBSNP_COMPONENT = '81255-2';
const ALLELIC_STATE_COMPONENT = '53034-5';
const HOMOZYGOUS = 'LA6705-3';
const HETEROZYGOUS = 'LA6706-1';

class Sql {
  readonly params: (string | number)[] = [];
  readonly ctes: string[] = [];
  add(v: string | number): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }
  /** A CTE of the (system, code) pairs a named concept set selects in a domain. */
  codes(spec: FeatureSpec, name: string, domain: Domain): string {
    const set = spec.conceptSets[name];
    if (set === undefined) throw new Error(`unvalidated spec: concept set ${name}`);
    const { sql, params } = conceptSetCodes(set, domain, this.params.length + 1);
    this.params.push(...params);
    const cte = `cs${this.ctes.length}`;
    this.ctes.push(`${cte} AS (${sql})`);
    return cte;
  }
}

function windowSql(alias: string, w: Window): string {
  let s = '';
  if (w.start !== undefined) s += ` AND ${alias} >= t.index_date + ${Math.trunc(w.start)}`;
  if (w.end !== undefined) s += ` AND ${alias} <= t.index_date + ${Math.trunc(w.end)}`;
  return s;
}

const isoDay = (col: string) => `CAST(SUBSTR(${col}, 1, 10) AS DATE)`;

/** The CTE of one feature: columns patient_key, index_date, v (one row per population row, or none). */
function featureCte(spec: FeatureSpec, f: FeatureDefinition, k: number, q: Sql, pop: string): string | undefined {
  const from = `${pop} t`;
  switch (f.kind) {
    case 'age':
    case 'sex':
      return undefined; // read from the population table itself
    case 'latest': {
      const cs = q.codes(spec, f.conceptSet, 'measurement');
      const unit = f.unit !== undefined ? ` AND e.unit = ${q.add(f.unit)}` : '';
      // The latest value in the window; ties on the day broken by the larger value (as the cohort compiler does).
      return `f${k} AS (SELECT patient_key, index_date, v FROM (SELECT t.patient_key, t.index_date, e.value AS v,
        ROW_NUMBER() OVER (PARTITION BY t.patient_key, t.index_date ORDER BY e.event_date DESC, e.value DESC) AS rn
        FROM ${from} JOIN cohort_event e ON e.patient_key = t.patient_key JOIN ${cs} c ON e.system = c.system AND e.code = c.code
        WHERE e.domain = 'measurement' AND e.value IS NOT NULL${windowSql('e.event_date', f.window)}${unit}) x WHERE rn = 1)`;
    }
    case 'mean': {
      // Every measurement in the window, any source: repeated screenings average out within-person noise.
      const cs = q.codes(spec, f.conceptSet, 'measurement');
      const unit = f.unit !== undefined ? ` AND e.unit = ${q.add(f.unit)}` : '';
      return `f${k} AS (SELECT t.patient_key, t.index_date, AVG(e.value) AS v
        FROM ${from} JOIN cohort_event e ON e.patient_key = t.patient_key JOIN ${cs} c ON e.system = c.system AND e.code = c.code
        WHERE e.domain = 'measurement' AND e.value IS NOT NULL${windowSql('e.event_date', f.window)}${unit} GROUP BY t.patient_key, t.index_date)`;
    }
    case 'count': {
      const cs = q.codes(spec, f.conceptSet, f.domain);
      return `f${k} AS (SELECT t.patient_key, t.index_date, COUNT(*) AS v
        FROM ${from} JOIN cohort_event e ON e.patient_key = t.patient_key JOIN ${cs} c ON e.system = c.system AND e.code = c.code
        WHERE e.domain = ${q.add(f.domain)}${windowSql('e.event_date', f.window)} GROUP BY t.patient_key, t.index_date)`;
    }
    case 'lifelog': {
      // Device-recorded values only (the lifelog view keeps Observations with a device); the mean over the window.
      const cs = q.codes(spec, f.conceptSet, 'measurement');
      const unit = f.unit !== undefined ? ` AND l.unit = ${q.add(f.unit)}` : '';
      return `f${k} AS (SELECT t.patient_key, t.index_date, AVG(l.value_quantity) AS v
        FROM ${from} JOIN view_lifelog l ON l.patient_key = t.patient_key JOIN ${cs} c ON l.code_system = c.system AND l.code_code = c.code
        WHERE l.value_quantity IS NOT NULL AND l.effective_start IS NOT NULL${windowSql(isoDay('l.effective_start'), f.window)}${unit}
        GROUP BY t.patient_key, t.index_date)`;
    }
    case 'polygenic': {
      // Σ weight × risk-allele count over the listed variants, from variant results recorded up to the index date;
      // missing unless every listed variant was reported (a partial panel would shift the score's scale).
      const weights = f.variants.map((v) => `SELECT ${q.add(v.rsid)} AS rsid, CAST(${q.add(v.weight)} AS DOUBLE) AS w`);
      // A person tested twice counts each variant once.
      return `f${k} AS (SELECT patient_key, index_date, CASE WHEN COUNT(*) = ${f.variants.length} THEN SUM(w * a) END AS v
        FROM (SELECT t.patient_key, t.index_date, g.rsid, MAX(w.w) AS w, MAX(g.alleles) AS a
          FROM ${from}
          JOIN (SELECT o.patient_key, o.id, MIN(${isoDay('o.effective_start')}) AS day,
                  MAX(CASE WHEN o.code_code = '${DBSNP_COMPONENT}' THEN o.value_code END) AS rsid,
                  MAX(CASE WHEN o.code_code = '${ALLELIC_STATE_COMPONENT}' THEN CASE o.value_code WHEN '${HOMOZYGOUS}' THEN 2 WHEN '${HETEROZYGOUS}' THEN 1 ELSE 0 END ELSE 0 END) AS alleles
                FROM view_observation o
                WHERE o.id IN (SELECT id FROM view_observation WHERE component_index IS NULL AND code_code = '${VARIANT_ASSESSMENT}')
                GROUP BY o.patient_key, o.id) g ON g.patient_key = t.patient_key AND g.day <= t.index_date
          JOIN (${weights.join(' UNION ALL ')}) w ON w.rsid = g.rsid
          GROUP BY t.patient_key, t.index_date, g.rsid) x
        GROUP BY patient_key, index_date)`;
    }
  }
}

const AGE_SQL =
  '((EXTRACT(YEAR FROM t.index_date) - t.birth_year) + (EXTRACT(MONTH FROM t.index_date) - t.birth_month) / 12.0)';

function valueSql(f: FeatureDefinition, k: number): string {
  switch (f.kind) {
    case 'age': {
      // Powers are of (age − 50) / 10, so a cubic in age stays within a few units and a ridge penalty treats the
      // terms alike; incidence that rises and then falls with age needs them.
      // With `sex`, the term is 0 for the other sex: an age-by-sex interaction (incidence curves differ by sex).
      const p = f.power ?? 1;
      const term = p === 1 ? AGE_SQL : `POWER((${AGE_SQL} - 50) / 10.0, ${p})`;
      return f.sex === undefined ? term : `CASE WHEN t.gender = '${f.sex}' THEN ${term} ELSE 0 END`;
    }
    case 'sex':
      return `CASE WHEN t.gender = '${f.value}' THEN 1 ELSE 0 END`;
    case 'count':
      return `COALESCE(f${k}.v, 0)`;
    default:
      return `f${k}.v`;
  }
}

/** Whole years of age on the date `d` (an SQL expression), from the birth year and month. */
const wholeAge = (d: string) =>
  `(EXTRACT(YEAR FROM ${d}) - p.birth_year - CASE WHEN EXTRACT(MONTH FROM ${d}) < p.birth_month THEN 1 ELSE 0 END)`;

/** The INSERT of the population rows (patient_key, gender, birth_year, birth_month, region, index_date). */
async function fillPopulation(
  hub: Hub,
  spec: FeatureSpec,
  scope: FeatureScope,
  pop: string,
): Promise<{ sql: string; params: SqlValue[] }> {
  const params: SqlValue[] = [];
  const add = (v: SqlValue) => {
    params.push(v);
    return `$${params.length}`;
  };
  const cols = 'p.patient_key, p.gender, p.birth_year, p.birth_month, p.region';
  const only = scope.patients !== undefined ? ` AND ${hub.db.inList('p.patient_key', add([...scope.patients]))}` : '';
  if ('cohort' in spec.population && scope.indexDate === undefined) {
    const run = await runCohort(hub.db, spec.population.cohort, hub.clock);
    const sql = `INSERT INTO ${pop} SELECT DISTINCT ${cols}, r.start_date FROM cohort_result r
      JOIN cohort_person p ON p.patient_key = r.patient_key WHERE r.cohort_id = ${add(run.cohortId)}${only}`;
    return { sql, params };
  }
  const indexDate = scope.indexDate ?? ('indexDate' in spec.population ? spec.population.indexDate : undefined);
  if (indexDate === undefined) {
    throw new HealthmeshError('MODEL_INVALID_SPEC', 'a cohort population is scored at a given index date', {
      path: 'indexDate',
    });
  }
  const d = `CAST(${add(indexDate)} AS DATE)`;
  const conds = [`(p.death_date IS NULL OR p.death_date > ${d})`, 'p.birth_year IS NOT NULL'];
  if (scope.patients === undefined && 'indexDate' in spec.population) {
    const prior = Math.trunc(spec.population.priorObservationDays ?? 0);
    conds.push(
      `p.observation_start IS NOT NULL AND p.observation_start <= ${d} - ${prior} AND p.observation_end >= ${d}`,
    );
    const age = spec.population.age;
    if (age?.min !== undefined) conds.push(`${wholeAge(d)} >= ${add(age.min)}`);
    if (age?.max !== undefined) conds.push(`${wholeAge(d)} <= ${add(age.max)}`);
  }
  return {
    sql: `INSERT INTO ${pop} SELECT DISTINCT ${cols}, ${d} FROM cohort_person p WHERE ${conds.join(' AND ')}${only}`,
    params,
  };
}

const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v));

/**
 * The spec's rows on this hub (its event index refreshed first). With an outcome, people who had it at or before
 * their index date are left out (incident cases only) and the outcome is 1 when it first occurs within
 * (index, index + horizon]; a death or the end of data before then counts as 0, as the synthetic truth's risk
 * under competing mortality does. An empty population is `MODEL_EMPTY_DATA`.
 */
export async function buildHubFeatures(hub: Hub, spec: FeatureSpec, scope: FeatureScope = {}): Promise<HubFeatureRows> {
  await refreshCohortIndex(hub);
  const pop = `model_population_${randomBytes(6).toString('hex')}`;
  const insert = await fillPopulation(hub, spec, scope, pop);
  const rows = await hub.db.transaction(async (tx) => {
    await tx.run(
      `CREATE TEMPORARY TABLE ${pop} (patient_key VARCHAR, gender VARCHAR, birth_year INTEGER, birth_month INTEGER, region VARCHAR, index_date DATE)`,
    );
    await tx.run(insert.sql, insert.params);
    const s = new Sql();
    let outcomeSql = 'NULL';
    if (spec.outcome !== undefined) {
      const o = spec.outcome;
      const cs = s.codes(spec, o.conceptSet, o.domain);
      const events = `cohort_event e JOIN ${cs} c ON e.system = c.system AND e.code = c.code WHERE e.patient_key = t.patient_key AND e.domain = ${s.add(o.domain)}`;
      outcomeSql = `CASE WHEN EXISTS (SELECT 1 FROM ${events} AND e.event_date > t.index_date AND e.event_date <= t.index_date + ${Math.trunc(o.horizonDays)}) THEN 1 ELSE 0 END`;
      const prevalent = conceptSetCodes(spec.conceptSets[o.conceptSet]!, o.domain, 2);
      await tx.run(
        `DELETE FROM ${pop} WHERE EXISTS (SELECT 1 FROM cohort_event e JOIN (${prevalent.sql}) c ON e.system = c.system AND e.code = c.code
           WHERE e.patient_key = ${pop}.patient_key AND e.domain = $1 AND e.event_date <= ${pop}.index_date)`,
        [o.domain, ...prevalent.params],
      );
    }
    const ctes: string[] = [];
    const joins: string[] = [];
    spec.features.forEach((f, k) => {
      const cte = featureCte(spec, f, k, s, pop);
      if (cte === undefined) return;
      ctes.push(cte);
      joins.push(`LEFT JOIN f${k} ON f${k}.patient_key = t.patient_key AND f${k}.index_date = t.index_date`);
    });
    const values = spec.features.map((f, k) => `${valueSql(f, k)} AS c${k}`);
    const withs = [...s.ctes, ...ctes];
    const sql = `${withs.length > 0 ? `WITH ${withs.join(',\n')}\n` : ''}SELECT t.patient_key, CAST(t.index_date AS VARCHAR) AS index_date, t.gender, t.region,
        ${AGE_SQL} AS age, ${outcomeSql} AS outcome, ${values.join(', ')}
      FROM ${pop} t ${joins.join(' ')} ORDER BY t.patient_key, t.index_date`;
    const out = await tx.all(sql, s.params);
    await tx.run(`DROP TABLE ${pop}`);
    return out;
  });
  if (rows.length === 0 && scope.patients !== undefined) {
    throw new HealthmeshError(
      'MODEL_PATIENT_NOT_FOUND',
      `no patient of ${scope.patients.length === 1 ? scope.patients[0] : `${scope.patients.length} keys`} can be scored: not in this hub's data, dead by the index date${spec.outcome !== undefined ? `, or already with ${spec.outcome.name} by then` : ''}`,
      { path: 'patient' },
    );
  }
  if (rows.length === 0) {
    throw new HealthmeshError('MODEL_EMPTY_DATA', `the population of spec "${spec.name}" has no people on this hub`, {
      path: 'population',
    });
  }
  const width = spec.features.length;
  const values = new Float64Array(rows.length * width);
  const age = new Float64Array(rows.length);
  const outcome = new Uint8Array(rows.length);
  rows.forEach((r, i) => {
    for (let k = 0; k < width; k++) values[i * width + k] = num(r[`c${k}`]);
    age[i] = num(r.age);
    outcome[i] = Number(r.outcome ?? 0);
  });
  const names = spec.features.map((f) => f.name);
  return {
    matrix: featureMatrix(names, values, spec.outcome !== undefined ? outcome : undefined),
    patientKeys: rows.map((r) => String(r.patient_key)),
    indexDates: rows.map((r) => String(r.index_date)),
    sex: rows.map((r) => (typeof r.gender === 'string' ? r.gender : 'unknown')),
    region: rows.map((r) => (typeof r.region === 'string' ? r.region : 'unknown')),
    age,
  };
}
