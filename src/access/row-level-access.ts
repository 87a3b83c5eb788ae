import type { Principal, Role } from './token-registry.js';

/**
 * Roles that may see row-level data (one row per patient or record) inside the hub: the hub's administrator and
 * its data stewards. Researchers and services get aggregates only (architecture: nothing row-level leaves the
 * hub, and inside it only the roles that curate the data see it).
 */
export const ROW_LEVEL_ROLES: ReadonlySet<Role> = new Set<Role>(['admin', 'steward']);

/** Whether `principal` may receive row-level results (ViewDefinition `$run`, ad-hoc views). */
export function mayReadRowLevel(principal: Principal | undefined): boolean {
  return principal !== undefined && ROW_LEVEL_ROLES.has(principal.role);
}

/**
 * Roles that may write records into the hub (FHIR `POST /fhir`, uploads): curators and the service accounts of
 * the feeding systems. Researchers read aggregates and do not change the data they analyse.
 */
export const INGEST_ROLES: ReadonlySet<Role> = new Set<Role>(['admin', 'steward', 'service']);

/** Whether `principal` may ingest records. */
export function mayIngest(principal: Principal | undefined): boolean {
  return principal !== undefined && INGEST_ROLES.has(principal.role);
}
