import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HealthmeshError } from '../../core/index.js';
import type { SearchPage, SearchQuery } from '../../store/index.js';
import { searchResources, toResource } from '../../store/index.js';
import { ResourceTypeParams, SearchParamsQuery } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { FHIR_JSON, fhirBase } from '../app.js';
import { isKnownType } from '../resource-types.js';
import { parseSearch } from '../search-params.js';

type Query = Record<string, string | string[] | undefined>;

function searchset(ctx: RouteContext, req: FastifyRequest, path: string, q: SearchQuery, page: SearchPage, raw: Query) {
  const base = fhirBase(ctx, req);
  const link = (offset: number) => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(raw)) {
      if (k === '_offset' || k === '_count' || v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
    }
    params.set('_count', String(q.count));
    params.set('_offset', String(offset));
    return `${base}${path}?${params.toString()}`;
  };
  const links = [{ relation: 'self', url: link(q.offset) }];
  if (q.offset > 0) {
    links.push({ relation: 'first', url: link(0) });
    links.push({ relation: 'previous', url: link(Math.max(0, q.offset - q.count)) });
  }
  if (q.count > 0 && q.offset + q.count < page.total) links.push({ relation: 'next', url: link(q.offset + q.count) });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: page.total,
    link: links,
    entry: page.resources.map((v) => ({
      fullUrl: `${base}/${v.type}/${v.id}`,
      resource: toResource(v),
      search: { mode: 'match' },
    })),
  };
}

/** Type-level and system-level search (GET, and POST _search with a form body). */
export function searchRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { type: string }; Querystring: Query }>(
      '/fhir/:type',
      { config: { allow: 'row-level' }, schema: { params: ResourceTypeParams, querystring: SearchParamsQuery } },
      async (req, reply) => {
        const { type } = req.params;
        if (!isKnownType(type))
          throw new HealthmeshError('API_NOT_FOUND', `${type.slice(0, 40)} is not an R4 resource type`);
        const q = parseSearch([type], req.query, false);
        req.auditAction = { action: 'search', target: type, detail: { criteria: q.criteria.length } };
        const page = await searchResources(ctx.hub.db, q);
        req.auditAction.detail = { criteria: q.criteria.length, returned: page.resources.length };
        return reply.type(FHIR_JSON).send(searchset(ctx, req, `/${type}`, q, page, req.query));
      },
    );

    const system = { config: { allow: 'row-level' as const }, schema: { querystring: SearchParamsQuery } };
    app.get<{ Querystring: Query }>('/fhir', system, async (req, reply) => {
      const typeParam = req.query._type;
      const types = (Array.isArray(typeParam) ? typeParam.join(',') : (typeParam ?? ''))
        .split(',')
        .filter((t) => t !== '');
      for (const t of types)
        if (!isKnownType(t))
          throw new HealthmeshError('API_BAD_REQUEST', `_type: ${t.slice(0, 40)} is not an R4 resource type`, {
            path: '_type',
          });
      const q = parseSearch(types, req.query, true);
      req.auditAction = { action: 'search', target: types.length > 0 ? types.join(',') : '*' };
      const page = await searchResources(ctx.hub.db, q);
      req.auditAction.detail = { criteria: q.criteria.length, returned: page.resources.length };
      return reply.type(FHIR_JSON).send(searchset(ctx, req, '', q, page, req.query));
    });
  };
}
