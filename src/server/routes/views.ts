import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { mayReadRowLevel } from '../../access/index.js';
import { HealthmeshError } from '../../core/index.js';
import type { ViewOutputFormat, ViewRow } from '../../views/index.js';
import {
  builtInView,
  CONTENT_TYPES,
  CompiledView,
  consentLeftOut,
  formatRows,
  parseOutputFormat,
  runOverResources,
  runOverStore,
} from '../../views/index.js';
import { ViewRunBody, ViewRunQuery } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { badRequest } from '../operation-outcome.js';

type Json = Record<string, unknown>;

interface RunRequest {
  view: unknown;
  resources: Json[] | undefined;
  format: ViewOutputFormat | undefined;
  header: boolean;
  limit: number | undefined;
  patients: string[] | undefined;
  since: Date | undefined;
  purpose: string | undefined;
}

/** Read the `Parameters` body of `$run` (SQL-on-FHIR v2 operations/run). */
function parseRunParameters(body: unknown): RunRequest {
  const b = body as Json | null;
  if (b === null || typeof b !== 'object' || b.resourceType !== 'Parameters' || !Array.isArray(b.parameter)) {
    throw badRequest('$run takes a Parameters resource with a viewResource (or viewReference) parameter');
  }
  const req: RunRequest = {
    view: undefined,
    resources: undefined,
    format: undefined,
    header: true,
    limit: undefined,
    patients: undefined,
    since: undefined,
    purpose: undefined,
  };
  (b.parameter as Json[]).forEach((p, i) => {
    const where = `Parameters.parameter[${i}]`;
    switch (p.name) {
      case 'viewResource':
        req.view = p.resource;
        break;
      case 'viewReference': {
        const ref = String((p.valueReference as Json | undefined)?.reference ?? '');
        const m = /^ViewDefinition\/([A-Za-z][A-Za-z0-9_]*)$/.exec(ref);
        if (!m) throw badRequest(`viewReference must be ViewDefinition/<built-in view name>, got '${ref}'`, where);
        req.view = builtInView(m[1]!).definition;
        break;
      }
      case 'resource':
        req.resources ??= [];
        req.resources.push(p.resource as Json);
        break;
      case '_format':
        req.format = parseOutputFormat(String(p.valueCode ?? p.valueString ?? ''));
        break;
      case 'header':
        req.header = p.valueBoolean !== false;
        break;
      case '_limit': {
        const n = p.valueInteger;
        if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
          throw badRequest('_limit must be a positive integer', where);
        req.limit = n;
        break;
      }
      case 'patient': {
        const ref = String((p.valueReference as Json | undefined)?.reference ?? '');
        const m = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
        if (!m) throw badRequest(`patient must be a reference Patient/<id>, got '${ref}'`, where);
        req.patients ??= [];
        req.patients.push(m[1]!);
        break;
      }
      case '_since': {
        const t = Date.parse(String(p.valueInstant ?? ''));
        if (Number.isNaN(t)) throw badRequest('_since must be an instant', where);
        req.since = new Date(t);
        break;
      }
      case 'purpose':
        // Our own parameter (docs/consent.md): the purpose a run over the store is for.
        req.purpose = String(p.valueCode ?? p.valueString ?? '');
        break;
      default:
        throw new HealthmeshError(
          'API_NOT_SUPPORTED',
          `$run parameter '${String(p.name)}' is not supported by this hub`,
          {
            path: where,
          },
        );
    }
  });
  if (req.view === undefined) throw badRequest('$run needs a viewResource or viewReference parameter');
  return req;
}

/**
 * `POST /fhir/ViewDefinition/$run`: run an ad-hoc ViewDefinition over the resources given in the request or over
 * the hub's store. Row-level output, so only roles allowed to see row-level data may call it.
 */
export function viewRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: unknown; Querystring: { _format?: string } }>(
      '/fhir/ViewDefinition/$run',
      { config: { allow: 'row-level' }, schema: { querystring: ViewRunQuery, body: ViewRunBody } },
      async (req, reply) => {
        req.auditAction = { action: 'view-run', target: 'ViewDefinition/$run' };
        if (!mayReadRowLevel(req.principal)) {
          throw new HealthmeshError(
            'AUTH_FORBIDDEN',
            `role '${req.principal?.role ?? 'none'}' may not run views: $run returns row-level data`,
          );
        }
        const run = parseRunParameters(req.body);
        const view = CompiledView.compile(run.view, { constants: { ...regionOf(run.view, ctx) } });
        const format =
          run.format ??
          (req.query._format !== undefined
            ? parseOutputFormat(req.query._format)
            : req.headers.accept?.includes('text/csv')
              ? 'csv'
              : 'json');
        // A run over the store by anyone but an admin (or naming a purpose) is for a purpose, research unless named:
        // the resources of people whose consent refuses it are left out, and the response says the purpose and how
        // many people were left out.
        const consent =
          run.resources === undefined && (req.principal?.role !== 'admin' || run.purpose !== undefined)
            ? await ctx.hub.consent.filter(run.purpose ?? 'research', undefined, 'Parameters.purpose')
            : undefined;
        const scope = {
          ...(run.patients && { patients: run.patients }),
          ...(run.since && { since: run.since }),
          ...(run.limit !== undefined && { limit: run.limit }),
          ...(consent !== undefined && { consent }),
        };
        if (consent !== undefined) {
          const leftOut = await consentLeftOut(ctx.hub.store, view, scope);
          reply.header('X-Purpose', consent.purpose).header('X-Consent-Left-Out', String(leftOut));
        }
        const rows: AsyncIterable<ViewRow[]> = run.resources
          ? runOverResources(view, run.resources, run.limit)
          : runOverStore(ctx.hub.store, view, scope);
        req.auditAction.target = `ViewDefinition:${view.definition.name ?? view.definition.resource}`;
        req.auditAction.detail = {
          resource: view.definition.resource,
          source: run.resources ? 'request' : 'store',
          format,
          ...(consent !== undefined && { purpose: consent.purpose }),
        };
        // The first chunk is produced before the status is sent, so a view that fails on the data still gets an
        // OperationOutcome; later faults can only cut the stream short.
        const text = formatRows(view.columns, rows, format, { header: run.header })[Symbol.asyncIterator]();
        const first = await text.next();
        async function* rest(): AsyncIterable<string> {
          if (!first.done) yield first.value;
          for (let r = await text.next(); !r.done; r = await text.next()) yield r.value;
        }
        return reply.type(CONTENT_TYPES[format]).send(Readable.from(rest()));
      },
    );
  };
}

/** Built-in views declare `%region`; bind it to the hub's name as the analytic tables do. */
function regionOf(view: unknown, ctx: RouteContext): Record<string, string> {
  const constants = (view as Json | null)?.constant;
  const declares = Array.isArray(constants) && constants.some((c) => (c as Json | null)?.name === 'region');
  return declares ? { region: ctx.hub.config.name } : {};
}
