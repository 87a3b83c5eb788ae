import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Role } from '../../access/index.js';
import type { CohortFederation } from '../../cohort/index.js';
import { cohortIdOf, cohortTables, releaseCohort, validateCohortDefinition } from '../../cohort/index.js';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import { ProjectFederation, tabulateInWorkspace, tabulationVariables } from '../../projects/index.js';
import { badRequest } from '../operation-outcome.js';

/** Who works in a project's workspace, the route parameter naming it, and the hubs a piece of work reaches. */
export const MEMBERS: readonly Role[] = ['researcher', 'developer'];
export const ProjectId = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });
export const WorkHubs = Type.Optional(
  Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { minItems: 1, maxItems: 20 }),
);
const ProjectCohortBody = Type.Object(
  {
    definition: Type.Unknown({ description: 'a cohort definition (docs/cohorts.md)' }),
    hubs: WorkHubs,
  },
  { additionalProperties: false },
);

const Column = Type.String({ pattern: '^[a-z][a-z0-9_]{0,62}$' });
const TabulateBody = Type.Object(
  {
    view: Type.String({ minLength: 1, maxLength: 63, description: 'a built-in view the project was approved for' }),
    rows: Column,
    columns: Type.Optional(Column),
    hubs: WorkHubs,
  },
  { additionalProperties: false },
);

/**
 * Work inside an approved project (its workspace): `POST /projects/:id/views/$tabulate` counts the people of an
 * approved view by approved columns, here or at each hub named in `hubs` (each checks the project and releases its
 * own table; the answer adds their sum); `POST /projects/:id/cohort/$run` runs a cohort over the project's
 * scope only — the tables its domains read must be approved, it runs for the project's purpose (consent applied
 * for it), and each hub it reaches must have approved the project (each checks again against its own record).
 * What comes back passed each hub's release gate; the rows stay in each hub, and every run is recorded as the
 * project's use of the people it included (a citizen sees it, mydata/).
 */
export function projectWorkRoutes(ctx: { hub: Hub; cohorts: CohortFederation; federation: Federation | undefined }) {
  const { hub } = ctx;
  const projects = new ProjectFederation(hub);
  return async (app: FastifyInstance) => {
    // A view inside the workspace: its rows stay in the hub; the member gets people counted by one or two approved
    // columns, for the project's purpose, as the release gate publishes them (docs/projects.md).
    app.post<{ Params: { id: string }; Body: { view: string; rows: string; columns?: string; hubs?: string[] } }>(
      '/projects/:id/views/$tabulate',
      { config: { allow: MEMBERS, service: 'projects' }, schema: { params: ProjectId, body: TabulateBody } },
      async (req) => {
        const { id } = req.params;
        const { hubs, ...request } = req.body;
        const self = hub.config.name;
        const variables = tabulationVariables(request);
        const scope = await hub.projects.authorize(req.principal!, id, {
          tables: [request.view],
          columns: variables,
          ...(hubs !== undefined && { hubs }),
        });
        req.auditAction = {
          action: 'project-view-tabulate',
          target: `project:${id}`,
          detail: {
            view: request.view,
            variables: variables.join(','),
            purpose: scope.purpose,
            hubs: (hubs ?? [self]).join(','),
          },
        };
        const requester = req.principal!.name;
        if (hubs === undefined || (hubs.length === 1 && hubs[0] === self)) {
          return hub.gate.table(await tabulateInWorkspace(hub, scope, request, { uses: hub.projectUses, requester }));
        }
        if (ctx.federation === undefined)
          throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
        return projects.tabulate(ctx.federation, id, [...new Set(hubs)], request, scope, requester);
      },
    );
    app.post<{ Params: { id: string }; Body: { definition: unknown; hubs?: string[] } }>(
      '/projects/:id/cohort/$run',
      { config: { allow: MEMBERS, service: 'projects' }, schema: { params: ProjectId, body: ProjectCohortBody } },
      async (req) => {
        const { id } = req.params;
        const self = hub.config.name;
        const hubs = req.body.hubs ?? [self];
        const def = validateCohortDefinition(req.body.definition);
        const scope = await hub.projects.authorize(req.principal!, id, { tables: cohortTables(def), hubs });
        req.auditAction = {
          action: 'project-cohort-run',
          target: `project:${id}`,
          detail: { purpose: scope.purpose, hubs: hubs.join(',') },
        };
        const requester = `project:${id}/${req.principal!.name}`;
        if (hubs.length === 1 && hubs[0] === self) {
          const released = await releaseCohort(hub, def, requester, scope.purpose);
          await hub.projectUses.record(id, 'cohort', cohortIdOf(def, scope.purpose), req.principal!.name);
          return released;
        }
        if (ctx.federation === undefined)
          throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
        const released = await ctx.cohorts.run(ctx.federation, hubs, def, scope.purpose, {
          project: { id, requester },
        });
        if (hubs.includes(self)) {
          await hub.projectUses.record(id, 'cohort', cohortIdOf(def, scope.purpose), req.principal!.name);
        }
        return released;
      },
    );
  };
}
