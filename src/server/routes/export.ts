import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HealthmeshError } from '../../core/index.js';
import { dateRange } from '../../fhir/index.js';
import { ExportFileParams, ExportJobParams, ExportQuery } from '../api-schemas.js';
import type { RouteContext } from '../app.js';
import { fhirBase } from '../app.js';
import { ExportJobs } from '../export-jobs.js';
import { badRequest } from '../operation-outcome.js';
import { isKnownType } from '../resource-types.js';

const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);

interface KickoffQuery {
  _type?: string;
  _since?: string;
  _outputFormat?: string;
  /** The purpose of use (docs/consent.md); research when absent. */
  purpose?: string;
}

/** Bulk export is for research unless the request names another purpose. */
const DEFAULT_EXPORT_PURPOSE = 'research';

/** FHIR Bulk Data Access (v2) $export: kick-off, status polling, file download, cancel. */
export function exportRoutes(ctx: RouteContext) {
  const jobs = new ExportJobs(ctx.hub);
  return async (app: FastifyInstance) => {
    app.decorate('exportJobs', jobs);
    app.addHook('onClose', async () => jobs.close());
    /** Whose jobs a request may see: its own only (an unknown and another's job answer alike). */
    const actorOf = (req: FastifyRequest) => req.principal?.name ?? 'anonymous';
    const kickoff =
      (level: 'system' | 'patient') =>
      async (req: FastifyRequest<{ Querystring: KickoffQuery }>, reply: import('fastify').FastifyReply) => {
        req.auditAction = { action: 'export-kickoff', target: `$export:${level}` };
        const prefer = req.headers.prefer;
        if (typeof prefer !== 'string' || !/respond-async/.test(prefer)) {
          throw badRequest('$export requires the header "Prefer: respond-async" (Bulk Data Access IG)', 'Prefer');
        }
        const q = req.query;
        if (q._outputFormat !== undefined && !NDJSON_FORMATS.has(q._outputFormat)) {
          throw badRequest(
            `_outputFormat ${q._outputFormat.slice(0, 40)} is not supported (application/fhir+ndjson is)`,
            '_outputFormat',
          );
        }
        const types = (q._type ?? '').split(',').filter((t) => t !== '');
        for (const t of types)
          if (!isKnownType(t)) throw badRequest(`_type: ${t.slice(0, 40)} is not an R4 resource type`, '_type');
        let since: Date | undefined;
        if (q._since !== undefined) {
          const r = dateRange(q._since);
          if (!r) throw badRequest('_since must be a FHIR instant', '_since');
          since = new Date(r.low);
        }
        const purpose = ctx.hub.consent.policy.purpose(q.purpose ?? DEFAULT_EXPORT_PURPOSE).name;
        const job = jobs.start({
          level,
          purpose,
          types,
          ...(since !== undefined && { since }),
          requestUrl: `${fhirBase(ctx, req)}${req.url.replace(/^\/fhir/, '')}`,
          actor: actorOf(req),
        });
        req.auditAction.detail = { job: job.id, purpose };
        return reply
          .code(202)
          .header('Content-Location', `${fhirBase(ctx, req)}/$export-status/${job.id}`)
          .send();
      };
    const row = { allow: 'row-level' } as const;
    app.get('/fhir/$export', { config: row, schema: { querystring: ExportQuery } }, kickoff('system'));
    app.get('/fhir/Patient/$export', { config: row, schema: { querystring: ExportQuery } }, kickoff('patient'));

    app.get<{ Params: { job: string } }>(
      '/fhir/$export-status/:job',
      { config: row, schema: { params: ExportJobParams } },
      async (req, reply) => {
        req.auditAction = { action: 'export-status', target: `export:${req.params.job}` };
        const job = jobs.get(req.params.job, actorOf(req));
        if (!job) throw new HealthmeshError('EXPORT_UNKNOWN_JOB', `no export job ${req.params.job.slice(0, 40)}`);
        if (job.status === 'running') {
          return reply
            .code(202)
            .header('X-Progress', `${job.exported} resources exported`)
            .header('Retry-After', '1')
            .send();
        }
        if (job.status === 'failed') {
          throw new HealthmeshError('INTERNAL', `the export failed: ${job.error ?? 'unknown fault'}`);
        }
        const base = fhirBase(ctx, req);
        return reply
          .type('application/json')
          .header('Expires', (job.expiresAt ?? new Date()).toUTCString())
          .send({
            transactionTime: job.transactionTime.toISOString(),
            request: job.request.requestUrl,
            requiresAccessToken: true,
            output: job.files.map((f) => ({
              type: f.type,
              url: `${base}/$export-file/${job.id}/${f.file}`,
              count: f.count,
            })),
            error: [],
            // Bulk Data v2 lets a server add its own metadata under `extension`: the purpose and how many people's
            // resources consent kept out (row-level callers only, so the count is not rounded).
            extension: { purpose: job.request.purpose, leftOut: job.leftOut ?? 0 },
          });
      },
    );

    app.delete<{ Params: { job: string } }>(
      '/fhir/$export-status/:job',
      { config: row, schema: { params: ExportJobParams } },
      async (req, reply) => {
        req.auditAction = { action: 'export-cancel', target: `export:${req.params.job}` };
        if (!jobs.cancel(req.params.job, actorOf(req)))
          throw new HealthmeshError('EXPORT_UNKNOWN_JOB', `no export job ${req.params.job.slice(0, 40)}`);
        return reply.code(202).send();
      },
    );

    app.get<{ Params: { job: string; file: string } }>(
      '/fhir/$export-file/:job/:file',
      { config: row, schema: { params: ExportFileParams } },
      async (req, reply) => {
        req.auditAction = { action: 'export-download', target: `export:${req.params.job}/${req.params.file}` };
        const job = jobs.get(req.params.job, actorOf(req));
        const file = job?.files.find((f) => f.file === req.params.file);
        if (!job || !file || job.status !== 'complete')
          throw new HealthmeshError('API_NOT_FOUND', 'no such export file');
        const path = join(jobs.dir(job), file.file);
        if (!existsSync(path)) throw new HealthmeshError('API_NOT_FOUND', 'the export file has been removed');
        return reply.type('application/fhir+ndjson').send(createReadStream(path));
      },
    );
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    exportJobs: ExportJobs;
  }
}
