import { INGEST_ROLES, ROW_LEVEL_ROLES } from './row-level-access.js';
import type { Principal, Role } from './token-registry.js';
import { ROLES } from './token-registry.js';

/**
 * Named policies over the roles of bearer tokens: `authenticated` (every role; such routes answer roles without
 * row-level rights only through the release gate), `row-level` (records of patients: admin, steward), `ingest`
 * (writing records: admin, steward, service) and `self` (a citizen's own records: the handler reads only the records
 * linked to the caller's account, so its answers are the caller's own and pass no gate).
 */
export const ROLE_POLICIES = {
  authenticated: new Set<Role>(ROLES),
  'row-level': ROW_LEVEL_ROLES,
  ingest: INGEST_ROLES,
  self: new Set<Role>(['citizen']),
} as const satisfies Record<string, ReadonlySet<Role>>;

export type RolePolicy = keyof typeof ROLE_POLICIES;

/**
 * Who may call a route, declared on every route (`config.allow`) and checked before any handler runs:
 * - `'public'`: anyone, no credential (files and descriptions that hold no data);
 * - `'peer'`: a hub of the peers file, by a signed request (docs/federation.md); bearer tokens are never accepted;
 * - a `RolePolicy` or a list of roles: a valid bearer token whose role the policy or list names.
 *
 * Project scopes are checked by the routes of projects on top of a role declaration.
 */
export type Allow = 'public' | 'peer' | RolePolicy | readonly Role[];

/** Whether `value` is a declaration `Allow` accepts (routes are declared in code; this guards what reaches run time). */
export function isAllow(value: unknown): value is Allow {
  if (value === 'public' || value === 'peer') return true;
  if (typeof value === 'string') return Object.hasOwn(ROLE_POLICIES, value);
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((r) => typeof r === 'string' && (ROLES as readonly string[]).includes(r))
  );
}

/** Whether the declaration asks for a bearer token (a role policy or list), not a signature or nothing. */
export function needsToken(allow: Allow): allow is RolePolicy | readonly Role[] {
  return allow !== 'public' && allow !== 'peer';
}

/** The roles a token-bearing declaration admits. */
export function rolesAllowed(allow: RolePolicy | readonly Role[]): ReadonlySet<Role> {
  return typeof allow === 'string' ? ROLE_POLICIES[allow] : new Set(allow);
}

/** Whether `principal` (a verified bearer token) may call a route declared `allow`. */
export function mayCall(allow: Allow, principal: Principal | undefined): boolean {
  if (!needsToken(allow)) return true;
  return principal !== undefined && rolesAllowed(allow).has(principal.role);
}
