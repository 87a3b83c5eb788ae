/**
 * Projects (docs/projects.md): an applicant files an access request at one hub; the stewards of every hub it names
 * approve, deny or approve it with conditions on their own hub; an approved project is a scope (tables and
 * variables, purpose, members, an end date) that `ProjectRegistry.authorize` checks before any work in it.
 */

export type { FederatedTabulation, PooledTable } from './federated-tabulation.js';
export { PROJECT_TABULATE_OPERATION, peerTableProblem, poolTables } from './federated-tabulation.js';
export type { ProjectApplication, ProjectReview, ScopeTables } from './project-application.js';
export { accessEndsAt } from './project-application.js';
export type { ApplicantCatalog, CatalogColumn, CatalogTable } from './project-catalog.js';
export { applicantCatalog, catalogRows, omopCatalogKey } from './project-catalog.js';
export type { PeerCatalog } from './project-federation.js';
export {
  PROJECT_CATALOG_OPERATION,
  PROJECT_FILE_OPERATION,
  PROJECT_MEMBERS_OPERATION,
  PROJECT_STATUS_OPERATION,
  ProjectFederation,
} from './project-federation.js';
export { projectsModule } from './project-module.js';
export type { ProjectScope, ScopeRequest } from './project-registry.js';
export { ProjectRegistry } from './project-registry.js';
export type {
  Decision,
  ForwardedProject,
  HubDecision,
  ProjectEvent,
  ProjectSummary,
  ProjectView,
} from './project-rows.js';
export { projectMigrations } from './project-schema.js';
export type { ProjectUse, UsedPeople } from './project-uses.js';
export { ProjectUses } from './project-uses.js';
export type { TabulationRequest } from './workspace-tabulation.js';
export {
  MAX_TABULATION_COLUMNS,
  MAX_TABULATION_ROWS,
  tabulateInWorkspace,
  tabulationVariables,
} from './workspace-tabulation.js';
