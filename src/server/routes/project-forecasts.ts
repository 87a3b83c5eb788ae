import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../access/index.js';
import type { Federation } from '../../federation/index.js';
import type { Hub } from '../../hub/index.js';
import { ForecastParameters } from '../../outputs/index.js';
import type { Released } from '../../privacy/index.js';
import type { SeriesFederation } from '../../surveillance/index.js';
import { forecasterNamed, parseIsoDay, QUANTILE_LEVELS, SERIES_SCOPE, seriesUseRef } from '../../surveillance/index.js';
import { badRequest } from '../operation-outcome.js';
import { MEMBERS, ProjectId } from './project-work.js';
import { forecastRow } from './surveillance.js';

/** What a forecast run in a workspace needs: the hub, its series federation and its federation (if it has one). */
export interface WorkspaceForecastContext {
  hub: Hub;
  series: SeriesFederation;
  federation: Federation | undefined;
}

/**
 * One forecast round in a project's workspace, for `principal`: the project's check first (a current member, not
 * ended, approved here and at every hub named, `SERIES_SCOPE` approved — the conditions' code and onset the weekly
 * series read), then each hub's weekly ILI or confirmed-influenza series counted for the project's purpose (consent
 * applied for it) and released by its own gate (each peer checks the project again, `surveillance.series` with the
 * project), then the round computed by this hub's gate from the released series only. The people a series counted
 * here are recorded as the project's use. Shared by the run route and the airlock, which computes it again.
 */
export async function workspaceForecast(
  ctx: WorkspaceForecastContext,
  principal: Principal,
  id: string,
  request: ForecastParameters,
): Promise<{ released: Released<unknown>; purpose: string; hubs: string[] }> {
  const { hub } = ctx;
  const self = hub.config.name;
  const hubs = [...new Set(request.hubs ?? [self])];
  if (request.reference_date !== undefined && parseIsoDay(request.reference_date) === undefined)
    throw badRequest('reference_date must be a calendar date YYYY-MM-DD', 'reference_date');
  const forecaster = forecasterNamed(request.model ?? 'ensemble');
  const scope = await hub.projects.authorize(principal, id, {
    tables: [...SERIES_SCOPE.tables],
    columns: [...SERIES_SCOPE.columns],
    hubs,
  });
  if (hubs.some((h) => h !== self) && ctx.federation === undefined)
    throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
  const released = await ctx.series.releasedForecast(ctx.federation, hubs, forecaster, {
    requester: `project:${id}/${principal.name}`,
    project: { id, purpose: scope.purpose },
    ...(request.target !== undefined && { target: request.target }),
    ...(request.reference_date !== undefined && { referenceDate: request.reference_date }),
    ...(request.suppressed_weeks !== undefined && { suppressedWeeks: request.suppressed_weeks }),
  });
  if (hubs.includes(self)) await hub.projectUses.record(id, 'forecast', seriesUseRef(scope.purpose), principal.name);
  const answer: Released<unknown> = hub.gate.fromReleased(
    [released],
    ([run]) => ({
      project: id,
      purpose: scope.purpose,
      hubs,
      model: run.model,
      target: run.target,
      referenceDate: run.referenceDate,
      quantileLevels: [...QUANTILE_LEVELS],
      forecasts: run.forecasts.map((f) => forecastRow(run.model, run.target, f)),
      alerts: run.alerts,
      imputedWeeks: run.imputedWeeks,
      failed: run.failed.map((f) => ({ hub: f.hub, kind: f.kind, remoteCode: f.remoteCode, message: f.message })),
      complete: run.complete,
    }),
    'released-series',
  );
  return { released: answer, purpose: scope.purpose, hubs };
}

/**
 * `POST /projects/:id/forecasts/$run` with `{ target?, model?, reference_date?, suppressed_weeks?, hubs? }`: a
 * member forecasts the weekly ILI or confirmed-influenza series inside an approved project, on this hub or across
 * the hubs that approved it (`workspaceForecast`). The answer stays in the workspace: it leaves only as an output of
 * kind `forecast`, which the airlock computes again and releases (rule `released-series`).
 */
export function projectForecastRoutes(ctx: WorkspaceForecastContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Params: { id: string }; Body: ForecastParameters }>(
      '/projects/:id/forecasts/$run',
      { config: { allow: MEMBERS, service: 'projects' }, schema: { params: ProjectId, body: ForecastParameters } },
      async (req) => {
        const { id } = req.params;
        const { released, purpose, hubs } = await workspaceForecast(ctx, req.principal!, id, req.body);
        req.auditAction = {
          action: 'project-forecast-run',
          target: `project:${id}`,
          detail: {
            purpose,
            hubs: hubs.join(','),
            target: req.body.target ?? 'ili',
            model: req.body.model ?? 'ensemble',
          },
        };
        return released;
      },
    );
  };
}
