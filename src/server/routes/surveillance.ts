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

interface FederatedBody {
  hubs?: unknown;
  target?: unknown;
  reference_date?: unknown;
  through?: unknown;
  model?: unknown;
  suppressed_weeks?: unknown;
}

function hubList(body: FederatedBody): string[] {
  const hubs = body.hubs;
  if (!Array.isArray(hubs) || hubs.length === 0 || !hubs.every((h) => typeof h === 'string')) {
    throw badRequest('"hubs" must be a non-empty list of hub names', 'hubs');
  }
  return hubs as string[];
}

function optionalText(body: FederatedBody, key: keyof FederatedBody, allowed?: readonly string[]): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || (allowed !== undefined && !allowed.includes(v))) {
    throw badRequest(`"${key}" must be ${allowed ? allowed.join(' or ') : 'a string'}`, key);
  }
  return v;
}

function dateText(body: FederatedBody, key: 'reference_date' | 'through'): string | undefined {
  const v = optionalText(body, key);
  if (v !== undefined && parseIsoDay(v) === undefined) throw badRequest(`${key} must be a date YYYY-MM-DD`, key);
  return v;
}

/** A forecast as the forecasts route shows it (one shape for stored and fresh forecasts). */
function forecastRow(model: string, target: string, f: QuantileForecast) {
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
    // `POST /surveillance/$federated-series` with `{ hubs, through? }`: each named hub's weekly ILI and confirmed
    // series as that hub released them (disclosure-controlled, suppressed weeks null), gathered over signed HTTP.
    app.post<{ Body: FederatedBody }>('/surveillance/$federated-series', async (req) => {
      const body = (req.body ?? {}) as FederatedBody;
      const hubs = hubList(body);
      const through = dateText(body, 'through');
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
    app.post<{ Body: FederatedBody }>('/surveillance/$federated-forecast', async (req) => {
      const body = (req.body ?? {}) as FederatedBody;
      const hubs = hubList(body);
      const target = optionalText(body, 'target', ['ili', 'confirmed']) as 'ili' | 'confirmed' | undefined;
      const referenceDate = dateText(body, 'reference_date');
      const suppressed = optionalText(body, 'suppressed_weeks', ['midpoint', 'refuse']) as
        | 'midpoint'
        | 'refuse'
        | undefined;
      const forecaster = forecasterNamed(optionalText(body, 'model') ?? 'ensemble');
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
    app.get<{ Querystring: Query }>('/surveillance/forecasts', async (req) => {
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
    app.get<{ Querystring: Query }>('/surveillance/scores', async (req) => {
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
    app.get<{ Querystring: Query }>('/surveillance/alerts', async (req) => {
      req.auditAction = { action: 'alert-read', target: 'surveillance/alerts' };
      const exact = mayReadRowLevel(req.principal);
      const body = { alerts: await listAlerts(ctx.hub, { ...forecastQuery(req.query), releasedOnly: !exact }) };
      return exact ? body : ctx.hub.gate.reissue(body, 'release-log');
    });
  };
}
