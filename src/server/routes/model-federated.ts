import type { FastifyInstance } from 'fastify';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import type { ModelFederation } from '../../models/index.js';
import { parseTrainingSpec, specTables, specVariables, trainFederated } from '../../models/index.js';
import { FederatedTrainBody } from '../api-schemas.js';
import { badRequest } from '../operation-outcome.js';

/**
 * `POST /models/$federated-train` with `{ spec, hubs, project, purpose? }`: the spec's logistic regression fitted
 * across the named hubs (this one included when named) inside an approved project and registered here with the
 * project on its card, as `model train --hubs` does. The project must be approved here and, as last learned here,
 * at every hub named (`authorizeOperator`), for the tables and variables the spec reads; the rows are built for the
 * project's purpose, and every hub checks the project, and the spec against its own approved scope, at every round. Admins and stewards only, as training on one hub (the CLI on the hub's own directory) is the hub operator's: the answer holds the
 * fitted coefficients and the round record as stored, which a role without row-level rights reads through the
 * released card (`GET /models/{id}`).
 */
export function federatedTrainingRoutes(ctx: {
  hub: Hub;
  models: ModelFederation;
  federation: Federation | undefined;
}) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: FederatedTrainBody }>(
      '/models/$federated-train',
      { config: { allow: ['admin', 'steward'] }, schema: { body: FederatedTrainBody } },
      async (req) => {
        const spec = parseTrainingSpec(req.body.spec);
        const { project } = req.body;
        if (ctx.federation === undefined)
          throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
        req.auditAction = {
          action: 'model-train-federated',
          target: `models/${spec.model}:${req.body.hubs.join(',')}`,
          detail: { project },
        };
        const scope = await ctx.hub.projects.authorizeOperator(req.principal!, project, {
          hubs: req.body.hubs,
          tables: specTables(spec.features),
          columns: specVariables(spec.features),
          ...(req.body.purpose !== undefined && { purpose: req.body.purpose }),
        });
        const purpose = scope.purpose;
        req.auditAction.detail = { project, purpose };
        const { registered, fit } = await trainFederated(ctx.hub, ctx.federation, ctx.models, spec, req.body.hubs, {
          purpose,
          project,
          createdBy: `user:${req.principal?.name ?? 'unknown'}`,
        });
        if (req.body.hubs.includes(ctx.hub.config.name)) {
          // This hub's rows in the fit are the project's use of those people's data (each peer records its own).
          const { people } = await ctx.models.people(spec.features, purpose);
          const what = `${registered.id}/${registered.version}`;
          await ctx.hub.projectUses.record(project, 'model-training', what, req.principal!.name, people);
        }
        return {
          id: registered.id,
          version: registered.version,
          kind: registered.kind,
          modelHash: registered.modelHash,
          features: registered.model.features,
          coefficients: fit.model.coefficients,
          logLikelihood: fit.model.diagnostics.logLikelihood,
          converged: fit.model.diagnostics.converged,
          federation: registered.card.federation,
        };
      },
    );
  };
}
