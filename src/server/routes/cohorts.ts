import type { FastifyInstance } from 'fastify';
import type { CohortFederation } from '../../cohort/index.js';
import { DEFAULT_COHORT_PURPOSE, releaseCohort, releaseCohortSurvival } from '../../cohort/index.js';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import { CohortRunBody, CohortSurvivalBody } from '../api-schemas.js';
import { badRequest } from '../operation-outcome.js';

/**
 * `POST /cohort/$run` with `{ definition, hubs?, purpose? }` (purpose default research; people whose consent refuses
 * it are left out, and the result says how many, released): the cohort on this hub, or across the named hubs (this
 * one included when named). Both answers are `Released` values built by the release gate (the hub's own and the
 * coordinator's merge), the same for every role, so any authenticated role may ask; every release is checked
 * against earlier ones (differencing) and audited.
 */
export function cohortRoutes(ctx: { hub: Hub; cohorts: CohortFederation; federation: Federation | undefined }) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: CohortRunBody }>(
      '/cohort/$run',
      { config: { allow: 'authenticated' }, schema: { body: CohortRunBody } },
      async (req) => {
        const body = req.body;
        const hubs = body.hubs;
        // Checked before anything runs, and written to the audit entry: the log says what each use was for.
        const purpose = ctx.hub.consent.policy.purpose(body.purpose ?? DEFAULT_COHORT_PURPOSE).name;
        if (hubs === undefined) {
          req.auditAction = { action: 'cohort-run', target: 'cohort/$run', detail: { purpose } };
          return releaseCohort(ctx.hub, body.definition, `user:${req.principal?.name ?? 'unknown'}`, purpose);
        }
        if (ctx.federation === undefined)
          throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
        req.auditAction = {
          action: 'cohort-run-federated',
          target: `cohort/$run:${hubs.join(',')}`,
          detail: { purpose },
        };
        return ctx.cohorts.run(ctx.federation, hubs, body.definition, purpose);
      },
    );
    // Kaplan–Meier and cumulative incidence with numbers at risk, on this hub, released by the gate for every role.
    app.post<{ Body: CohortSurvivalBody }>(
      '/cohort/$survival',
      { config: { allow: 'authenticated' }, schema: { body: CohortSurvivalBody } },
      async (req) => {
        const purpose = ctx.hub.consent.policy.purpose(req.body.purpose ?? DEFAULT_COHORT_PURPOSE).name;
        req.auditAction = { action: 'cohort-survival', target: 'cohort/$survival', detail: { purpose } };
        return releaseCohortSurvival(
          ctx.hub,
          {
            definition: req.body.definition,
            outcome: req.body.outcome,
            ...(req.body.stepDays !== undefined && { stepDays: req.body.stepDays }),
          },
          `user:${req.principal?.name ?? 'unknown'}`,
          purpose,
        );
      },
    );
  };
}
