import type { FastifyInstance } from 'fastify';
import type { CohortFederation } from '../../cohort/index.js';
import { DEFAULT_COHORT_PURPOSE, releaseCohort } from '../../cohort/index.js';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import { badRequest } from '../operation-outcome.js';

interface Body {
  definition?: unknown;
  hubs?: unknown;
  /** The purpose of use (docs/consent.md); research when absent. */
  purpose?: unknown;
}

/**
 * `POST /cohort/$run` with `{ definition, hubs?, purpose? }` (purpose default research; people whose consent refuses
 * it are left out, and the result says how many, released): the cohort on this hub, or across the named hubs (this
 * one included when named). Both answers are `Released` values built by the release gate (the hub's own and the
 * coordinator's merge), the same for every role, so any authenticated role may ask; every release is checked
 * against earlier ones (differencing) and audited.
 */
export function cohortRoutes(ctx: { hub: Hub; cohorts: CohortFederation; federation: Federation | undefined }) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: Body }>('/cohort/$run', async (req) => {
      const body = (req.body ?? {}) as Body;
      if (body.definition === undefined) throw badRequest('the body needs a cohort "definition"', 'definition');
      const hubs = body.hubs;
      // Checked before anything runs, and written to the audit entry: the log says what each use was for.
      const purpose = ctx.hub.consent.policy.purpose(body.purpose ?? DEFAULT_COHORT_PURPOSE).name;
      if (hubs === undefined) {
        req.auditAction = { action: 'cohort-run', target: 'cohort/$run', detail: { purpose } };
        return releaseCohort(ctx.hub, body.definition, `user:${req.principal?.name ?? 'unknown'}`, purpose);
      }
      if (!Array.isArray(hubs) || hubs.length === 0 || !hubs.every((h) => typeof h === 'string')) {
        throw badRequest('"hubs" must be a non-empty list of hub names', 'hubs');
      }
      if (ctx.federation === undefined)
        throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
      req.auditAction = {
        action: 'cohort-run-federated',
        target: `cohort/$run:${hubs.join(',')}`,
        detail: { purpose },
      };
      return ctx.cohorts.run(ctx.federation, hubs as string[], body.definition, purpose);
    });
  };
}
