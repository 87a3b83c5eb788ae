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

/**
 * Whether `principal` may write records under `source` (a valid source name). Admin and steward curate the hub and
 * may name any source; a service token writes only the sources bound to it at `token create --source`, or, bound
 * to none, only the hub's `defaultSource`: a feeding system cannot overwrite another system's records (stored ids
 * derive from source, type and source id). Roles that may not ingest may write nothing.
 */
export function mayWriteSource(principal: Principal | undefined, source: string, defaultSource: string): boolean {
  if (!mayIngest(principal) || principal === undefined) return false;
  if (principal.role !== 'service') return true;
  const bound = principal.sources ?? [];
  return bound.length > 0 ? bound.includes(source) : source === defaultSource;
}
