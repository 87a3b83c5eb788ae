import { join } from 'node:path';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { HealthmeshError } from '../../core/index.js';
import type { EntryOutcome } from '../../ingest/index.js';
import { SourceQuery, TransactionBody } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { FHIR_JSON } from '../app.js';
import { httpStatusOfCode, operationOutcome } from '../operation-outcome.js';
import { writeSource } from '../write-source.js';

type Json = Record<string, unknown>;

function entryResponse(o: EntryOutcome): Json {
  if (o.ok) {
    const created = o.result.status === 'created';
    return {
      response: {
        status: created ? '201 Created' : '200 OK',
        location: `${o.type}/${o.id}/_history/${o.result.version}`,
        etag: `W/"${o.result.version}"`,
      },
    };
  }
  return {
    response: {
      status: `${httpStatusOfCode(o.reject.code)}`,
      outcome: operationOutcome([
        { code: o.reject.code, message: o.reject.message, ...(o.reject.path !== undefined && { path: o.reject.path }) },
      ]),
    },
  };
}

/** POST /fhir with a transaction or batch Bundle, through the same pipeline as `healthmesh ingest`. */
export function bundleRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance) => {
    app.post<{ Body: Static<typeof TransactionBody>; Querystring: Static<typeof SourceQuery> }>(
      '/fhir',
      { config: { allow: 'ingest' }, schema: { querystring: SourceQuery, body: TransactionBody } },
      async (req, reply) => {
        // The schema checked resourceType and type; the entries are the pipeline's to check.
        const body = req.body as Json & Static<typeof TransactionBody>;
        const headerSource = req.headers['x-healthmesh-source'];
        const entries = Array.isArray(body.entry) ? body.entry.length : 0;
        const audit = { action: 'transaction', target: `Bundle:${String(body.type)}`, detail: { entries } };
        req.auditAction = audit;
        // Refused before any work: 100,000 entries took 49 s and 1.4 GB and stalled every other request.
        const max = ctx.hub.config.ingest.maxBundleEntries;
        if (entries > max) {
          throw new HealthmeshError(
            'INGEST_BUNDLE_TOO_LARGE',
            `the Bundle has ${entries} entries; this hub takes at most ${max} per request (ingest.maxBundleEntries): split it, or ingest it as a file`,
            { path: 'Bundle.entry' },
          );
        }
        // A malformed source is refused before it is audited; a well-formed one is audited, refused or not.
        const source = writeSource(
          ctx.hub,
          req.principal,
          req.query.source ?? (typeof headerSource === 'string' ? headerSource : undefined),
          (s) => {
            req.auditAction = { ...audit, detail: { entries, source: s } };
          },
        );
        const stamp = ctx.hub.clock.now().toISOString().replace(/[:.]/g, '-');
        const { outcomes } = await ctx.hub.ingest.ingestDocument(body, `api:${String(body.type)}`, {
          source,
          actor: req.principal?.name ?? 'anonymous',
          rejectsPath: join(ctx.hub.paths.rejectsDir, `api-${stamp}.ndjson`),
        });
        const byEntry = [...outcomes].sort((a, b) => entryOf(a) - entryOf(b));
        if (body.type === 'transaction') {
          const failed = byEntry.filter((o) => !o.ok && o.reject.code !== 'INGEST_TRANSACTION_FAILED');
          if (failed.length > 0) {
            return reply
              .code(400)
              .type(FHIR_JSON)
              .send(
                operationOutcome(
                  failed.map((o) => {
                    const r = (o as Extract<EntryOutcome, { ok: false }>).reject;
                    return {
                      code: r.code,
                      message: `entry ${r.entry ?? '?'}: ${r.message}`,
                      ...(r.path !== undefined && { path: r.path }),
                    };
                  }),
                ),
              );
          }
        }
        return reply
          .type(FHIR_JSON)
          .send({ resourceType: 'Bundle', type: `${String(body.type)}-response`, entry: byEntry.map(entryResponse) });
      },
    );
  };
}

function entryOf(o: EntryOutcome): number {
  return (o.ok ? o.entry : o.reject.entry) ?? -1;
}
