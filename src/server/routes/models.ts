import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { mayReadRowLevel } from '../../access/index.js';
import type { ModelServing } from '../../models/index.js';
import { hubModelRegistry, releaseModelCard } from '../../models/index.js';
import { ModelParams, ModelQuery, ModelStatusBody, ModelVersionParams } from '../api-schemas.js';
import type { RouteContext } from '../app.js';

/**
 * `GET /models` (the latest version of each registered model) and `GET /models/{id}[?version=N]` (a version's card
 * with its evaluation reports, and the versions there are). Cards hold aggregates only — training summaries and
 * metrics — so any authenticated role may read them, released under disclosure control to roles without row-level
 * access; the fitted model body is not sent (export is a CLI step). A model trained in a project is listed and read
 * only by that project's current members (the project's check, `authorize`) and the hub's admins and stewards.
 */
type ReadModel = { Params: Static<typeof ModelParams>; Querystring: Static<typeof ModelQuery> };

export function modelRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    const config = { allow: 'authenticated' } as const;
    app.get('/models', { config }, async (req) => {
      req.auditAction = { action: 'model-list', target: 'models' };
      const registry = await hubModelRegistry(ctx.hub);
      // A project's models are listed to its members only (and to the hub's admins and stewards).
      const rowLevel = mayReadRowLevel(req.principal);
      const scope = rowLevel ? 'all' : { projects: (await ctx.hub.projects.list(req.principal!)).map((p) => p.id) };
      const models = (await registry.list(scope)).map((m) => ({ ...m, createdAt: m.createdAt.toISOString() }));
      if (rowLevel) return { models };
      // The listing holds names, kinds, dates and version numbers: nothing about people.
      const gate = ctx.hub.gate;
      return gate.bundle({
        models: models.map((m) => ({ ...m, latestVersion: gate.parameter(m.latestVersion, 'model version') })),
      });
    });
    const read = { config, schema: { params: ModelParams, querystring: ModelQuery } };
    app.get<ReadModel>('/models/:id', read, async (req) => {
      const { id } = req.params;
      const v = req.query.version;
      req.auditAction = { action: 'model-read', target: `models/${id}` };
      const registry = await hubModelRegistry(ctx.hub);
      const m = await registry.get(id, v);
      // A project's model is read inside its workspace: by its current members while the project holds.
      if (m.project !== undefined && !mayReadRowLevel(req.principal))
        await ctx.hub.projects.authorize(req.principal!, m.project);
      if (!mayReadRowLevel(req.principal)) {
        // Other roles get the card as the release gate builds it (small groups, thin features and their means,
        // counts, ratios from exact counts withheld; statistics on the precision grid).
        const gate = ctx.hub.gate;
        return gate.bundle({
          id: m.id,
          version: gate.parameter(m.version, 'model version'),
          versions: (await registry.versions(id)).map((n) => gate.parameter(n, 'model version')),
          kind: m.kind,
          createdAt: m.createdAt.toISOString(),
          createdBy: m.createdBy,
          modelHash: m.modelHash,
          status: (await registry.status(m.id, m.version)).status,
          features: m.model.features,
          disclosureControlled: true,
          card: releaseModelCard(m.card, gate),
        });
      }
      return {
        id: m.id,
        version: m.version,
        versions: await registry.versions(id),
        kind: m.kind,
        createdAt: m.createdAt.toISOString(),
        createdBy: m.createdBy,
        modelHash: m.modelHash,
        serving: servingJson(await registry.status(m.id, m.version)),
        features: m.model.features,
        // Stewards see the card as stored.
        disclosureControlled: false,
        card: m.card,
      };
    });

    // An admin or steward puts a version in or out of service; audited with the status and, for a recall, its reason.
    app.put<{ Params: Static<typeof ModelVersionParams>; Body: ModelStatusBody }>(
      '/models/:id/versions/:version/status',
      { config: { allow: ['admin', 'steward'] }, schema: { params: ModelVersionParams, body: ModelStatusBody } },
      async (req) => {
        const { id, version } = req.params;
        req.auditAction = {
          action: 'model-status',
          target: `models/${id}/${version}`,
          detail: { status: req.body.status, ...(req.body.reason !== undefined && { reason: req.body.reason }) },
        };
        const registry = await hubModelRegistry(ctx.hub);
        return servingJson(
          await registry.setStatus(id, version, req.body.status, req.principal!.name, req.body.reason),
        );
      },
    );
  };
}

function servingJson(s: ModelServing) {
  return {
    id: s.id,
    version: s.version,
    status: s.status,
    reason: s.reason,
    changedBy: s.changedBy,
    changedAt: s.changedAt?.toISOString() ?? null,
  };
}
