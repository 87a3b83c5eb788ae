import type { FastifyInstance } from 'fastify';
import { mayReadRowLevel } from '../../access/index.js';
import { hubModelRegistry, releaseModelCard } from '../../models/index.js';
import type { RouteContext } from '../app.js';
import { badRequest } from '../operation-outcome.js';

/**
 * `GET /models` (the latest version of each registered model) and `GET /models/{id}[?version=N]` (a version's card
 * with its evaluation reports, and the versions there are). Cards hold aggregates only — training summaries and
 * metrics — so any authenticated role may read them, released under disclosure control to roles without row-level
 * access; the fitted model body is not sent (export is a CLI step).
 */
export function modelRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    app.get('/models', async (req) => {
      req.auditAction = { action: 'model-list', target: 'models' };
      const registry = await hubModelRegistry(ctx.hub);
      return {
        models: (await registry.list()).map((m) => ({ ...m, createdAt: m.createdAt.toISOString() })),
      };
    });
    app.get<{ Params: { id: string }; Querystring: { version?: string } }>('/models/:id', async (req) => {
      const { id } = req.params;
      const v = req.query.version;
      if (v !== undefined && !/^[1-9][0-9]{0,8}$/.test(v)) {
        throw badRequest(`version must be a positive whole number, got '${v}'`, 'version');
      }
      req.auditAction = { action: 'model-read', target: `models/${id}` };
      const registry = await hubModelRegistry(ctx.hub);
      const m = await registry.get(id, v === undefined ? undefined : Number(v));
      return {
        id: m.id,
        version: m.version,
        versions: await registry.versions(id),
        kind: m.kind,
        createdAt: m.createdAt.toISOString(),
        createdBy: m.createdBy,
        modelHash: m.modelHash,
        features: m.model.features,
        // Stewards see the card as stored; other roles its disclosure-controlled release (small subgroups,
        // calibration bins and counts withheld).
        disclosureControlled: !mayReadRowLevel(req.principal),
        card: mayReadRowLevel(req.principal) ? m.card : releaseModelCard(m.card, ctx.hub.config.privacy.disclosure),
      };
    });
  };
}
