import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { MissingPolicy, SeasonSnapshot } from '../../surveillance/index.js';
import {
  forecastSeason,
  isoDay,
  parseIsoDay,
  parseTargetDataCsv,
  QUANTILE_LEVELS,
  seasonForecaster,
  seasonRounds,
} from '../../surveillance/index.js';
import { SeasonForecastBody } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { badRequest } from '../operation-outcome.js';

type Body = Static<typeof SeasonForecastBody>;

function calendarDay(v: string | undefined, key: string): number | undefined {
  if (v === undefined) return undefined;
  const day = parseIsoDay(v);
  if (day === undefined) throw badRequest(`${key} must be a date YYYY-MM-DD`, key);
  return day;
}

/**
 * `POST /surveillance/$forecast-season` with `{ target_data, snapshots?, from?, to?, missing?, models? }`: what
 * `healthmesh forecast season` does, for CSV text sent in the request (snapshots as `{ as_of, target_data }`).
 * It reads nothing of the hub's, so every role may call it; the answer goes through the gate as request data.
 */
export function seasonForecastRoute(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    const schema = { config: { allow: 'authenticated' as const }, schema: { body: SeasonForecastBody } };
    app.post<{ Body: Body }>('/surveillance/$forecast-season', schema, async (req) => {
      const body = req.body;
      req.auditAction = { action: 'forecast-season', target: 'surveillance/season:request-data' };
      const missing: MissingPolicy = body.missing ?? 'interpolate';
      const series = parseTargetDataCsv(body.target_data, { file: 'target_data', missing });
      const from = calendarDay(body.from, 'from');
      const to = calendarDay(body.to, 'to');
      const rounds = seasonRounds(series, { ...(from !== undefined && { from }), ...(to !== undefined && { to }) });
      const snapshots = body.snapshots?.map((s, i): SeasonSnapshot => {
        const day = calendarDay(s.as_of, `snapshots[${i}].as_of`) as number;
        const name = `snapshots[${i}] (${s.as_of})`;
        return { day, name, load: () => parseTargetDataCsv(s.target_data, { file: name, missing }) };
      });
      const forecasters = (body.models ?? ['ensemble']).map(seasonForecaster);
      const season = forecastSeason({ series, ...(snapshots !== undefined && { snapshots }), forecasters, rounds });
      return ctx.hub.gate.fromRequest(
        {
          quantileLevels: [...QUANTILE_LEVELS],
          rounds: season.rounds.map((r) => ({
            referenceDate: isoDay(r.referenceDay),
            ...(r.snapshot !== undefined && { snapshot: r.snapshot }),
            locations: r.locations,
            leftOut: r.leftOut,
          })),
          forecasts: [...season.forecasts].flatMap(([model, fs]) =>
            fs.map((f) => ({
              model,
              referenceDate: isoDay(f.referenceDay),
              location: f.location,
              horizon: f.horizon,
              targetEndDate: isoDay(f.referenceDay + 7 * f.horizon),
              quantiles: [...f.values],
            })),
          ),
        },
        'the target data of the request',
      );
    });
  };
}
