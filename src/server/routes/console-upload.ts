import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { mayIngest } from '../../access/index.js';
import { HealthmeshError } from '../../core/index.js';
import type { Hub } from '../../hub/index.js';
import type { Reject } from '../../ingest/index.js';
import { scrubText } from '../../privacy/index.js';
import { UploadQuery, UploadResult } from '../api-schemas.js';
import { badRequest } from '../operation-outcome.js';
import { writeSource } from '../write-source.js';

/** Rejects returned with the answer; the rejects file keeps them all. */
const REJECTS_SHOWN = 200;
/** The file kinds `healthmesh ingest` reads (fhir/record-reader.ts). */
const INGESTIBLE = /^[\w.\- ]{1,120}\.(json|ndjson|jsonl)(\.gz)?$/i;

/**
 * `POST /console/ingest?name=<file name>[&source=<source>]` with the file's bytes as the body
 * (`application/octet-stream`): the console's upload. The bytes are read from memory (never written to disk) by the
 * same pipeline as `healthmesh ingest` (validation, pseudonymisation, rejects with line or entry, then the derived
 * tables). Answers with the counts per type and the rejects. Roles that may ingest only (admin, steward, service).
 */
export function consoleUploadRoutes(ctx: { hub: Hub }) {
  const { hub } = ctx;
  return async (app: FastifyInstance) => {
    // Raw bytes: NDJSON is not one JSON document, and a .gz file is not text. Scoped to this plugin's routes.
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.post<{ Querystring: UploadQuery; Body: unknown; Reply: UploadResult }>(
      '/console/ingest',
      // The uploader's own records: the summary of what it loaded is not a release (checked below: ingest roles).
      { config: { allow: 'ingest' }, schema: { querystring: UploadQuery, response: { 200: UploadResult } } },
      async (req) => {
        // A file name can carry a person's name or registration number: it is scrubbed before it reaches the audit
        // log, the ingest history or an error message.
        const rawName = req.query.name;
        const name = scrubText(rawName);
        const valid = INGESTIBLE.test(rawName);
        const target = valid ? `upload:${name}` : 'upload:[invalid-name]';
        req.auditAction = { action: 'console-upload', target };
        if (!mayIngest(req.principal)) {
          throw new HealthmeshError('AUTH_FORBIDDEN', `role '${req.principal?.role ?? 'none'}' may not ingest data`);
        }
        // An empty ?source= field of the console's form means the hub's default.
        const requested = req.query.source?.trim() || undefined;
        const source = writeSource(hub, req.principal, requested, (s) => {
          req.auditAction = { action: 'console-upload', target, detail: { source: s } };
        });
        if (!valid) {
          throw badRequest('name must be a file name ending in .json, .ndjson or .jsonl (optionally .gz)', 'name');
        }
        if (!Buffer.isBuffer(req.body) || req.body.length === 0) {
          throw badRequest('the body must hold the file’s bytes, sent as application/octet-stream');
        }
        const stamp = hub.clock.now().toISOString().replace(/[:.]/g, '-');
        const rejectsPath = join(hub.paths.rejectsDir, `upload-${stamp}.ndjson`);
        // Read from memory: the upload carries direct identifiers until pseudonymised, so it never touches the disk.
        const summary = await hub.ingest.ingestInMemory([{ name: `upload:${name}`, bytes: req.body }], {
          source,
          actor: req.principal?.name ?? 'anonymous',
          rejectsPath,
          batchSize: hub.config.ingest.batchSize,
          maxRecordBytes: hub.config.ingest.maxRecordBytes,
        });
        const rejects = summary.totals.rejected > 0 ? readRejects(rejectsPath, name) : [];
        req.auditAction.detail = {
          source,
          created: summary.totals.created,
          updated: summary.totals.updated,
          unchanged: summary.totals.unchanged,
          rejected: summary.totals.rejected,
        };
        return {
          name,
          source,
          bytes: summary.bytes,
          seconds: summary.seconds,
          byType: summary.byType,
          totals: summary.totals,
          rejects,
          rejectsShown: rejects.length,
        };
      },
    );
  };
}

/** The run's rejects, with the stored file's name replaced by the name the user uploaded. */
function readRejects(path: string, name: string): Reject[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .slice(0, REJECTS_SHOWN)
    .map((l) => ({ ...(JSON.parse(l) as Reject), file: name }));
}
