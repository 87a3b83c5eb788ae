/**
 * Cohorts: a definition language (docs/cohorts.md), its compiler to SQL over the event index built from the
 * analytic tables or loaded from an OMOP CDM, results with attrition, and characterisation.
 */

export type {
  Characterisation,
  CodeShare,
  CountCell,
  Incidence,
  MeasurementSummary,
  SurvivalPoint,
} from './characterisation.js';
export { characterise, kaplanMeier, timeToOutcome } from './characterisation.js';
export type { CompiledCohort } from './cohort-compiler.js';
export { compileCohort, conceptSetCodes, PREFIX_HIERARCHY_SYSTEMS, vocabularyWith } from './cohort-compiler.js';
export type {
  CohortDefinition,
  Concept,
  ConceptSet,
  Domain,
  EventCriterion,
  Exit,
  InclusionRule,
  MeasurementCriterion,
  ValueRange,
  Window,
} from './cohort-definition.js';
export { COHORT_SCHEMA, DOMAINS, MAX_COHORT_AGE, MAX_COHORT_COUNT, MAX_COHORT_DAYS } from './cohort-definition.js';
export { cohortModule } from './cohort-module.js';
export type { CriteriaPopulation, ObservedCriteria, PopulationSource } from './cohort-population.js';
export { fillPopulation, POPULATION_COLUMNS } from './cohort-population.js';
export type {
  CohortReleaser,
  CohortStatistics,
  MeasurementStatistics,
} from './cohort-release.js';
export { AGE_BANDS, releaseCohortStatistics, SEXES } from './cohort-release.js';
export type { AttritionStep, CohortConsent, CohortRun, CohortRunSummary } from './cohort-runner.js';
export {
  cohortIdOf,
  cohortIdsIncluding,
  entriesByDay,
  listCohortRuns,
  loadCohortRun,
  runCohort,
} from './cohort-runner.js';
export { cohortMigrations } from './cohort-schema.js';
export { cohortTables, DOMAIN_TABLE } from './cohort-tables.js';
export { validateCohortDefinition } from './cohort-validation.js';
export type { ConceptMatch } from './concept-search.js';
export { searchConcepts } from './concept-search.js';
/** `EVENT_TABLE`: the event index, a published read-only relation with the columns in docs/cohorts.md. */
export {
  EVENT_COLUMNS,
  EVENT_TABLE,
  eventDateSpan,
  eventIndexSelects,
  eventRowsSql,
  FHIR_ORIGIN,
  refreshEventIndex,
} from './event-index.js';
export type { FederatedCohort, ProjectWork, ReleasedCohort } from './federated-cohort.js';
export { CohortFederation, DEFAULT_COHORT_PURPOSE, releaseCohort } from './federated-cohort.js';
export type { PooledMeasurement } from './measurement-pooling.js';
export { poolMeasurements } from './measurement-pooling.js';
export type { OmopHolding, OmopTableHolding } from './omop-holdings.js';
export { omopHoldings } from './omop-holdings.js';
export type { OmopImportSummary } from './omop-import.js';
export { importOmop, OMOP_CONCEPT_SYSTEM, OMOP_EVENT_TABLES } from './omop-import.js';
export { survivalHtml, survivalSvg } from './survival-html.js';
export type { ReleasedSurvival } from './survival-release.js';
export { releaseSurvival } from './survival-release.js';
export { releaseCohortSurvival } from './survival-run.js';
