import type { FastifyInstance } from 'fastify';
import type { ForecastQuery } from '../../surveillance/index.js';
import {
  isoDay,
  listAlerts,
  listForecasts,
  listScores,
  parseIsoDay,
  QUANTILE_LEVELS,
} from '../../surveillance/index.js';
import type { RouteContext } from '../app.js';
import { badRequest } from '../operation-outcome.js';

interface Query {
  location?: string;
  reference_date?: string;
  model?: string;
  target?: string;
}

function forecastQuery(q: Query): ForecastQuery {
  if (q.reference_date !== undefined && parseIsoDay(q.reference_date) === undefined) {
    throw badRequest(`reference_date must be a date YYYY-MM-DD, got '${q.reference_date}'`, 'reference_date');
  }
  return {
    ...(q.location !== undefined && { location: q.location }),
    ...(q.reference_date !== undefined && { referenceDate: q.reference_date }),
    ...(q.model !== undefined && { model: q.model }),
    ...(q.target !== undefined && { target: q.target }),
  };
}

/**
 * `GET /surveillance/forecasts`, `/surveillance/scores` and `/surveillance/alerts`: the forecasts stored by
 * `healthmesh forecast run`, their scores kept by `forecast score --dir`, and the epidemic alerts they raised, filtered by `location`, `reference_date`, `model`, `target`. Both are
 * aggregates (weekly counts and their quantiles), so any authenticated role may read them.
 */
export function surveillanceRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    app.get<{ Querystring: Query }>('/surveillance/forecasts', async (req) => {
      req.auditAction = { action: 'forecast-read', target: 'surveillance/forecasts' };
      const forecasts = await listForecasts(ctx.hub, forecastQuery(req.query));
      return {
        quantileLevels: [...QUANTILE_LEVELS],
        forecasts: forecasts.map((f) => ({
          model: f.model,
          target: f.target,
          referenceDate: isoDay(f.referenceDay),
          location: f.location,
          horizon: f.horizon,
          targetEndDate: isoDay(f.referenceDay + 7 * f.horizon),
          quantiles: [...f.values],
        })),
      };
    });
    app.get<{ Querystring: Query }>('/surveillance/scores', async (req) => {
      req.auditAction = { action: 'score-read', target: 'surveillance/scores' };
      const q = req.query;
      return {
        scores: await listScores(ctx.hub, {
          ...(q.model !== undefined && { model: q.model }),
          ...(q.target !== undefined && { target: q.target }),
        }),
      };
    });
    app.get<{ Querystring: Query }>('/surveillance/alerts', async (req) => {
      req.auditAction = { action: 'alert-read', target: 'surveillance/alerts' };
      return { alerts: await listAlerts(ctx.hub, forecastQuery(req.query)) };
    });
  };
}
