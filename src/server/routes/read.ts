import type { FastifyInstance } from 'fastify';
import { HealthmeshError } from '../../core/index.js';
import { toResource } from '../../store/index.js';
import { ResourceParams, VersionParams } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { FHIR_JSON, fhirBase } from '../app.js';
import { isKnownType } from '../resource-types.js';

interface Params {
  type: string;
  id: string;
  vid?: string;
}

/**
 * Stored ids are keyed hashes (32 or 64 hex chars). Anything else cannot exist here and may be a raw
 * identifier a client typed (an MRN), so it is not written to the audit log.
 */
export function auditableId(id: string): string {
  return /^[0-9a-f]{32}(?:[0-9a-f]{32})?$/.test(id) ? id : '[not-a-stored-id]';
}

function requireType(type: string): void {
  if (!isKnownType(type)) throw new HealthmeshError('API_NOT_FOUND', `${type.slice(0, 40)} is not an R4 resource type`);
}

/** read, vread and instance history. */
export function readRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    const row = { allow: 'row-level' } as const;
    const resource = { config: row, schema: { params: ResourceParams } };
    app.get<{ Params: Params }>('/fhir/:type/:id', resource, async (req, reply) => {
      const { type, id } = req.params;
      requireType(type);
      req.auditAction = { action: 'read', target: `${type}/${auditableId(id)}` };
      const v = await ctx.hub.store.read(type, id);
      if (!v) throw new HealthmeshError('API_NOT_FOUND', `${type}/${id} is not stored here`);
      return reply
        .type(FHIR_JSON)
        .header('ETag', `W/"${v.version}"`)
        .header('Last-Modified', v.lastUpdated.toUTCString())
        .send(toResource(v));
    });

    app.get<{ Params: Params }>(
      '/fhir/:type/:id/_history/:vid',
      { config: row, schema: { params: VersionParams } },
      async (req, reply) => {
        const { type, id, vid } = req.params;
        requireType(type);
        req.auditAction = {
          action: 'vread',
          target: `${type}/${auditableId(id)}/_history/${String(vid).slice(0, 12)}`,
        };
        if (!/^\d+$/.test(vid ?? ''))
          throw new HealthmeshError('API_NOT_FOUND', `version ${String(vid).slice(0, 20)} does not exist`);
        const v = await ctx.hub.store.vread(type, id, Number(vid));
        if (!v) throw new HealthmeshError('API_NOT_FOUND', `${type}/${id} has no version ${vid}`);
        return reply.type(FHIR_JSON).header('ETag', `W/"${v.version}"`).send(toResource(v));
      },
    );

    const history = { config: row, schema: { params: ResourceParams } };
    app.get<{ Params: Params }>('/fhir/:type/:id/_history', history, async (req, reply) => {
      const { type, id } = req.params;
      requireType(type);
      req.auditAction = { action: 'history', target: `${type}/${auditableId(id)}` };
      const versions = await ctx.hub.store.history(type, id);
      if (versions.length === 0) throw new HealthmeshError('API_NOT_FOUND', `${type}/${id} is not stored here`);
      const base = fhirBase(ctx, req);
      return reply.type(FHIR_JSON).send({
        resourceType: 'Bundle',
        type: 'history',
        total: versions.length,
        link: [{ relation: 'self', url: `${base}/${type}/${id}/_history` }],
        entry: versions.map((v) => ({
          fullUrl: `${base}/${type}/${id}`,
          resource: toResource(v),
          request: { method: v.version === 1 ? 'POST' : 'PUT', url: v.version === 1 ? type : `${type}/${id}` },
          response: { status: v.version === 1 ? '201' : '200', lastModified: v.lastUpdated.toISOString() },
        })),
      });
    });
  };
}
