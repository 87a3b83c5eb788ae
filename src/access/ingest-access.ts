import type { Principal, Role } from './token-registry.js';

/**
 * Roles that may load data into the hub from the console's upload: the administrator and the data stewards who
 * curate its sources. Researchers and services work on what is already there.
 */
export const INGEST_ROLES: ReadonlySet<Role> = new Set<Role>(['admin', 'steward']);

/** Whether `principal` may upload FHIR files to be ingested. */
export function mayIngest(principal: Principal | undefined): boolean {
  return principal !== undefined && INGEST_ROLES.has(principal.role);
}
