/**
 * Compiles a cohort definition to one SQL statement over the event index (`cohort_event`, `cohort_person`).
 * Every rule becomes a 0/1 flag column on each entry event, so one pass gives both the cohort (all flags set)
 * and the attrition (persons left after each rule in order). SQL is the subset DuckDB and PostgreSQL share:
 * CTEs, ROW_NUMBER, `date + integer`, EXTRACT. A rule over events is a per-entry aggregate joined back, not a
 * correlated EXISTS or COUNT: Citus runs no correlated subquery whose outer FROM holds a CTE (docs/citus.md), and
 * grouped by `patient_key` the aggregate stays within one shard.
 */

import type {
  CohortDefinition,
  Concept,
  ConceptSet,
  Domain,
  EventCriterion,
  InclusionRule,
  ValueRange,
  Window,
} from './cohort-definition.js';
import { wholeAgeSql } from './person-age.js';

/** Systems whose codes nest by prefix (E11 ⊃ E11.9; C09 ⊃ C09CA01), so descendants need no loaded hierarchy. */
export const PREFIX_HIERARCHY_SYSTEMS: ReadonlySet<string> = new Set([
  'http://hl7.org/fhir/sid/icd-10',
  'http://hl7.org/fhir/sid/icd-10-cm',
  'http://www.whocc.no/atc',
]);

/** The codes a concept set selects in one domain, resolved before the main statement runs. */
export type ResolvedCodes = ReadonlyMap<string, readonly { system: string; code: string }[]>;

/** The key of a (concept set, domain) pair in `ResolvedCodes`. */
export function conceptSetKey(name: string, domain: Domain): string {
  return `${name}|${domain}`;
}

/** Each (concept set, domain) a definition uses, with the query listing its codes present in the index. */
export function conceptSetQueries(def: CohortDefinition): { key: string; sql: string; params: (string | number)[] }[] {
  const pairs = new Map<string, { name: string; domain: Domain }>();
  const use = (name: string, domain: Domain) => pairs.set(conceptSetKey(name, domain), { name, domain });
  use(def.entry.conceptSet, def.entry.domain);
  for (const rule of def.inclusion ?? []) {
    if ('measurement' in rule) use(rule.measurement.conceptSet, 'measurement');
    else if ('events' in rule) use(rule.events.conceptSet, rule.events.domain);
  }
  if (def.exit?.type === 'event') use(def.exit.conceptSet, def.exit.domain);
  return [...pairs].map(([key, { name, domain }]) => {
    const p = new Params();
    return { key, sql: conceptSetSql(def, name, domain, p), params: p.values };
  });
}

function conceptSetSql(def: CohortDefinition, name: string, domain: Domain, p: Params): string {
  const set = def.conceptSets[name];
  if (set === undefined) throw new Error(`unvalidated definition: concept set ${name}`);
  return `SELECT DISTINCT v.system, v.code FROM cohort_vocabulary v WHERE ${conceptSetCondition(set, domain, p)}`;
}

export interface CompiledCohort {
  /** SELECT of one row per entry event: patient_key, index_date, end_date, and flags r_obs, r0 … rN. */
  flagsSql: string;
  params: (string | number)[];
  /** Names of the attrition steps in order: entry, prior observation, then each inclusion rule. */
  steps: string[];
  ruleCount: number;
}

class Params {
  readonly values: (string | number)[] = [];
  constructor(private readonly first = 1) {}
  add(v: string | number): string {
    this.values.push(v);
    return `$${this.values.length + this.first - 1}`;
  }
}

function conceptPredicate(c: Concept, p: Params): string {
  const system = p.add(c.system);
  const code = p.add(c.code);
  if (!c.descendants) return `(v.system = ${system} AND v.code = ${code})`;
  if (PREFIX_HIERARCHY_SYSTEMS.has(c.system)) {
    return `(v.system = ${system} AND (v.code = ${code} OR v.code LIKE ${p.add(`${c.code}%`)}))`;
  }
  return `(v.system = ${system} AND (v.code = ${code} OR v.code IN (SELECT a.descendant_code FROM concept_ancestor a WHERE a.system = ${system} AND a.ancestor_code = ${code})))`;
}

function valueConditions(alias: string, r: ValueRange | undefined, p: Params): string {
  if (r === undefined) return '';
  const parts: string[] = [];
  if (r.min !== undefined) parts.push(`${alias}.value >= ${p.add(r.min)}`);
  if (r.max !== undefined) parts.push(`${alias}.value <= ${p.add(r.max)}`);
  if (r.unit !== undefined) parts.push(`${alias}.unit = ${p.add(r.unit)}`);
  return parts.map((x) => ` AND ${x}`).join('');
}

function windowConditions(alias: string, w: Window): string {
  // Integers checked by the schema: inlined so the planner sees constant offsets.
  let s = '';
  if (w.start !== undefined) s += ` AND ${alias}.event_date >= q.index_date + ${Math.trunc(w.start)}`;
  if (w.end !== undefined) s += ` AND ${alias}.event_date <= q.index_date + ${Math.trunc(w.end)}`;
  return s;
}

const AGE = wholeAgeSql('q.index_date', 'q');

/** The codes of `cohort_vocabulary` (alias `v`) that a concept set selects in a domain, as a WHERE condition. */
function conceptSetCondition(set: ConceptSet, domain: Domain, p: Params): string {
  const include = set.concepts.filter((c) => !c.exclude).map((c) => conceptPredicate(c, p));
  const exclude = set.concepts.filter((c) => c.exclude).map((c) => conceptPredicate(c, p));
  return `v.domain = ${p.add(domain)} AND (${include.length > 0 ? include.join(' OR ') : 'FALSE'})${exclude.length > 0 ? ` AND NOT (${exclude.join(' OR ')})` : ''}`;
}

const VOCABULARY = 'cohort_vocabulary';

/**
 * The index's vocabulary with the codes of `events` (a relation of the event index's columns, such as a citizen's
 * records at a peer read for one request), as a relation for `conceptSetCodes`: a concept set resolves against the
 * codes present, so codes only those events hold must join them.
 */
export function vocabularyWith(events: string): string {
  return `(SELECT domain, system, code FROM ${VOCABULARY} UNION SELECT domain, system, code FROM ${events})`;
}

/**
 * A SELECT of the distinct `(system, code)` pairs of the event index's vocabulary that a concept set selects in a
 * domain — descendants and exclusions resolved as cohort definitions resolve them — with its parameters numbered
 * from `$firstParam`. Other modules (features of risk models) use it to speak the same concept-set language.
 * `vocabulary` is a relation of (domain, system, code): the index's own by default, or one with codes of events
 * read from elsewhere for one request.
 */
export function conceptSetCodes(
  set: ConceptSet,
  domain: Domain,
  firstParam = 1,
  vocabulary = VOCABULARY,
): { sql: string; params: (string | number)[] } {
  const p = new Params(firstParam);
  const sql = `SELECT DISTINCT v.system, v.code FROM ${vocabulary} v WHERE ${conceptSetCondition(set, domain, p)}`;
  return { sql, params: p.values };
}

/**
 * With `resolved` (the codes of each concept set, from `conceptSetQueries`), events are selected by constant
 * system and code lists, which DuckDB checks against each row group's min/max (the index is stored sorted by
 * domain, system, code) and so skips most of the table; without it, by a join with a CTE per concept set.
 */
export function compileCohort(def: CohortDefinition, resolved?: ResolvedCodes): CompiledCohort {
  const p = new Params();
  const sets: string[] = [];
  const setIndex = new Map<string, number>();
  /** One CTE per (concept set, domain): the codes present in the index that the set selects. */
  const setFor = (name: string, domain: Domain): string => {
    const key = conceptSetKey(name, domain);
    let i = setIndex.get(key);
    if (i === undefined) {
      i = sets.length;
      sets.push(`cs${i} AS (${conceptSetSql(def, name, domain, p)})`);
      setIndex.set(key, i);
    }
    return `cs${i}`;
  };
  const codesIn = (alias: string, codes: readonly { system: string; code: string }[]): string => {
    const bySystem = new Map<string, string[]>();
    for (const c of codes) {
      const list = bySystem.get(c.system);
      if (list) list.push(c.code);
      else bySystem.set(c.system, [c.code]);
    }
    if (bySystem.size === 0) return 'FALSE';
    const parts = [...bySystem].map(
      ([system, list]) =>
        `(${alias}.system = ${p.add(system)} AND ${alias}.code IN (${[...new Set(list)].map((c) => p.add(c)).join(', ')}))`,
    );
    return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
  };
  // The events of a concept set as a FROM item and its condition: constant codes are a condition on the event index
  // itself, not a derived table, since Citus runs no correlated subquery whose FROM holds a subquery or CTE.
  const eventsFrom = (alias: string, name: string, domain: Domain) => {
    const codes = resolved?.get(conceptSetKey(name, domain));
    if (codes === undefined) {
      return {
        from: `cohort_event ${alias} JOIN ${setFor(name, domain)} ${alias}c ON ${alias}.system = ${alias}c.system AND ${alias}.code = ${alias}c.code`,
        on: 'TRUE',
      };
    }
    return {
      from: `cohort_event ${alias}`,
      on: `${alias}.domain = ${p.add(domain)} AND ${codesIn(alias, codes)}`,
    };
  };
  /** `FROM`-less text: the events of a set and `WHERE` its condition, for the caller to go on with `AND`. */
  const eventsWhere = (alias: string, name: string, domain: Domain) => {
    const ev = eventsFrom(alias, name, domain);
    return `${ev.from} WHERE ${ev.on}`;
  };

  const entry = def.entry;
  const entrySource = `${eventsWhere('e', entry.conceptSet, entry.domain)} AND e.domain = ${p.add(entry.domain)}${valueConditions('e', entry.value, p)}`;
  const entrySql =
    (entry.occurrence ?? 'first') === 'first'
      ? `SELECT e.patient_key, MIN(e.event_date) AS index_date FROM ${entrySource} GROUP BY e.patient_key`
      : `SELECT DISTINCT e.patient_key, e.event_date AS index_date FROM ${entrySource}`;

  // Without priorObservationDays, an entry need not fall inside an observation period (OMOP CDMs record events
  // outside them); with it, the index date must lie in the period with that many days of it before.
  const prior = def.priorObservationDays === undefined ? undefined : Math.trunc(def.priorObservationDays);
  const extraCtes: string[] = [];
  const joins: string[] = [];
  const flags: string[] = [
    prior === undefined
      ? '1 AS r_obs'
      : `CASE WHEN q.observation_start IS NOT NULL AND q.index_date >= q.observation_start + ${prior} AND q.index_date <= q.observation_end THEN 1 ELSE 0 END AS r_obs`,
  ];
  const rules = def.inclusion ?? [];
  rules.forEach((rule, k) => {
    flags.push(`CASE WHEN ${ruleCondition(rule, k)} THEN 1 ELSE 0 END AS r${k}`);
  });

  function ruleCondition(rule: InclusionRule, k: number): string {
    if ('age' in rule) {
      const parts: string[] = [];
      if (rule.age.min !== undefined) parts.push(`${AGE} >= ${p.add(rule.age.min)}`);
      if (rule.age.max !== undefined) parts.push(`${AGE} <= ${p.add(rule.age.max)}`);
      return parts.join(' AND ');
    }
    if ('sex' in rule) return `q.gender IN (${rule.sex.map((s) => p.add(s)).join(', ')})`;
    if ('region' in rule) return `q.region IN (${rule.region.map((r) => p.add(r)).join(', ')})`;
    if ('measurement' in rule) {
      const m = rule.measurement;
      if ((m.use ?? 'latest') === 'any') {
        const ev = eventsFrom('m', m.conceptSet, 'measurement');
        return `${perEntry(`x${k}`, 'COUNT(*)', ev.from, 'm', `${ev.on} AND m.domain = 'measurement'${windowConditions('m', m.window)}${valueConditions('m', m.value, p)}`)} >= 1`;
      }
      // The latest value in the window: ranked per entry event, then tested.
      const unit = m.value.unit !== undefined ? ` AND m.unit = ${p.add(m.value.unit)}` : '';
      const ev = eventsFrom('m', m.conceptSet, 'measurement');
      extraCtes.push(
        `m${k} AS (SELECT q.patient_key, q.index_date, m.value, ROW_NUMBER() OVER (PARTITION BY q.patient_key, q.index_date ORDER BY m.event_date DESC, m.value DESC) AS rn
          FROM q JOIN ${ev.from} ON m.patient_key = q.patient_key
          WHERE ${ev.on} AND m.domain = 'measurement'${windowConditions('m', m.window)}${unit})`,
      );
      joins.push(
        `LEFT JOIN m${k} ON m${k}.patient_key = q.patient_key AND m${k}.index_date = q.index_date AND m${k}.rn = 1`,
      );
      const parts = [`m${k}.value IS NOT NULL`];
      if (m.value.min !== undefined) parts.push(`m${k}.value >= ${p.add(m.value.min)}`);
      if (m.value.max !== undefined) parts.push(`m${k}.value <= ${p.add(m.value.max)}`);
      return parts.join(' AND ');
    }
    return eventsCondition(rule.events, k);
  }

  /**
   * `agg` over each entry's events of `from` (alias `a`) meeting `where`, as a CTE named `name` joined back to the
   * entries; the expression for an entry with no such event is NULL, or 0 for a COUNT. Over `entry` (one row per
   * person and index date, as `q` in `where`), so an aggregate counts each event once.
   */
  function perEntry(name: string, agg: string, from: string, a: string, where: string): string {
    extraCtes.push(
      `${name} AS (SELECT q.patient_key, q.index_date, ${agg} AS v FROM entry q JOIN ${from} ON ${a}.patient_key = q.patient_key
        WHERE ${where} GROUP BY q.patient_key, q.index_date)`,
    );
    joins.push(`LEFT JOIN ${name} ON ${name}.patient_key = q.patient_key AND ${name}.index_date = q.index_date`);
    return agg.startsWith('COUNT') ? `COALESCE(${name}.v, 0)` : `${name}.v`;
  }

  function eventsCondition(c: EventCriterion, k: number): string {
    const ev = eventsFrom('x', c.conceptSet, c.domain);
    const count = perEntry(
      `x${k}`,
      'COUNT(*)',
      ev.from,
      'x',
      `${ev.on} AND x.domain = ${p.add(c.domain)}${windowConditions('x', c.window)}${valueConditions('x', c.value, p)}`,
    );
    const min = c.count?.min ?? (c.count?.max === 0 ? 0 : 1);
    const max = c.count?.max;
    return [
      min > 0 ? `${count} >= ${p.add(min)}` : 'TRUE',
      max !== undefined ? `${count} <= ${p.add(max)}` : 'TRUE',
    ].join(' AND ');
  }

  const dataEnd =
    'CASE WHEN q.death_date IS NOT NULL AND q.death_date < q.observation_end THEN q.death_date ELSE q.observation_end END';
  const exit = def.exit ?? { type: 'endOfData' };
  let endExpr = dataEnd;
  if (exit.type === 'fixedOffset') {
    endExpr = `CASE WHEN q.index_date + ${Math.trunc(exit.days)} < ${dataEnd} THEN q.index_date + ${Math.trunc(exit.days)} ELSE ${dataEnd} END`;
  } else if (exit.type === 'event') {
    const ev = eventsFrom('x', exit.conceptSet, exit.domain);
    const next = perEntry(
      'x_exit',
      'MIN(x.event_date)',
      ev.from,
      'x',
      `${ev.on} AND x.domain = ${p.add(exit.domain)} AND x.event_date > q.index_date`,
    );
    endExpr = `CASE WHEN ${next} IS NOT NULL AND ${next} < ${dataEnd} THEN ${next} ELSE ${dataEnd} END`;
  }

  // Sets are declared in the order rules asked for them; build the entry first so its set is cs0.
  const q = `q AS (SELECT x.patient_key, x.index_date, p.gender, p.birth_year, p.birth_month, p.birth_day, p.region, p.observation_start, p.observation_end, p.death_date
    FROM entry x JOIN cohort_person p ON p.patient_key = x.patient_key)`;
  const flagsSelect = `SELECT q.patient_key, q.index_date, ${endExpr} AS end_date, ${flags.join(', ')} FROM q ${joins.join(' ')}`;
  const ctes = [...sets, `entry AS (${entrySql})`, q, ...extraCtes];
  return {
    flagsSql: `WITH ${ctes.join(',\n')}\n${flagsSelect}`,
    params: p.values,
    steps: [
      'entry event',
      prior === undefined ? 'no observation requirement' : `observed ${prior}+ days before`,
      ...rules.map((r) => r.name),
    ],
    ruleCount: rules.length,
  };
}
