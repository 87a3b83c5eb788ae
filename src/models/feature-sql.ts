/**
 * The SQL of one feature (or the outcome) over a population table `pop` (rid, patient_key, gender, birth_year,
 * birth_month, birth_day, region, index_date): a SELECT of `(rid, v)`, at most one row per population row. Each is run as its
 * own statement into a narrow values table (`hub-features.ts`): one statement joining a CTE per feature held every
 * feature's hash table at once and failed at a 120 MB DuckDB limit with 20,000 residents, where each feature alone
 * needed a few MB (measured; docs/models.md). Only aggregates, no window functions, and the subset of SQL that DuckDB
 * and PostgreSQL both speak.
 */
import type { Domain, Window } from '../cohort/index.js';
import { conceptSetCodes, EVENT_TABLE } from '../cohort/index.js';
import { analyticTable } from '../views/index.js';
import type { FeatureDefinition, FeatureSpec, OutcomeSpec } from './feature-spec.js';

/** LOINC codes of the FHIR genomics reporting style the synthetic data and most labs use for a variant result. */
const VARIANT_ASSESSMENT = '69548-6';
const DBSNP_COMPONENT = '81255-2';
const ALLELIC_STATE_COMPONENT = '53034-5';
const HOMOZYGOUS = 'LA6705-3';
const HETEROZYGOUS = 'LA6706-1';

/** A statement with its `$n` parameters. */
export interface BoundSql {
  sql: string;
  params: (string | number)[];
}

/** Parameters and concept-set CTEs of one statement. */
class StatementBuilder {
  readonly params: (string | number)[] = [];
  readonly ctes: string[] = [];
  add(v: string | number): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }
  /** The SELECT of the (system, code) pairs a named concept set selects in a domain. */
  codeSelect(spec: FeatureSpec, name: string, domain: Domain): string {
    const set = spec.conceptSets[name];
    if (set === undefined) throw new Error(`unvalidated spec: concept set ${name}`);
    const { sql, params } = conceptSetCodes(set, domain, this.params.length + 1);
    this.params.push(...params);
    return sql;
  }
  /** A CTE of the (system, code) pairs a named concept set selects in a domain. */
  codes(spec: FeatureSpec, name: string, domain: Domain): string {
    const sql = this.codeSelect(spec, name, domain);
    const cte = `cs${this.ctes.length}`;
    this.ctes.push(`${cte} AS (${sql})`);
    return cte;
  }
  statement(select: string): BoundSql {
    return { sql: `${this.ctes.length > 0 ? `WITH ${this.ctes.join(',\n')}\n` : ''}${select}`, params: this.params };
  }
}

function windowSql(alias: string, w: Window): string {
  let s = '';
  if (w.start !== undefined) s += ` AND ${alias} >= t.index_date + ${Math.trunc(w.start)}`;
  if (w.end !== undefined) s += ` AND ${alias} <= t.index_date + ${Math.trunc(w.end)}`;
  return s;
}

const isoDay = (col: string) => `CAST(SUBSTR(${col}, 1, 10) AS DATE)`;

/**
 * Age at index in years from birth year, month and, where the source gives it, day (population alias `t`); without
 * a day the day term is 0, as before days were kept.
 */
export const AGE_SQL =
  '((EXTRACT(YEAR FROM t.index_date) - t.birth_year) + (EXTRACT(MONTH FROM t.index_date) - t.birth_month) / 12.0 + (EXTRACT(DAY FROM t.index_date) - COALESCE(t.birth_day, EXTRACT(DAY FROM t.index_date))) / 365.25)';

/**
 * The value of an `age` or `sex` feature as an expression over the population row (alias `t`); undefined for the
 * kinds computed from events.
 */
export function populationValueSql(f: FeatureDefinition): string | undefined {
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
    default:
      return undefined;
  }
}

/** The `(rid, v)` rows of a feature computed from events; undefined for age and sex. */
export function featureSelect(spec: FeatureSpec, f: FeatureDefinition, pop: string): BoundSql | undefined {
  const q = new StatementBuilder();
  const events = (cs: string) =>
    `${pop} t JOIN ${EVENT_TABLE} e ON e.patient_key = t.patient_key JOIN ${cs} c ON e.system = c.system AND e.code = c.code`;
  switch (f.kind) {
    case 'age':
    case 'sex':
      return undefined;
    case 'latest': {
      const cs = q.codes(spec, f.conceptSet, 'measurement');
      const unit = f.unit !== undefined ? ` AND e.unit = ${q.add(f.unit)}` : '';
      const where = `e.domain = 'measurement' AND e.value IS NOT NULL${windowSql('e.event_date', f.window)}${unit}`;
      // The latest value in the window; ties on the day broken by the larger value (as the cohort compiler does).
      // Two aggregates rather than ROW_NUMBER over every event: the latest day per row, then the largest value on it.
      return q.statement(`SELECT t.rid, MAX(e.value) AS v FROM ${events(cs)}
        JOIN (SELECT t.rid, MAX(e.event_date) AS day FROM ${events(cs)} WHERE ${where} GROUP BY t.rid) last
          ON last.rid = t.rid AND e.event_date = last.day
        WHERE ${where} GROUP BY t.rid`);
    }
    case 'mean': {
      // Every measurement in the window, any source: repeated screenings average out within-person noise.
      const cs = q.codes(spec, f.conceptSet, 'measurement');
      const unit = f.unit !== undefined ? ` AND e.unit = ${q.add(f.unit)}` : '';
      return q.statement(`SELECT t.rid, AVG(e.value) AS v FROM ${events(cs)}
        WHERE e.domain = 'measurement' AND e.value IS NOT NULL${windowSql('e.event_date', f.window)}${unit} GROUP BY t.rid`);
    }
    case 'count': {
      const cs = q.codes(spec, f.conceptSet, f.domain);
      return q.statement(`SELECT t.rid, COUNT(*) AS v FROM ${events(cs)}
        WHERE e.domain = ${q.add(f.domain)}${windowSql('e.event_date', f.window)} GROUP BY t.rid`);
    }
    case 'lifelog': {
      // Device-recorded values only (the lifelog view keeps Observations with a device); the mean over the window.
      const cs = q.codes(spec, f.conceptSet, 'measurement');
      const unit = f.unit !== undefined ? ` AND l.unit = ${q.add(f.unit)}` : '';
      return q.statement(`SELECT t.rid, AVG(l.value_quantity) AS v
        FROM ${pop} t JOIN ${analyticTable('lifelog')} l ON l.patient_key = t.patient_key JOIN ${cs} c ON l.code_system = c.system AND l.code_code = c.code
        WHERE l.value_quantity IS NOT NULL AND l.effective_start IS NOT NULL${windowSql(isoDay('l.effective_start'), f.window)}${unit}
        GROUP BY t.rid`);
    }
    case 'polygenic': {
      // Σ weight × risk-allele count over the listed variants, from variant results recorded up to the index date;
      // missing unless every listed variant was reported (a partial panel would shift the score's scale).
      const weights = f.variants.map(
        (v) => `SELECT ${q.add(v.rsid)} AS rsid, CAST(${q.add(v.weight)} AS DOUBLE PRECISION) AS w`,
      );
      // A person tested twice counts each variant once.
      return q.statement(`SELECT rid, CASE WHEN COUNT(*) = ${f.variants.length} THEN SUM(w * a) END AS v
        FROM (SELECT t.rid, g.rsid, MAX(w.w) AS w, MAX(g.alleles) AS a
          FROM ${pop} t
          JOIN (SELECT o.patient_key, o.id, MIN(${isoDay('o.effective_start')}) AS day,
                  MAX(CASE WHEN o.code_code = '${DBSNP_COMPONENT}' THEN o.value_code END) AS rsid,
                  MAX(CASE WHEN o.code_code = '${ALLELIC_STATE_COMPONENT}' THEN CASE o.value_code WHEN '${HOMOZYGOUS}' THEN 2 WHEN '${HETEROZYGOUS}' THEN 1 ELSE 0 END ELSE 0 END) AS alleles
                FROM ${analyticTable('observation')} o
                WHERE o.id IN (SELECT id FROM ${analyticTable('observation')} WHERE component_index IS NULL AND code_code = '${VARIANT_ASSESSMENT}')
                GROUP BY o.patient_key, o.id) g ON g.patient_key = t.patient_key AND g.day <= t.index_date
          JOIN (${weights.join(' UNION ALL ')}) w ON w.rsid = g.rsid
          GROUP BY t.rid, g.rsid) x
        GROUP BY rid`);
    }
  }
}

/** The `(rid, v)` rows, v = 1, of population rows whose outcome occurs within (index, index + horizon]. */
export function outcomeSelect(spec: FeatureSpec, o: OutcomeSpec, pop: string): BoundSql {
  const q = new StatementBuilder();
  const cs = q.codes(spec, o.conceptSet, o.domain);
  // A join, not a correlated EXISTS: Citus runs no correlated subquery between the session's population table and
  // the distributed event index (docs/citus.md).
  return q.statement(`SELECT DISTINCT t.rid, 1 AS v FROM ${pop} t
    JOIN ${EVENT_TABLE} e ON e.patient_key = t.patient_key JOIN ${cs} c ON e.system = c.system AND e.code = c.code
    WHERE e.domain = ${q.add(o.domain)}
      AND e.event_date > t.index_date AND e.event_date <= t.index_date + ${Math.trunc(o.horizonDays)}`);
}

/** Deletes the population rows with the outcome at or before their index date (incident cases only). */
export function prevalentDelete(spec: FeatureSpec, o: OutcomeSpec, pop: string): BoundSql {
  const q = new StatementBuilder();
  // The codes as a subquery, not a CTE: PostgreSQL's DELETE takes a WITH only before it, DuckDB's either way.
  const codes = q.codeSelect(spec, o.conceptSet, o.domain);
  // The rows as an uncorrelated IN over a join, for Citus as in `outcomeSelect`.
  return {
    sql: `DELETE FROM ${pop} WHERE rid IN (SELECT t.rid FROM ${pop} t JOIN ${EVENT_TABLE} e ON e.patient_key = t.patient_key
      JOIN (${codes}) c ON e.system = c.system AND e.code = c.code
      WHERE e.domain = ${q.add(o.domain)} AND e.event_date <= t.index_date)`,
    params: q.params,
  };
}

/**
 * The `(rid, v)` rows, v = days from index to the first outcome event within (index, index + horizon], of the
 * population rows with the outcome (a Cox model's event times).
 */
export function outcomeTimeSelect(spec: FeatureSpec, o: OutcomeSpec, pop: string): BoundSql {
  const q = new StatementBuilder();
  const cs = q.codes(spec, o.conceptSet, o.domain);
  return q.statement(`SELECT t.rid, MIN(e.event_date - t.index_date) AS v FROM ${pop} t
    JOIN ${EVENT_TABLE} e ON e.patient_key = t.patient_key
    JOIN ${cs} c ON e.system = c.system AND e.code = c.code
    WHERE e.domain = ${q.add(o.domain)}
      AND e.event_date > t.index_date AND e.event_date <= t.index_date + ${Math.trunc(o.horizonDays)}
    GROUP BY t.rid`);
}

/**
 * The `(rid, v)` rows, v = days from index to the person's last event of any kind in the event index, capped at
 * the horizon: how long a row without the outcome was followed (a Cox model's censoring times). A person with no
 * event after index is not in it (followed 0 days).
 */
export function followUpSelect(o: OutcomeSpec, pop: string): BoundSql {
  return {
    sql: `SELECT t.rid, LEAST(MAX(e.event_date - t.index_date), ${Math.trunc(o.horizonDays)}) AS v FROM ${pop} t
      JOIN ${EVENT_TABLE} e ON e.patient_key = t.patient_key AND e.event_date > t.index_date
      GROUP BY t.rid`,
    params: [],
  };
}
