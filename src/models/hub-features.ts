/**
 * Computes a feature spec's rows inside the hub, in SQL: the population goes to a temporary table with a row id
 * (`fillPopulation` of the cohort module), people whose consent refuses the purpose leave it, features read from
 * analytic tables (lifelog, polygenic) go to a narrow values table one statement each, then one statement
 * (`featureRowsQuery`) gives each row with every feature and the outcome, streamed out once. Runs in one writer
 * transaction because DuckDB's temporary tables belong to a connection. What comes back is one row per (person,
 * index date) with raw values — NaN where nothing was recorded; filling them is the fitted plan's job
 * (`feature-plan.ts`), so training and scoring fill the same way.
 */
import { randomBytes } from 'node:crypto';
import type { ObservedCriteria, PopulationSource } from '../cohort/index.js';
import { fillPopulation, POPULATION_COLUMNS, runCohort } from '../cohort/index.js';
import type { HubServices as Hub } from '../context/index.js';
import { HealthmeshError } from '../core/index.js';
import type { ConsentFilter } from '../privacy/index.js';
import type { Row } from '../store/index.js';
import type { FeatureMatrix } from './feature-matrix.js';
import { featureMatrix } from './feature-matrix.js';
import type { FeatureSpec } from './feature-spec.js';
import { featureRowsQuery, HUB_FEATURE_SOURCES, tableFeatureSelects } from './feature-sql.js';
import type { FlattenedRecords } from './merged-sources.js';
import { mergeRecords } from './merged-sources.js';

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
  /** The purpose the rows were built for and how many people of the population their consent left out. */
  consent: { purpose: string; asOf: string; leftOut: number };
  /**
   * With `scope.eventTimes` and an outcome: days from index to the outcome for a row with it, else to the row's
   * last event of any kind capped at the horizon (censored).
   */
  times?: Float64Array;
}

/** Which people to compute, when not the spec's own population (scoring one patient, or a chosen few). */
export interface FeatureScope {
  /** Only these patient keys; the observation-period requirement is dropped (a patient seen today is scored today). */
  patients?: readonly string[];
  /** Replaces the spec's index date (fixed-date populations and `patients` scoring). */
  indexDate?: string;
  /** Also the rows at the spec's `trainingIndexDates` (training; never with `patients` or `indexDate`). */
  trainingDates?: boolean;
  /**
   * The purpose of use (docs/consent.md): people whose consent refuses it are left out. Default: `treatment` when
   * scoring given patients (care), `ai-development` otherwise (building and training a model).
   */
  purpose?: string;
  /** Also each row's follow-up time to the outcome or censoring (`HubFeatureRows.times`; a Cox model's training). */
  eventTimes?: boolean;
  /**
   * With `patients`: FHIR resources of theirs held elsewhere (a citizen's records at peers, read for this answer,
   * flattened once by `flattenRecords`), read as theirs beside this hub's rows (`merged-sources.ts`), in temporary tables dropped before the build ends.
   */
  records?: FlattenedRecords;
}

/** The purpose a feature build runs for when its caller names none. */
export function defaultFeaturePurpose(scope: FeatureScope): string {
  return scope.purpose ?? (scope.patients !== undefined ? 'treatment' : 'ai-development');
}

/** Who the rows are about: the population source and how many of a cohort population consent left out. */
async function populationOf(
  hub: Hub,
  spec: FeatureSpec,
  scope: FeatureScope,
  consent: ConsentFilter,
): Promise<{ source: PopulationSource; leftOut: number }> {
  if ('cohort' in spec.population && scope.indexDate === undefined) {
    const run = await runCohort(hub.db, spec.population.cohort, hub.clock, consent);
    return { source: { cohortId: run.cohortId }, leftOut: run.consent?.leftOut ?? 0 };
  }
  const indexDate = scope.indexDate ?? ('indexDate' in spec.population ? spec.population.indexDate : undefined);
  if (indexDate === undefined) {
    throw new HealthmeshError('MODEL_INVALID_SPEC', 'a cohort population is scored at a given index date', {
      path: 'indexDate',
    });
  }
  const training = 'indexDate' in spec.population && scope.trainingDates === true;
  if (training && (scope.patients !== undefined || scope.indexDate !== undefined)) {
    throw new Error('training dates are for the spec population, not a scope of patients or another date');
  }
  const indexDates = [
    indexDate,
    ...(training && 'indexDate' in spec.population ? (spec.population.trainingIndexDates ?? []) : []),
  ];
  // Each date's population is chosen as on the index date; the dates are distinct (validated). Scored patients
  // drop the observation requirement (a patient seen today is scored today).
  if (scope.patients === undefined && 'indexDate' in spec.population) {
    const { age } = spec.population;
    const observed: ObservedCriteria = {
      priorDays: Math.trunc(spec.population.priorObservationDays ?? 0),
      ...(age !== undefined && { age }),
    };
    return { source: { indexDates, observed }, leftOut: 0 };
  }
  return { source: { indexDates }, leftOut: 0 };
}

const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : Number(v));

/**
 * The spec's rows on this hub (its event index checked current, never rebuilt here). With an outcome, people who had it at or before
 * their index date are left out (incident cases only) and the outcome is 1 when it first occurs within
 * (index, index + horizon]; a death or the end of data before then counts as 0, as the synthetic truth's risk
 * under competing mortality does. An empty population is `MODEL_EMPTY_DATA`.
 */
export async function buildHubFeatures(hub: Hub, spec: FeatureSpec, scope: FeatureScope = {}): Promise<HubFeatureRows> {
  const consent = await hub.consent.filter(defaultFeaturePurpose(scope));
  await hub.derived.assertCurrent();
  const tag = randomBytes(6).toString('hex');
  const pop = `model_population_${tag}`;
  const vals = `model_values_${tag}`;
  const population = await populationOf(hub, spec, scope, consent);
  const width = spec.features.length;
  const built = await hub.db.transaction(async (tx) => {
    await tx.run(`CREATE TEMPORARY TABLE ${pop} (${POPULATION_COLUMNS})`);
    await fillPopulation(tx, pop, population.source, scope.patients);
    // People whose consent refuses the purpose leave before any feature of theirs is computed.
    const refused = `NOT (${consent.allows('patient_key')})`;
    const [out] = await tx.all<{ n: unknown }>(`SELECT COUNT(DISTINCT patient_key) AS n FROM ${pop} WHERE ${refused}`);
    await tx.run(`DELETE FROM ${pop} WHERE ${refused}`);
    const leftOut = population.leftOut + Number(out?.n ?? 0);
    const timed = scope.eventTimes === true && spec.outcome !== undefined;
    if (scope.records !== undefined && scope.patients === undefined) {
      throw new Error('records held elsewhere are read for given patients only');
    }
    const merged =
      scope.records !== undefined && scope.records.count > 0 && scope.patients !== undefined
        ? await mergeRecords(tx, tag, scope.patients, scope.records)
        : undefined;
    const sources = merged?.sources ?? HUB_FEATURE_SOURCES;
    const fromTables = tableFeatureSelects(spec, pop, sources);
    if (fromTables.length > 0) {
      await tx.run(`CREATE TEMPORARY TABLE ${vals} (rid BIGINT, k INTEGER, v DOUBLE PRECISION)`);
      for (const { k, select } of fromTables) {
        await tx.run(`INSERT INTO ${vals} (rid, k, v) SELECT rid, ${k}, v FROM (${select.sql}) s`, select.params);
      }
    }
    const query = featureRowsQuery(spec, pop, {
      eventTimes: timed,
      sources,
      ...(fromTables.length > 0 && { tableValues: vals }),
    });
    const people: Row[] = [];
    for await (const chunk of tx.stream(query.sql, query.params)) {
      for (const r of chunk) people.push(r);
    }
    const values = new Float64Array(people.length * width);
    const outcome = new Uint8Array(people.length);
    const eventDays = new Float64Array(people.length);
    const followed = new Float64Array(people.length);
    for (let i = 0; i < people.length; i++) {
      const r = people[i]!;
      for (let k = 0; k < width; k++) values[i * width + k] = num(r[`c${k}`]);
      if (r.outcome !== undefined) outcome[i] = Number(r.outcome);
      if (timed) {
        eventDays[i] = num(r.event_days);
        followed[i] = num(r.followed);
      }
    }
    if (fromTables.length > 0) await tx.run(`DROP TABLE ${vals}`);
    await tx.run(`DROP TABLE ${pop}`);
    await merged?.drop(tx);
    const times = timed
      ? Float64Array.from(people, (_, i) => (outcome[i] === 1 ? eventDays[i]! : followed[i]!))
      : undefined;
    return { people, values, outcome, leftOut, times };
  });
  const rows = built.people;
  if (rows.length === 0 && scope.patients !== undefined && built.leftOut > 0) {
    throw new HealthmeshError(
      'CONSENT_REFUSED',
      `the consent of ${scope.patients.length === 1 ? 'this patient' : 'these patients'} refuses ${consent.purpose}`,
      { path: 'patient' },
    );
  }
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
  const age = Float64Array.from(rows, (r) => num(r.age));
  const names = spec.features.map((f) => f.name);
  return {
    matrix: featureMatrix(names, built.values, spec.outcome !== undefined ? built.outcome : undefined),
    patientKeys: rows.map((r) => String(r.patient_key)),
    indexDates: rows.map((r) => String(r.index_date)),
    sex: rows.map((r) => (typeof r.gender === 'string' ? r.gender : 'unknown')),
    region: rows.map((r) => (typeof r.region === 'string' ? r.region : 'unknown')),
    age,
    consent: { purpose: consent.purpose, asOf: consent.asOf.toISOString(), leftOut: built.leftOut },
    ...(built.times !== undefined && { times: built.times }),
  };
}
