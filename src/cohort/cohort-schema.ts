import type { Migration } from '../store/index.js';

/**
 * The cohort module's tables. `cohort_person` and `cohort_event` are an event index derived from the analytic
 * tables (FHIR) or loaded from an OMOP CDM: one narrow table of dated, coded events with typed dates, so that
 * every rule of every cohort is a scan of one table. `cohort_vocabulary` lists the codes present (concept sets
 * resolve against it, not against the events); `concept_ancestor` holds loaded hierarchies.
 */
export const cohortMigrations: readonly Migration[] = [
  {
    module: 'cohort',
    version: 1,
    name: 'event index, vocabulary, hierarchy and cohort results',
    statements: [
      `CREATE TABLE cohort_person (
        patient_key VARCHAR NOT NULL,
        gender VARCHAR,
        birth_year INTEGER,
        birth_month INTEGER,
        region VARCHAR,
        death_date DATE,
        observation_start DATE,
        observation_end DATE,
        origin VARCHAR NOT NULL
      )`,
      `CREATE TABLE cohort_event (
        patient_key VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        system VARCHAR NOT NULL,
        code VARCHAR NOT NULL,
        event_date DATE NOT NULL,
        value DOUBLE PRECISION,
        unit VARCHAR,
        origin VARCHAR NOT NULL
      )`,
      `CREATE TABLE cohort_vocabulary (
        origin VARCHAR NOT NULL,
        domain VARCHAR NOT NULL,
        system VARCHAR NOT NULL,
        code VARCHAR NOT NULL,
        events BIGINT NOT NULL
      )`,
      `CREATE TABLE concept_ancestor (
        system VARCHAR NOT NULL,
        ancestor_code VARCHAR NOT NULL,
        descendant_code VARCHAR NOT NULL
      )`,
      `CREATE TABLE cohort_index_state (
        origin VARCHAR NOT NULL PRIMARY KEY,
        source_stamp VARCHAR NOT NULL,
        built_at TIMESTAMPTZ NOT NULL
      )`,
      `CREATE TABLE cohort_run (
        cohort_id VARCHAR NOT NULL PRIMARY KEY,
        name VARCHAR NOT NULL,
        definition VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        persons BIGINT NOT NULL,
        entries BIGINT NOT NULL,
        attrition VARCHAR NOT NULL
      )`,
      `CREATE TABLE cohort_result (
        cohort_id VARCHAR NOT NULL,
        patient_key VARCHAR NOT NULL,
        start_date DATE NOT NULL,
        end_date DATE NOT NULL
      )`,
    ],
    // On a Citus cluster the person-level tables are spread by person, so a rule's per-person window, NOT EXISTS and
    // joins stay within one shard; the vocabulary and hierarchy, joined to every event, are copied to every node.
    distribution: [
      ['cohort_person', 'patient_key'],
      ['cohort_event', 'patient_key'],
      ['cohort_result', 'patient_key'],
      ['cohort_vocabulary', null],
      ['concept_ancestor', null],
    ],
  },
  {
    module: 'cohort',
    version: 2,
    name: 'the purpose a cohort ran for and how many its consent left out',
    statements: [
      'ALTER TABLE cohort_run ADD COLUMN purpose VARCHAR',
      'ALTER TABLE cohort_run ADD COLUMN left_out BIGINT',
    ],
  },
  {
    module: 'cohort',
    version: 3,
    name: 'indexes where the engine keeps them',
    statements: [],
    // A rule's window and NOT EXISTS look up one person's events of one domain; concept sets look codes up.
    indexes: [
      ['cohort_event', ['patient_key', 'domain', 'event_date']],
      ['cohort_event', ['domain', 'system', 'code']],
      ['cohort_person', ['patient_key']],
      ['cohort_result', ['cohort_id']],
      ['concept_ancestor', ['ancestor_code']],
    ],
  },
  {
    module: 'cohort',
    version: 4,
    name: 'the day of birth where the source gives it',
    // Null for month-only birth dates; ages then turn on the first of the birth month (person-age.ts).
    statements: ['ALTER TABLE cohort_person ADD COLUMN birth_day INTEGER'],
  },
];
