/**
 * The SQL of a feature spec's rows over a population table `pop` (rid, patient_key, gender, birth_year, birth_month,
 * birth_day, region, index_date): one statement (`featureRowsQuery`) computing every feature and the outcome per
 * population row. Only aggregates, no window functions, and the subset of SQL that DuckDB and PostgreSQL both speak.
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

/**
 * The relations a spec's rows read: the event index and the lifelog and observation analytic tables by default, or
 * relations of the same columns (one citizen's rows here with their records at peers, for one request).
 */
export interface FeatureSources {
  events: string;
  /** The codes concept sets resolve against (`vocabularyWith` the events); the event index's own when absent. */
  vocabulary?: string;
  lifelog: string;
  observation: string;
}

/** The hub's own published relations. */
export const HUB_FEATURE_SOURCES: FeatureSources = {
  events: EVENT_TABLE,
  lifelog: analyticTable('lifelog'),
  observation: analyticTable('observation'),
};

/** A statement with its `$n` parameters. */
export interface BoundSql {
  sql: string;
  params: (string | number)[];
}

/** Parameters and concept-set CTEs of one statement. */
class StatementBuilder {
  readonly params: (string | number)[] = [];
  readonly ctes: string[] = [];
  constructor(private readonly vocabulary: string | undefined) {}
  add(v: string | number): string {
    this.params.push(v);
    return `$${this.params.length}`;
  }
  /** The SELECT of the (system, code) pairs a named concept set selects in a domain. */
  codeSelect(spec: FeatureSpec, name: string, domain: Domain): string {
    const set = spec.conceptSets[name];
    if (set === undefined) throw new Error(`unvalidated spec: concept set ${name}`);
    const { sql, params } = conceptSetCodes(set, domain, this.params.length + 1, this.vocabulary);
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

/**
 * The `(rid, v)` statements of the features read from analytic tables (lifelog, polygenic), by feature index. Each
 * runs on its own into a values table that `featureRowsQuery` joins: the polygenic score's aggregate over the
 * observation table, held beside the event pass in one statement, took DuckDB past 48 MB with 600 people
 * (`test/models-hub.test.ts`), where each alone needs a few.
 */
export function tableFeatureSelects(
  spec: FeatureSpec,
  pop: string,
  sources: FeatureSources = HUB_FEATURE_SOURCES,
): { k: number; select: BoundSql }[] {
  return spec.features.flatMap((f, k) => {
    const q = new StatementBuilder(sources.vocabulary);
    const body = tableFeatureSelect(spec, f, pop, q, sources);
    return body === undefined ? [] : [{ k, select: q.statement(body) }];
  });
}

/**
 * The `(rid, v)` rows of a feature read from an analytic table (lifelog, polygenic), its concept-set CTEs and
 * parameters added to `q`; undefined for the kinds the event pass or the population row computes.
 */
function tableFeatureSelect(
  spec: FeatureSpec,
  f: FeatureDefinition,
  pop: string,
  q: StatementBuilder,
  sources: FeatureSources,
): string | undefined {
  switch (f.kind) {
    case 'age':
    case 'sex':
    case 'latest':
    case 'mean':
    case 'count':
      return undefined;
    case 'lifelog': {
      // Device-recorded values only (the lifelog view keeps Observations with a device); the mean over the window.
      const cs = q.codes(spec, f.conceptSet, 'measurement');
      const unit = f.unit !== undefined ? ` AND l.unit = ${q.add(f.unit)}` : '';
      return `SELECT t.rid, AVG(l.value_quantity) AS v
        FROM ${pop} t JOIN ${sources.lifelog} l ON l.patient_key = t.patient_key JOIN ${cs} c ON l.code_system = c.system AND l.code_code = c.code
        WHERE l.value_quantity IS NOT NULL AND l.effective_start IS NOT NULL${windowSql(isoDay('l.effective_start'), f.window)}${unit}
        GROUP BY t.rid`;
    }
    case 'polygenic': {
      // Σ weight × risk-allele count over the listed variants, from variant results recorded up to the index date;
      // missing unless every listed variant was reported (a partial panel would shift the score's scale).
      const weights = f.variants.map(
        (v) => `SELECT ${q.add(v.rsid)} AS rsid, CAST(${q.add(v.weight)} AS DOUBLE PRECISION) AS w`,
      );
      // A person tested twice counts each variant once.
      return `SELECT rid, CASE WHEN COUNT(*) = ${f.variants.length} THEN SUM(w * a) END AS v
        FROM (SELECT t.rid, g.rsid, MAX(w.w) AS w, MAX(g.alleles) AS a
          FROM ${pop} t
          JOIN (SELECT o.patient_key, o.id, MIN(${isoDay('o.effective_start')}) AS day,
                  MAX(CASE WHEN o.code_code = '${DBSNP_COMPONENT}' THEN o.value_code END) AS rsid,
                  MAX(CASE WHEN o.code_code = '${ALLELIC_STATE_COMPONENT}' THEN CASE o.value_code WHEN '${HOMOZYGOUS}' THEN 2 WHEN '${HETEROZYGOUS}' THEN 1 ELSE 0 END ELSE 0 END) AS alleles
                FROM ${sources.observation} o
                WHERE o.id IN (SELECT id FROM ${sources.observation} WHERE component_index IS NULL AND code_code = '${VARIANT_ASSESSMENT}')
                GROUP BY o.patient_key, o.id) g ON g.patient_key = t.patient_key AND g.day <= t.index_date
          JOIN (${weights.join(' UNION ALL ')}) w ON w.rsid = g.rsid
          GROUP BY t.rid, g.rsid) x
        GROUP BY rid`;
    }
  }
}

/**
 * The `(rid, v)` rows, v = days from index to the person's last event of any kind in the event index, capped at
 * the horizon: how long a row without the outcome was followed (a Cox model's censoring times). A person with no
 * event after index is not in it (followed 0 days).
 */
function followUpSelect(o: OutcomeSpec, pop: string, events: string): string {
  return `SELECT t.rid, LEAST(MAX(e.event_date - t.index_date), ${Math.trunc(o.horizonDays)}) AS v FROM ${pop} t
      JOIN ${events} e ON e.patient_key = t.patient_key AND e.event_date > t.index_date
      GROUP BY t.rid`;
}

/** The event-index features: computed together in one pass over the population's matching events. */
const EVENT_KINDS: ReadonlySet<FeatureDefinition['kind']> = new Set(['latest', 'mean', 'count']);

/**
 * One statement giving a spec's rows: a row per population row (alias `t`, ordered by person and index date) with
 * `rid`, `patient_key`, `index_date` (text), `gender`, `region`, `age`, `c0…` the spec's features (DOUBLE, NULL
 * where nothing was recorded; a count is 0), and with an outcome `outcome` (0/1), the rows with the outcome at or
 * before their index date left out (incident cases only); with `eventTimes` also `event_days` (days from index to
 * the outcome) and `followed` (days to the last event of any kind, capped at the horizon; 0 without one).
 *
 * Every feature over the event index and the outcome come from one join of the population with its events, tagged
 * with the feature each code is for (`hits`), aggregated by row once (`agg`); a `latest` feature takes the largest
 * value on its latest day in a second aggregate over the same hits (ties on the day broken by the larger value, as
 * the cohort compiler does). Per feature, a statement each scanned the index again and its rows came back one
 * object per value (`bench -- validation`). One hash table of the population serves every feature, so memory does
 * not grow with their number as a join of one CTE per feature did. Lifelog and polygenic features, read from
 * analytic tables, come from `options.tableValues`.
 */
export function featureRowsQuery(
  spec: FeatureSpec,
  pop: string,
  options: {
    eventTimes: boolean;
    /** The `(rid, k, v)` table `tableFeatureSelects` filled, when the spec has such features. */
    tableValues?: string;
    /** The event relation and its vocabulary; the hub's event index by default. */
    sources?: Pick<FeatureSources, 'events' | 'vocabulary'>;
  },
): BoundSql {
  const { events, vocabulary } = options.sources ?? HUB_FEATURE_SOURCES;
  const q = new StatementBuilder(vocabulary);
  const o = spec.outcome;
  const tagged: string[] = [];
  const conds: string[] = [];
  spec.features.forEach((f, k) => {
    if (f.kind === 'latest' || f.kind === 'mean') {
      tagged.push(`SELECT ${k} AS k, system, code FROM (${q.codeSelect(spec, f.conceptSet, 'measurement')}) s${k}`);
      const unit = f.unit !== undefined ? ` AND e.unit = ${q.add(f.unit)}` : '';
      conds.push(
        `(c.k = ${k} AND e.domain = 'measurement' AND e.value IS NOT NULL${windowSql('e.event_date', f.window)}${unit})`,
      );
    } else if (f.kind === 'count') {
      tagged.push(`SELECT ${k} AS k, system, code FROM (${q.codeSelect(spec, f.conceptSet, f.domain)}) s${k}`);
      conds.push(`(c.k = ${k} AND e.domain = ${q.add(f.domain)}${windowSql('e.event_date', f.window)})`);
    }
  });
  const horizon = o === undefined ? 0 : Math.trunc(o.horizonDays);
  if (o !== undefined) {
    tagged.push(`SELECT -1 AS k, system, code FROM (${q.codeSelect(spec, o.conceptSet, o.domain)}) so`);
    // Up to the horizon: before or on the index date marks a prevalent case, after it the outcome.
    conds.push(`(c.k = -1 AND e.domain = ${q.add(o.domain)} AND e.event_date <= t.index_date + ${horizon})`);
  }
  const timed = options.eventTimes && o !== undefined;
  const aggs: string[] = [];
  const latest: string[] = [];
  spec.features.forEach((f, k) => {
    if (f.kind === 'mean') aggs.push(`AVG(CASE WHEN k = ${k} THEN value END) AS a${k}`);
    else if (f.kind === 'count') aggs.push(`COUNT(CASE WHEN k = ${k} THEN 1 END) AS a${k}`);
    else if (f.kind === 'latest') {
      aggs.push(`MAX(CASE WHEN k = ${k} THEN event_date END) AS d${k}`);
      latest.push(`MAX(CASE WHEN h.k = ${k} AND h.event_date = a.d${k} THEN h.value END) AS l${k}`);
    }
  });
  if (o !== undefined) {
    aggs.push(
      'MAX(CASE WHEN k = -1 AND event_date <= index_date THEN 1 ELSE 0 END) AS prevalent',
      'MAX(CASE WHEN k = -1 AND event_date > index_date THEN 1 ELSE 0 END) AS outcome',
    );
    if (timed)
      aggs.push('MIN(CASE WHEN k = -1 AND event_date > index_date THEN event_date - index_date END) AS event_days');
  }
  const joins: string[] = [];
  if (tagged.length > 0) {
    // A join, not a correlated subquery: Citus runs no correlated subquery between the session's population table
    // and the distributed event index (docs/citus.md).
    q.ctes.push(
      `fcodes AS (${tagged.join('\nUNION ALL\n')})`,
      `hits AS (SELECT t.rid, t.index_date, c.k, e.event_date, e.value FROM ${pop} t
        JOIN ${events} e ON e.patient_key = t.patient_key JOIN fcodes c ON e.system = c.system AND e.code = c.code
        WHERE ${conds.join('\n OR ')})`,
      `agg AS (SELECT rid, ${aggs.join(', ')} FROM hits GROUP BY rid)`,
    );
    joins.push('LEFT JOIN agg a ON a.rid = t.rid');
    if (latest.length > 0) {
      const ks = spec.features.flatMap((f, k) => (f.kind === 'latest' ? [k] : []));
      q.ctes.push(`lastv AS (SELECT h.rid, ${latest.join(', ')} FROM hits h JOIN agg a ON a.rid = h.rid
        WHERE h.k IN (${ks.join(', ')}) GROUP BY h.rid)`);
      joins.push('LEFT JOIN lastv l ON l.rid = t.rid');
    }
  }
  const tableKs: number[] = [];
  const columns = spec.features.map((f, k) => {
    let v: string;
    if (f.kind === 'mean') v = `a.a${k}`;
    else if (f.kind === 'count') v = `COALESCE(a.a${k}, 0)`;
    else if (f.kind === 'latest') v = `l.l${k}`;
    else if (EVENT_KINDS.has(f.kind)) throw new Error(`unhandled event feature ${f.kind}`);
    else {
      const own = populationValueSql(f);
      if (own !== undefined) v = own;
      else {
        if (options.tableValues === undefined) throw new Error(`feature ${f.name} needs its values table`);
        tableKs.push(k);
        v = `x.x${k}`;
      }
    }
    // Age and sex terms as the population row gives them; the others as DOUBLE, whatever type the aggregate has.
    return f.kind === 'age' || f.kind === 'sex' ? `${v} AS c${k}` : `CAST(${v} AS DOUBLE PRECISION) AS c${k}`;
  });
  if (tableKs.length > 0) {
    const pivot = tableKs.map((k) => `MAX(CASE WHEN k = ${k} THEN v END) AS x${k}`);
    joins.push(
      `LEFT JOIN (SELECT rid, ${pivot.join(', ')} FROM ${options.tableValues} GROUP BY rid) x ON x.rid = t.rid`,
    );
  }
  if (o !== undefined) columns.push('COALESCE(a.outcome, 0) AS outcome');
  if (timed) {
    joins.push(`LEFT JOIN (${followUpSelect(o!, pop, events)}) fu ON fu.rid = t.rid`);
    columns.push(
      'CAST(a.event_days AS DOUBLE PRECISION) AS event_days',
      'CAST(COALESCE(fu.v, 0) AS DOUBLE PRECISION) AS followed',
    );
  }
  return q.statement(`SELECT t.rid, t.patient_key, CAST(t.index_date AS VARCHAR) AS index_date, t.gender, t.region,
      ${AGE_SQL} AS age, ${columns.join(', ')}
    FROM ${pop} t ${joins.join(' ')}
    ${o !== undefined ? 'WHERE COALESCE(a.prevalent, 0) = 0' : ''}
    ORDER BY t.patient_key, t.index_date`);
}
