/**
 * Cohorts: a definition language (docs/cohorts.md), its compiler to SQL over the event index built from the
 * analytic tables or loaded from an OMOP CDM, results with attrition, and characterisation.
 */
import type { Hub } from '../hub/index.js';
import { migrate } from '../store/index.js';
import { openAnalyticTables } from '../views/index.js';
import { cohortMigrations } from './cohort-schema.js';
import { refreshEventIndex } from './event-index.js';

export type { CompiledCohort } from './cohort-compiler.js';
export { compileCohort, PREFIX_HIERARCHY_SYSTEMS } from './cohort-compiler.js';
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
export { COHORT_SCHEMA, DOMAINS } from './cohort-definition.js';
export type { AttritionStep, CohortRun } from './cohort-runner.js';
export { cohortIdOf, loadCohortRun, runCohort } from './cohort-runner.js';
export { cohortMigrations } from './cohort-schema.js';
export { validateCohortDefinition } from './cohort-validation.js';
export { FHIR_ORIGIN, refreshEventIndex } from './event-index.js';
export type { OmopImportSummary } from './omop-import.js';
export { importOmop, OMOP_CONCEPT_SYSTEM } from './omop-import.js';

const prepared = new WeakMap<Hub, Promise<void>>();

/** The cohort tables of a hub, created on first use (the hub's own migrations cannot know this module). */
export function prepareCohorts(hub: Hub): Promise<void> {
  let p = prepared.get(hub);
  if (p === undefined) {
    p = migrate(hub.db, cohortMigrations, hub.clock.now()).then(() => undefined);
    prepared.set(hub, p);
    p.catch(() => prepared.delete(hub));
  }
  return p;
}

/** Brings the analytic tables and the event index up to date with the resource store. */
export async function refreshCohortIndex(hub: Hub): Promise<void> {
  await prepareCohorts(hub);
  await (await openAnalyticTables(hub)).refresh();
  await refreshEventIndex(hub.db, hub.clock);
}
export type {
  Characterisation,
  CodeShare,
  CountCell,
  Incidence,
  MeasurementSummary,
  SurvivalPoint,
} from './characterisation.js';
export { characterise, kaplanMeier } from './characterisation.js';
