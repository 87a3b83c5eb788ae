import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { Allow, Principal } from '../access/index.js';
import { isAllow, mayCall, rolesAllowed } from '../access/index.js';
import type { HubRole, HubService } from '../core/index.js';
import { HealthmeshError, HUB_ROLE_SERVICES, hubOffers } from '../core/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Who may call the route (access/route-allow.ts): `'public'`, `'peer'` (signed federation requests), or a role
     * policy (`'authenticated'`, `'row-level'`, `'ingest'`, `'self'`) or list of roles. Required: `buildServer` fails on a
     * route without it.
     */
    allow?: Allow;
    /**
     * The service of the hub's role the route belongs to (core/hub-role.ts): on a hub whose role does not offer it the
     * route answers 404, as if it did not exist, once the caller is known to be admitted.
     */
    service?: HubService;
  }
}

/** One route as registered, with its declaration. */
export interface RouteDeclaration {
  method: string;
  url: string;
  allow: Allow;
}

const declared = new WeakMap<FastifyInstance, RouteDeclaration[]>();

/**
 * Make every route registered after this call declare who may call it: registering one without a valid
 * `config.allow` throws, naming its method and URL, so `buildServer` fails instead of serving it. HEAD routes that
 * Fastify adds for each GET carry the GET's declaration and are not listed.
 */
export function requireDeclarations(app: FastifyInstance): void {
  const routes: RouteDeclaration[] = [];
  declared.set(app, routes);
  app.addHook('onRoute', (r: RouteOptions) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    const allow: unknown = r.config?.allow;
    if (!isAllow(allow)) {
      throw new Error(
        `route ${methods.join(',')} ${r.url} declares no caller: set config.allow to 'public', 'peer', a role policy (authenticated, row-level, ingest) or a list of roles`,
      );
    }
    for (const method of methods) if (method !== 'HEAD') routes.push({ method, url: r.url, allow });
  });
}

/** Every route of an app built by `buildServer` with its declaration, in the order registered. */
export function declaredRoutes(app: FastifyInstance): readonly RouteDeclaration[] {
  const routes = declared.get(app);
  if (!routes) throw new Error('this app was not built by buildServer: its routes are not recorded');
  return routes;
}

/** The declaration of the route a request matched (a request that matched none is refused as if by a role route). */
export function allowOf(req: FastifyRequest): Allow {
  return req.routeOptions.config?.allow ?? 'authenticated';
}

/** Refuse `principal` on a route declared `allow`, with the reason the declaration gives. */
export function checkAllowed(req: FastifyRequest, principal: Principal): void {
  const allow = allowOf(req);
  // An app a citizen granted reads that citizen's records and nothing else: GET on the `self` routes.
  if (principal.scope !== undefined && !(allow === 'self' && req.method === 'GET')) {
    throw new HealthmeshError(
      'AUTH_FORBIDDEN',
      `an app's token (${principal.scope}) reads its citizen's records only: ${req.method} ${req.routeOptions.url ?? 'this route'} is not one of them`,
    );
  }
  if (mayCall(allow, principal)) return;
  const role = principal.role;
  const message =
    allow === 'row-level'
      ? `role '${role}' may not read row-level records; aggregates (cohorts, views' counts, forecasts) are open to it`
      : allow === 'ingest'
        ? `role '${role}' may not write records into this hub`
        : allow === 'self'
          ? `only a citizen reads their own records here; role '${role}' has none`
          : `role '${role}' may not call ${req.method} ${req.routeOptions.url ?? 'this route'} (allowed: ${[...rolesAllowedOf(allow)].join(', ')})`;
  throw new HealthmeshError('AUTH_FORBIDDEN', message);
}

function rolesAllowedOf(allow: Allow): ReadonlySet<string> {
  return allow === 'public' || allow === 'peer' ? new Set() : rolesAllowed(allow);
}

/** Refuse a route of a service this hub's role does not offer (404: for this hub the route does not exist). */
export function checkOffered(req: FastifyRequest, role: HubRole): void {
  const service = req.routeOptions.config?.service;
  if (service === undefined || hubOffers(role, service)) return;
  const where = (Object.keys(HUB_ROLE_SERVICES) as HubRole[]).filter((r) => hubOffers(r, service));
  throw new HealthmeshError(
    'API_NOT_FOUND',
    `this ${role} hub offers no ${service}: ${req.method} ${req.routeOptions.url ?? 'this route'} is served by ${where.join(', ')} hubs`,
  );
}
