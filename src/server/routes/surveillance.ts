import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { mayReadRowLevel } from '../../access/index.js';
import type { Federation } from '../../federation/index.js';
import type { ForecastQuery, QuantileForecast, SeriesFederation } from '../../surveillance/index.js';
import {
  forecasterNamed,
  isoDay,
  listAlerts,
  listForecasts,
  listScores,
  parseIsoDay,
  QUANTILE_LEVELS,
} from '../../surveillance/index.js';
import { FederatedForecastBody, FederatedSeriesBody, ForecastListQuery } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { badRequest } from '../operation-outcome.js';
import { seasonForecastRoute } from './surveillance-season.js';

type Query = Static<typeof ForecastListQuery>;
type SeriesBody = Static<typeof FederatedSeriesBody>;

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

/** A date field the schema found in the form YYYY-MM-DD, checked to be a calendar date. */
function calendarDay(v: string | undefined, key: string): string | undefined {
  if (v !== undefined && parseIsoDay(v) === undefined) throw badRequest(`${key} must be a date YYYY-MM-DD`, key);
  return v;
}

/** A forecast as the forecasts route shows it (one shape for stored, fresh and workspace forecasts). */
export function forecastRow(model: string, target: string, f: QuantileForecast) {
  return {
    model,
    target,
    referenceDate: isoDay(f.referenceDay),
    location: f.location,
    horizon: f.horizon,
    targetEndDate: isoDay(f.referenceDay + 7 * f.horizon),
    quantiles: [...f.values],
  };
}

/**
 * `GET /surveillance/forecasts`, `/surveillance/scores` and `/surveillance/alerts`: the forecasts stored by
 * `healthmesh forecast run` or a federated round, their scores kept by `forecast score --dir`, and the epidemic
 * alerts they raised, filtered by `location`, `reference_date`, `model`, `target`. Roles without row-level rights
 * see only forecasts and alerts computed from released series (a federated round's): `forecast run` forecasts
 * from the hub's exact weekly counts, which would reveal weeks the released series suppress.
 */
export function surveillanceRoutes(
  ctx: RouteContext & { series: SeriesFederation; federation: Federation | undefined },
) {
  const coordinator = (): Federation => {
    if (ctx.federation === undefined)
      throw badRequest('this hub has no federation identity: it cannot coordinate', 'hubs');
    return ctx.federation;
  };
  return async (app: FastifyInstance) => {
    await app.register(seasonForecastRoute(ctx));
    // `POST /surveillance/$federated-series` with `{ hubs, through? }`: each named hub's weekly ILI and confirmed
    // series as that hub released them (disclosure-controlled, suppressed weeks null), gathered over signed HTTP.
    const config = { allow: 'authenticated' } as const;
    const listed = { config, schema: { querystring: ForecastListQuery } };
    const seriesSchema = { config, schema: { body: FederatedSeriesBody } };
    app.post<{ Body: SeriesBody }>('/surveillance/$federated-series', seriesSchema, async (req) => {
      const body = req.body;
      const hubs = body.hubs;
      const through = calendarDay(body.through, 'through');
      req.auditAction = { action: 'series-federated', target: `surveillance/series:${hubs.join(',')}` };
      const g = await ctx.series.gatherReleased(coordinator(), hubs, {
        requester: `user:${req.principal?.name ?? 'unknown'}`,
        ...(through !== undefined && { through }),
      });
      return ctx.hub.gate.bundle({
        hubs: g.hubs,
        failed: g.failed.map((f) => ({ hub: f.hub, kind: f.kind, remoteCode: f.remoteCode, message: f.message })),
        complete: g.complete,
      });
    });
    // `POST /surveillance/$federated-forecast` with `{ hubs, target?, reference_date?, model?, suppressed_weeks? }`:
    // one round for every hub's location from the gathered series, stored here with its alerts.
    const forecastSchema = { config, schema: { body: FederatedForecastBody } };
    type ForecastBody = Static<typeof FederatedForecastBody>;
    app.post<{ Body: ForecastBody }>('/surveillance/$federated-forecast', forecastSchema, async (req) => {
      const body = req.body;
      const hubs = body.hubs;
      const target = body.target;
      const referenceDate = calendarDay(body.reference_date, 'reference_date');
      const suppressed = body.suppressed_weeks;
      const forecaster = forecasterNamed(body.model ?? 'ensemble');
      req.auditAction = { action: 'forecast-run-federated', target: `surveillance/forecast:${hubs.join(',')}` };
      const options = {
        requester: `user:${req.principal?.name ?? 'unknown'}`,
        ...(target !== undefined && { target }),
        ...(referenceDate !== undefined && { referenceDate }),
        ...(suppressed !== undefined && { suppressedWeeks: suppressed }),
      };
      if (!mayReadRowLevel(req.principal)) {
        // Stored forecasts and alerts are the hub's record, served to everyone: a researcher may compute a round
        // from the released series but not replace them (`stored: false`).
        const released = await ctx.series.releasedForecast(coordinator(), hubs, forecaster, options);
        return ctx.hub.gate.fromReleased(
          [released],
          ([run]) => ({
            ...run,
            stored: false,
            quantileLevels: [...QUANTILE_LEVELS],
            forecasts: run.forecasts.map((f) => forecastRow(run.model, run.target, f)),
          }),
          'released-series',
        );
      }
      const run = await ctx.series.forecast(coordinator(), hubs, forecaster, options);
      return {
        ...run,
        stored: true,
        quantileLevels: [...QUANTILE_LEVELS],
        forecasts: run.forecasts.map((f) => forecastRow(run.model, run.target, f)),
      };
    });
    app.get<{ Querystring: Query }>('/surveillance/forecasts', listed, async (req) => {
      req.auditAction = { action: 'forecast-read', target: 'surveillance/forecasts' };
      const exact = mayReadRowLevel(req.principal);
      const forecasts = await listForecasts(ctx.hub, { ...forecastQuery(req.query), releasedOnly: !exact });
      const body = {
        quantileLevels: [...QUANTILE_LEVELS],
        forecasts: forecasts.map((f) => forecastRow(f.model, f.target, f)),
      };
      // Other roles see only forecasts computed from released series (stored by a federated round), as kept.
      return exact ? body : ctx.hub.gate.reissue(body, 'release-log');
    });
    app.get<{ Querystring: Query }>('/surveillance/scores', listed, async (req) => {
      req.auditAction = { action: 'score-read', target: 'surveillance/scores' };
      // A score is a forecast measured against exact counts: with the forecast's quantiles, a WIS solves back to
      // the count it was scored against. Other roles are told why there is none.
      if (!mayReadRowLevel(req.principal)) {
        return ctx.hub.gate.text({
          scores: [],
          withheld: 'scores are measured against exact counts: row-level roles only',
        });
      }
      const q = req.query;
      return {
        scores: await listScores(ctx.hub, {
          ...(q.model !== undefined && { model: q.model }),
          ...(q.target !== undefined && { target: q.target }),
        }),
      };
    });
    app.get<{ Querystring: Query }>('/surveillance/alerts', listed, async (req) => {
      req.auditAction = { action: 'alert-read', target: 'surveillance/alerts' };
      const exact = mayReadRowLevel(req.principal);
      const body = { alerts: await listAlerts(ctx.hub, { ...forecastQuery(req.query), releasedOnly: !exact }) };
      return exact ? body : ctx.hub.gate.reissue(body, 'release-log');
    });
  };
}
