import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { faultPoint } from '../core/index.js';
import type { Hub } from '../hub/index.js';
import { scrubText } from '../privacy/index.js';
import type { CurrentScope } from '../store/index.js';
import { toResource } from '../store/index.js';

export interface ExportRequest {
  level: 'system' | 'patient';
  types: string[];
  since?: Date;
  requestUrl: string;
  /** Who kicked it off: the only principal that may poll, download or cancel it. */
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
  /** When a finished job's files are removed (unset while it runs). */
  expiresAt?: Date;
  files: ExportFile[];
  exported: number;
  /** People whose consent refused the purpose as of the transaction time: none of their resources is exported. */
  leftOut?: number;
  error?: string;
}

/**
 * Bulk Data $export jobs: run in the background, one NDJSON file per type under the hub's exports folder
 * (owner-only). The transaction time is fixed at kick-off; versions stored later are not included. A job belongs to
 * whoever kicked it off: to anyone else it does not exist. Its files are removed `server.exportLifetimeSeconds`
 * after it finished; folders no process knows of (a job of a server since stopped) go once they are that old.
 */
export class ExportJobs {
  private readonly jobs = new Map<string, ExportJob>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly hub: Hub) {
    this.sweep();
    const every = Math.min(this.lifetimeMs, 3600_000);
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  private get lifetimeMs(): number {
    return this.hub.config.server.exportLifetimeSeconds * 1000;
  }

  /** Stop sweeping (the server closes). */
  close(): void {
    clearInterval(this.sweeper);
  }

  /** Remove expired jobs, and folders of jobs no longer known here once they are older than the lifetime. */
  sweep(): void {
    const now = this.hub.clock.now().getTime();
    for (const job of [...this.jobs.values()]) {
      if (job.expiresAt !== undefined && job.expiresAt.getTime() <= now) this.remove(job);
    }
    let entries: string[];
    try {
      entries = readdirSync(this.hub.paths.exportsDir);
    } catch {
      return; // no exports yet
    }
    for (const name of entries) {
      if (this.jobs.has(name)) continue;
      const path = join(this.hub.paths.exportsDir, name);
      try {
        // Another process serving the same hub (PostgreSQL) may be writing it: only what has outlived any job goes.
        if (Date.now() - statSync(path).mtimeMs >= this.lifetimeMs) rmSync(path, { recursive: true, force: true });
      } catch {
        // removed meanwhile
      }
    }
  }

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

  /** The job `id` if `actor` kicked it off and it has not expired. */
  get(id: string, actor: string): ExportJob | undefined {
    const job = this.jobs.get(id);
    if (!job || job.request.actor !== actor) return undefined;
    if (job.expiresAt !== undefined && job.expiresAt.getTime() <= this.hub.clock.now().getTime()) {
      this.remove(job);
      return undefined;
    }
    return job;
  }

  dir(job: ExportJob): string {
    return join(this.hub.paths.exportsDir, job.id);
  }

  /** Cancel a running job or delete a finished one's files, if `actor` kicked it off. */
  cancel(id: string, actor: string): boolean {
    const job = this.get(id, actor);
    if (!job) return false;
    this.remove(job);
    return true;
  }

  private remove(job: ExportJob): void {
    if (job.status === 'running') job.status = 'cancelled';
    this.jobs.delete(job.id);
    rmSync(this.dir(job), { recursive: true, force: true });
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
          faultPoint('export.write');
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
    if (finished) {
      job.status = 'complete';
      job.expiresAt = new Date(this.hub.clock.now().getTime() + this.lifetimeMs);
    }
  }
}
