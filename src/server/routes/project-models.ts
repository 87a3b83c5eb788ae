import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import type { ModelFederation } from '../../models/index.js';
import {
  parseTrainingSpec,
  releaseModelCard,
  specTables,
  specVariables,
  trainFederated,
  trainFromSpec,
} from '../../models/index.js';
import { badRequest } from '../operation-outcome.js';
import { MEMBERS, ProjectId, WorkHubs } from './project-work.js';

const ProjectTrainBody = Type.Object(
  {
    spec: Type.Unknown({ description: 'a training spec (docs/models.md); across hubs, a logistic learner' }),
    hubs: WorkHubs,
  },
  { additionalProperties: false },
);

/**
 * `POST /projects/:id/models/$train` with `{ spec, hubs? }`: a member trains a model inside an approved project,
 * on this hub (the spec's learner, held-out evaluation) or across `hubs` (the federated logistic regression, each
 * hub checking the project at every round). The tables the spec reads and the variables it reads values from must
 * be in the approved scope (a refusal names the variable), the rows are
 * built for the project's purpose (consent applied for it), and the model is registered in the project: only its
 * members and this hub's admins and stewards list, read or use it. The member gets the card as the release gate
 * builds it; it leaves the workspace only as an output request.
 */
export function projectModelRoutes(ctx: { hub: Hub; models: ModelFederation; federation: Federation | undefined }) {
  const { hub } = ctx;
  return async (app: FastifyInstance) => {
    app.post<{ Params: { id: string }; Body: { spec: unknown; hubs?: string[] } }>(
      '/projects/:id/models/$train',
      { config: { allow: MEMBERS, service: 'projects' }, schema: { params: ProjectId, body: ProjectTrainBody } },
      async (req, reply) => {
        const { id } = req.params;
        const self = hub.config.name;
        const spec = parseTrainingSpec(req.body.spec);
        const hubs = [...new Set(req.body.hubs ?? [self])];
        const scope = await hub.projects.authorize(req.principal!, id, {
          tables: specTables(spec.features),
          columns: specVariables(spec.features),
          hubs,
        });
        req.auditAction = {
          action: 'project-model-train',
          target: `project:${id}`,
          detail: { model: spec.model, purpose: scope.purpose, hubs: hubs.join(',') },
        };
        const createdBy = `user:${req.principal!.name}`;
        let registered: Awaited<ReturnType<typeof trainFromSpec>>['registered'];
        // The people whose rows trained the model here are the project's use of their data (peers record their own).
        let people: readonly string[] = [];
        if (hubs.length === 1 && hubs[0] === self) {
          let rows: Awaited<ReturnType<typeof trainFromSpec>>['rows'];
          ({ registered, rows } = await trainFromSpec(hub, spec, createdBy, scope.purpose, id));
          people = rows.patientKeys;
        } else {
          if (ctx.federation === undefined)
            throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
          ({ registered } = await trainFederated(hub, ctx.federation, ctx.models, spec, hubs, {
            purpose: scope.purpose,
            project: id,
            createdBy,
          }));
          if (hubs.includes(self)) ({ people } = await ctx.models.people(spec.features, scope.purpose));
        }
        const what = `${registered.id}/${registered.version}`;
        if (people.length > 0) await hub.projectUses.record(id, 'model-training', what, req.principal!.name, people);
        req.auditAction.detail = { ...req.auditAction.detail, version: registered.version };
        const gate = hub.gate;
        return reply.code(201).send(
          gate.bundle({
            id: registered.id,
            version: gate.parameter(registered.version, 'model version'),
            kind: registered.kind,
            project: id,
            hubs,
            modelHash: registered.modelHash,
            features: registered.model.features,
            card: releaseModelCard(registered.card, gate),
          }),
        );
      },
    );
  };
}
