/**
 * What a feature spec reads, as a project's scope names it: the analytic tables and the variables (`table.column`).
 * The hosting hub checks a member's spec with it, and each peer of a federated fit checks the spec it received
 * against its own record of the project, since a peer does not trust the coordinator for scope.
 */

import { cohortTables, DOMAIN_TABLE } from '../cohort/index.js';
import type { FeatureSpec } from './feature-spec.js';

/**
 * The analytic tables a feature spec reads, which the project must have been approved for: age and sex from
 * `patient`, measured values from `observation`, lifelog values from `lifelog`, counts and the outcome from their
 * domain's table, and whatever a cohort-defined population reads.
 */
export function specTables(spec: FeatureSpec): string[] {
  const f = spec;
  const tables = new Set<string>(['patient']);
  for (const x of f.features) {
    if (x.kind === 'latest' || x.kind === 'mean' || x.kind === 'polygenic') tables.add('observation');
    else if (x.kind === 'lifelog') tables.add('lifelog');
    else if (x.kind === 'count') tables.add(DOMAIN_TABLE[x.domain] ?? x.domain);
  }
  if (f.outcome) tables.add(DOMAIN_TABLE[f.outcome.domain] ?? f.outcome.domain);
  if ('cohort' in f.population) for (const t of cohortTables(f.population.cohort)) tables.add(t);
  return [...tables].sort();
}

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/** The column of a domain's table whose code a concept set matches (the event index's sources, cohort/). */
const CODE_COLUMN: Record<string, string> = {
  condition: 'code_code',
  observation: 'code_code',
  measurement: 'code_code',
  medication: 'medication_code',
  procedure: 'code_code',
  immunization: 'vaccine_code',
};

/**
 * The variables (`table.column`) a feature spec reads values from, which the project must have been approved
 * for column by column: birth date for age, gender for sex, the code and value of a measurement (and its unit when
 * the feature names one), the code column of a counted domain or of the outcome. The keys and dates that link a
 * table's rows to a person and place them in time come with the approved table; a cohort-defined population is
 * checked by its tables, as a cohort in the workspace is.
 */
export function specVariables(spec: FeatureSpec): string[] {
  const f = spec;
  const vars = new Set<string>();
  const coded = (domain: string, conceptSet: string) => {
    const table = DOMAIN_TABLE[domain] ?? domain;
    if (domain !== 'encounter') {
      vars.add(`${table}.${CODE_COLUMN[domain] ?? 'code_code'}`);
      return;
    }
    // An encounter's class (v3-ActCode) and its type are two columns; the concept set's systems say which it reads.
    const systems = new Set((f.conceptSets[conceptSet]?.concepts ?? []).map((c) => c.system));
    if (systems.has(ACT_CODE)) vars.add('encounter.class_code');
    if (systems.size === 0 || [...systems].some((s) => s !== ACT_CODE)) vars.add('encounter.type_code');
  };
  const measured = (table: string, unit: string | undefined) => {
    vars.add(`${table}.code_code`);
    vars.add(`${table}.value_quantity`);
    if (unit !== undefined) vars.add(`${table}.unit`);
  };
  if ('indexDate' in f.population && f.population.age !== undefined) vars.add('patient.birth_date');
  for (const x of f.features) {
    if (x.kind === 'age') {
      vars.add('patient.birth_date');
      if (x.sex !== undefined) vars.add('patient.gender');
    } else if (x.kind === 'sex') vars.add('patient.gender');
    else if (x.kind === 'latest' || x.kind === 'mean') measured('observation', x.unit);
    else if (x.kind === 'lifelog') measured('lifelog', x.unit);
    else if (x.kind === 'count') coded(x.domain, x.conceptSet);
    else if (x.kind === 'polygenic') {
      vars.add('observation.code_code');
      vars.add('observation.value_code');
    }
  }
  if (f.outcome) coded(f.outcome.domain, f.outcome.conceptSet);
  return [...vars].sort();
}
