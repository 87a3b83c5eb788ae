import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Hub } from '../hub/index.js';
import { scrubText } from '../privacy/index.js';
import type { CurrentScope } from '../store/index.js';
import { toResource } from '../store/index.js';

export interface ExportRequest {
  level: 'system' | 'patient';
  types: string[];
  since?: Date;
  requestUrl: string;
  actor: string;
  /** The purpose of use (a checked name): people whose consent refuses it are not exported (docs/consent.md). */
  purpose: string;
}

export interface ExportFile {
  type: string;
  file: string;
  count: number;
}

export interface ExportJob {
  id: string;
  request: ExportRequest;
  status: 'running' | 'complete' | 'failed' | 'cancelled';
  transactionTime: Date;
  files: ExportFile[];
  exported: number;
  /** People whose consent refused the purpose as of the transaction time: none of their resources is exported. */
  leftOut?: number;
  error?: string;
}

/**
 * Bulk Data $export jobs: run in the background, one NDJSON file per type under the hub's exports folder
 * (owner-only). The transaction time is fixed at kick-off; versions stored later are not included.
 */
export class ExportJobs {
  private readonly jobs = new Map<string, ExportJob>();

  constructor(private readonly hub: Hub) {}

  start(request: ExportRequest): ExportJob {
    const job: ExportJob = {
      id: randomUUID(),
      request,
      status: 'running',
      transactionTime: this.hub.clock.now(),
      files: [],
      exported: 0,
    };
    this.jobs.set(job.id, job);
    void this.run(job).catch((e: unknown) => {
      job.status = 'failed';
      job.error = e instanceof Error ? e.message : String(e);
      this.hub.logger.error({ job: job.id, message: scrubText(job.error).slice(0, 500) }, 'export failed');
    });
    return job;
  }

  get(id: string): ExportJob | undefined {
    return this.jobs.get(id);
  }

  dir(job: ExportJob): string {
    return join(this.hub.paths.exportsDir, job.id);
  }

  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (!job) return false;
    if (job.status === 'running') job.status = 'cancelled';
    this.jobs.delete(id);
    rmSync(this.dir(job), { recursive: true, force: true });
    return true;
  }

  /** Wait for all running jobs (tests and shutdown). */
  async idle(): Promise<void> {
    while ([...this.jobs.values()].some((j) => j.status === 'running')) await new Promise((r) => setTimeout(r, 10));
  }

  private async run(job: ExportJob): Promise<void> {
    const dir = this.dir(job);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const scope: CurrentScope = { until: job.transactionTime, types: job.request.types };
    if (job.request.since) scope.since = job.request.since;
    if (job.request.level === 'patient') scope.inCompartment = true;
    // Consent as of the transaction time: a refuser's resources (their Patient included) stay on the hub.
    const consent = await this.hub.consent.filter(job.request.purpose, job.transactionTime);
    const allows = (column: string) => consent.allows(column);
    job.leftOut = await this.hub.store.countLeftOut(scope, allows);
    const streams = new Map<string, { out: WriteStream; file: ExportFile }>();
    try {
      for await (const versions of this.hub.store.streamCurrent(scope, { order: 'id', allows })) {
        if (job.status !== 'running') return;
        for (const version of versions) {
          const type = version.type;
          let s = streams.get(type);
          if (!s) {
            const file: ExportFile = { type, file: `${type}.ndjson`, count: 0 };
            s = { out: createWriteStream(join(dir, file.file), { mode: 0o600 }), file };
            streams.set(type, s);
            job.files.push(file);
          }
          const resource = toResource(version);
          if (!s.out.write(`${JSON.stringify(resource)}\n`))
            await new Promise<void>((r) => s.out.once('drain', () => r()));
          s.file.count++;
          job.exported++;
        }
      }
    } finally {
      await Promise.all([...streams.values()].map((s) => new Promise<void>((r) => s.out.end(() => r()))));
    }
    // Audited before the job shows as complete, so no client can fetch what the log does not yet record.
    const finished = job.status === 'running';
    await this.hub.audit.append({
      actor: job.request.actor,
      action: 'export',
      target: `$export:${job.request.level}`,
      outcome: finished ? 'success' : 'failure',
      detail: {
        job: job.id,
        resources: job.exported,
        types: job.files.length,
        purpose: job.request.purpose,
        leftOut: job.leftOut ?? 0,
      },
    });
    if (finished) job.status = 'complete';
  }
}
