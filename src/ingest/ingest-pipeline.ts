import { stat } from 'node:fs/promises';
import type { Clock, Logger } from '../core/index.js';
import type { RawRecord, ReaderOptions, ResourceValidator } from '../fhir/index.js';
import { DEFAULT_MAX_RECORD_BYTES, listInputFiles, readNdjsonLines, readRecords } from '../fhir/index.js';
import type { PersonLink } from '../privacy/index.js';
import { namePartsOf, personLinkage } from '../privacy/index.js';
import type { ResourceStore, WriteResult } from '../store/index.js';
import { bundleEntries } from './bundle-entries.js';
import type { IngestSummary } from './ingest-summary.js';
import { SummaryBuilder } from './ingest-summary.js';
import type { PrepareResult, PrepareWorkerData } from './prepare-pool.js';
import { PreparePool } from './prepare-pool.js';
import type { Reject } from './reject-log.js';
import { RejectLog } from './reject-log.js';
import type { Prepared, ReferenceScope, ResourcePreparer } from './resource-preparer.js';
import type { RecordOutcome } from './single-record.js';
import { describe, faultReject, processRecord, validationReject } from './single-record.js';

type Json = Record<string, unknown>;

export interface IngestOptions {
  /** Name of the source system (hospital, registry...): part of every stored id and patient key. */
  source: string;
  /** Who runs the ingest, for the audit log. */
  actor: string;
  rejectsPath: string;
  maxRecordBytes?: number;
  /** Flush a write batch at this many resources (one store transaction each). */
  batchSize?: number;
  onProgress?: (p: IngestProgress) => void;
}

export interface IngestProgress {
  bytesDone: number;
  bytesTotal: number;
  records: number;
  file: string;
}

/** The outcome of one submitted entry, in submission order (the API's transaction-response needs it). */
export type EntryOutcome =
  | { ok: true; type: string; id: string; result: WriteResult; entry?: number }
  | { ok: false; reject: Reject };

/** A group of writes that commits together; a transaction Bundle is one unit and is never split. */
interface Unit {
  writes: Prepared[];
  origins: Omit<Reject, 'code' | 'message'>[];
  outcomes: EntryOutcome[];
  slots: number[];
  /** Identical repeats of an earlier entry of the same bundle: stored once, answered like it. */
  repeats?: { origin: Omit<Reject, 'code' | 'message'>; key: string; slot?: number }[];
}

/** Worker threads for large NDJSON files; omitted = everything on the calling thread. */
export interface ParallelOptions {
  workers: number;
  /** Files smaller than this are not worth the workers' start-up (about a second each). */
  minFileBytes: number;
  data: Omit<PrepareWorkerData, 'source'>;
}

export interface IngestDeps {
  parallel?: ParallelOptions;
  store: ResourceStore;
  validator: ResourceValidator;
  preparer: ResourcePreparer;
  clock: Clock;
  logger: Logger;
  audit: (entry: {
    actor: string;
    action: string;
    target: string;
    outcome: 'success' | 'failure';
    detail: Record<string, number | string>;
  }) => Promise<void>;
}

/** Resources per store transaction: large batches amortise the head lookup and the commit. */
const DEFAULT_BATCH = 20_000;
/** Bytes of NDJSON lines per chunk handed to a worker. */
const CHUNK_BYTES = 1 << 20;
const PROGRESS_EVERY_MS = 100;
const NDJSON_FILE = /\.(ndjson|jsonl)(\.gz)?$/i;

/**
 * source → validate → pseudonymise → store. Records are read as a stream and written in batches, each one
 * store transaction: a crash loses at most the batch in flight, which a rerun writes (idempotent by hash).
 * Every record ends as written, unchanged, or a reject with its location; nothing is dropped silently.
 */
export class IngestPipeline {
  constructor(private readonly deps: IngestDeps) {}

  async ingestPaths(paths: readonly string[], options: IngestOptions): Promise<IngestSummary> {
    const files = await listInputFiles(paths);
    const sizes = await Promise.all(files.map(async (f) => (await stat(f)).size));
    const run = new Run(
      this.deps,
      options,
      sizes.reduce((a, b) => a + b, 0),
    );
    let pool: PreparePool | undefined;
    try {
      for (let i = 0; i < files.length; i++) {
        const file = files[i]!;
        const gz = /\.gz$/i.test(file);
        const before = run.summary.bytes;
        const reader = { maxRecordBytes: options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES };
        const parallel = this.deps.parallel;
        if (parallel && NDJSON_FILE.test(file) && sizes[i]! >= parallel.minFileBytes) {
          pool ??= await PreparePool.start(parallel.workers, { ...parallel.data, source: options.source });
          await this.ingestParallel(file, gz, reader, run, pool);
        } else {
          for await (const raw of readRecords(file, reader)) await run.record(raw, gz ? 0 : raw.bytes);
        }
        if (gz) run.progressBytes += sizes[i]!;
        run.summary.files++;
        run.progress(file);
        await run.drain();
        await this.deps.audit({
          actor: options.actor,
          action: 'ingest',
          target: `file:${file}`,
          outcome: 'success',
          detail: { source: options.source, bytes: run.summary.bytes - before },
        });
      }
    } finally {
      run.rejects.close();
      await pool?.close();
    }
    return run.finish();
  }

  /**
   * The bulk path for large NDJSON files: the main thread splits lines and stores; workers parse, validate and
   * pseudonymise chunks of lines. Outcomes are applied in input order, so versions and rejects come out exactly
   * as on the single-threaded path.
   */
  private async ingestParallel(
    file: string,
    gz: boolean,
    reader: ReaderOptions,
    run: Run,
    pool: PreparePool,
  ): Promise<void> {
    const queue: Promise<PrepareResult>[] = [];
    // Deep enough that workers prepare the next batch while the store commits the previous one.
    const maxInflight = 24 * pool.size;
    let seq = 0;
    let parts: Buffer[] = [];
    let lines: number[] = [];
    let offsets: number[] = [0];
    let bytes = 0;
    const dispatch = () => {
      if (lines.length === 0) return;
      const packed = Buffer.concat(parts, bytes);
      // A fresh ArrayBuffer holding exactly these bytes, so it can be transferred rather than copied again.
      const buffer = packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.length) as ArrayBuffer;
      queue.push(pool.submit({ seq: seq++, file, buffer, offsets, lines }));
      parts = [];
      lines = [];
      offsets = [0];
      bytes = 0;
    };
    const applyOldest = async () => {
      const result = await queue.shift()!;
      for (const outcome of result.outcomes) await run.apply(outcome, file);
    };
    for await (const raw of readNdjsonLines(file, reader)) {
      run.account(raw.bytes, gz ? 0 : raw.bytes);
      if ('buffer' in raw) {
        parts.push(raw.buffer);
        bytes += raw.buffer.length;
        offsets.push(bytes);
        lines.push(raw.line);
        if (bytes >= CHUNK_BYTES) dispatch();
      } else {
        // An unreadable line (too long, empty file) keeps its place in the order.
        dispatch();
        const outcome = processRecord(raw, {
          validator: this.deps.validator,
          preparer: this.deps.preparer,
          source: run.source,
        });
        queue.push(Promise.resolve({ seq: seq++, outcomes: [outcome] }));
      }
      while (queue.length >= maxInflight) await applyOldest();
    }
    dispatch();
    while (queue.length > 0) await applyOldest();
  }

  /** Ingest one parsed document (a resource or a Bundle) as the API receives it; outcomes per entry. */
  async ingestDocument(
    value: unknown,
    label: string,
    options: IngestOptions,
  ): Promise<{ summary: IngestSummary; outcomes: EntryOutcome[] }> {
    const run = new Run(this.deps, options, 0);
    const outcomes: EntryOutcome[] = [];
    run.collect = outcomes;
    try {
      await run.record({ file: label, bytes: 0, value }, 0);
      await run.drain();
    } finally {
      run.rejects.close();
    }
    await this.deps.audit({
      actor: options.actor,
      action: 'ingest',
      target: label,
      outcome: 'success',
      detail: { source: options.source, entries: outcomes.length },
    });
    return { summary: run.finish(), outcomes };
  }
}

class Run {
  readonly summary: SummaryBuilder;
  readonly rejects: RejectLog;
  private pending: Unit[] = [];
  private pendingCount = 0;
  private pendingKeys = new Set<string>();
  private inflightKeys = new Set<string>();
  private inflight: Promise<void> | undefined;
  private writing = false;
  private lastProgress = 0;
  progressBytes = 0;
  private records = 0;
  collect: EntryOutcome[] | undefined;

  get source(): string {
    return this.options.source;
  }

  constructor(
    private readonly deps: IngestDeps,
    private readonly options: IngestOptions,
    private readonly bytesTotal: number,
  ) {
    this.summary = new SummaryBuilder(options.source, performance.now());
    this.rejects = new RejectLog(options.rejectsPath);
  }

  async record(raw: RawRecord, progressBytes: number): Promise<void> {
    this.account(raw.bytes, progressBytes);
    await this.apply(
      processRecord(raw, { validator: this.deps.validator, preparer: this.deps.preparer, source: this.options.source }),
      raw.file,
    );
  }

  /** Count bytes read (for the summary) and bytes of progress (on-disk, for the bar). */
  account(bytes: number, progressBytes: number): void {
    this.summary.bytes += bytes;
    this.progressBytes += progressBytes;
  }

  /** Act on one record's outcome, in input order; flushes a write batch when it is full. */
  async apply(outcome: RecordOutcome, file: string): Promise<void> {
    this.records++;
    switch (outcome.kind) {
      case 'reject':
        this.reject(outcome.reject);
        break;
      case 'write':
        this.enqueue({
          writes: [{ write: outcome.write, outsideTargets: [] }],
          origins: [outcome.origin],
          outcomes: [],
          slots: [],
        });
        break;
      case 'document':
        await this.bundle(outcome.value, outcome.origin);
        break;
    }
    // While a batch commits, keep taking records (up to a second batch) instead of waiting for the store.
    const batch = this.options.batchSize ?? DEFAULT_BATCH;
    if (this.pendingCount >= batch && (!this.writing || this.pendingCount >= 2 * batch)) await this.flush();
    if (this.records % 64 === 0 && performance.now() - this.lastProgress > PROGRESS_EVERY_MS) this.progress(file);
  }

  progress(file: string): void {
    this.lastProgress = performance.now();
    this.options.onProgress?.({
      bytesDone: this.progressBytes,
      bytesTotal: this.bytesTotal,
      records: this.records,
      file,
    });
  }

  private reject(r: Reject): void {
    this.rejects.add(r);
    this.summary.rejected(r.resourceType);
    this.collect?.push({ ok: false, reject: r });
  }

  private async bundle(bundle: Json, origin: Omit<Reject, 'code' | 'message'>): Promise<void> {
    const atomic = bundle.type === 'transaction';
    const { entries, faults } = bundleEntries(bundle);
    const failures: Reject[] = faults.map((f) => ({
      ...origin,
      ...(f.index >= 0 && { entry: f.index }),
      code: f.error.code,
      ...(f.error.location.path !== undefined && { path: f.error.location.path }),
      message: f.error.message,
    }));
    // Pass 1: stored ids of every entry, so references between entries resolve whatever their order.
    const scope: ReferenceScope = { fullUrls: new Map(), identifiers: new Map(), personNames: [] };
    const seen = new Map<string, string>();
    const repeats: NonNullable<Unit['repeats']> = [];
    const accepted: { index: number; resource: Json; fullUrl?: string; origin: Omit<Reject, 'code' | 'message'> }[] =
      [];
    for (const e of entries) {
      const entryOrigin = { ...origin, entry: e.index, ...describe(e.resource) };
      const invalid = validationReject(this.deps.validator, e.resource, entryOrigin);
      if (invalid) {
        failures.push(invalid);
        continue;
      }
      const type = String(e.resource.resourceType);
      const id = this.deps.preparer.storedId(this.options.source, e.resource, e.fullUrl);
      const body = JSON.stringify(e.resource);
      const key = `${type}/${id}`;
      const previous = seen.get(key);
      if (previous !== undefined) {
        if (previous !== body) {
          failures.push({
            ...entryOrigin,
            code: 'INGEST_DUPLICATE_ENTRY',
            path: `Bundle.entry[${e.index}]`,
            message: `${type} ${String(e.resource.id ?? e.fullUrl)} appears earlier in this bundle with different content`,
          });
        }
        repeats.push({ origin: entryOrigin, key }); // the same record again: stored once, counted unchanged
        continue;
      }
      seen.set(key, body);
      if (e.fullUrl) scope.fullUrls.set(e.fullUrl, { type, id });
      if (typeof e.resource.id === 'string') scope.fullUrls.set(`${type}/${e.resource.id}`, { type, id });
      for (const ident of Array.isArray(e.resource.identifier) ? (e.resource.identifier as Json[]) : []) {
        if (typeof ident.value === 'string')
          scope.identifiers.set(`${type}|${String(ident.system ?? '')}|${ident.value}`, id);
      }
      if (type === 'Patient' || type === 'RelatedPerson' || type === 'Person')
        scope.personNames.push(...namePartsOf(e.resource));
      accepted.push({
        index: e.index,
        resource: e.resource,
        ...(e.fullUrl !== undefined && { fullUrl: e.fullUrl }),
        origin: entryOrigin,
      });
    }
    // Pass 2: prepare; references leaving the bundle must point at something stored (referential integrity).
    const unit: Unit = { writes: [], origins: [], outcomes: [], slots: [] };
    const inBundle = new Set([...scope.fullUrls.values()].map((v) => `${v.type}/${v.id}`));
    for (const a of accepted) {
      try {
        const prepared = this.deps.preparer.prepare(this.options.source, a.resource, scope, a.fullUrl);
        const missing = await this.missingTargets(prepared, inBundle);
        if (missing) {
          failures.push({
            ...a.origin,
            code: 'INGEST_UNRESOLVED_REFERENCE',
            path: missing.path,
            message: `reference to ${missing.target.split('/')[0]} that is neither in this bundle nor stored`,
          });
          continue;
        }
        unit.writes.push(prepared);
        unit.origins.push(a.origin);
      } catch (e) {
        failures.push(faultReject(e, a.origin, a.resource));
      }
    }
    if (atomic && failures.length > 0) {
      const cause = failures[0]!;
      for (const f of failures) this.reject(f);
      for (const o of unit.origins) {
        this.reject({
          ...o,
          code: 'INGEST_TRANSACTION_FAILED',
          message: `not stored: the transaction was rolled back because entry ${cause.entry ?? '?'} failed (${cause.code})`,
        });
      }
      return;
    }
    for (const f of failures) this.reject(f);
    const written = new Set(unit.writes.map((p) => `${p.write.type}/${p.write.id}`));
    unit.repeats = repeats.filter((r) => written.has(r.key));
    for (const r of repeats) {
      if (!written.has(r.key))
        this.reject({
          ...r.origin,
          code: 'INGEST_DUPLICATE_ENTRY',
          message: 'a repeat of an earlier entry of this bundle that was not stored',
        });
    }
    if (unit.writes.length > 0) this.enqueue(unit);
  }

  private async missingTargets(
    prepared: Prepared,
    inBundle: Set<string>,
  ): Promise<{ target: string; path: string } | undefined> {
    const unknown = prepared.outsideTargets.filter(
      (t) => !inBundle.has(t.target) && !this.pendingKeys.has(t.target) && !this.inflightKeys.has(t.target),
    );
    if (unknown.length === 0) return undefined;
    const keys = unknown.map((t) => t.target.split('/') as [string, string]);
    const found = await this.deps.store.existing(keys);
    return unknown.find((t) => !found.has(t.target));
  }

  private enqueue(unit: Unit): void {
    if (this.collect) {
      const pending: EntryOutcome = { ok: false, reject: { file: '', code: 'INTERNAL', message: 'pending' } };
      for (let i = 0; i < unit.writes.length; i++) {
        unit.slots.push(this.collect.length);
        this.collect.push(pending);
      }
      for (const r of unit.repeats ?? []) {
        r.slot = this.collect.length;
        this.collect.push(pending);
      }
    }
    this.pending.push(unit);
    this.pendingCount += unit.writes.length;
    for (const p of unit.writes) this.pendingKeys.add(`${p.write.type}/${p.write.id}`);
  }

  /**
   * Start writing the pending batch. One batch is written while the next is prepared (DuckDB commits off the
   * main thread); a new write starts only after the previous one committed, so order and lookups hold.
   */
  async flush(): Promise<void> {
    await this.inflight;
    if (this.pending.length === 0) return;
    const units = this.pending;
    this.pending = [];
    this.pendingCount = 0;
    this.inflightKeys = this.pendingKeys;
    this.pendingKeys = new Set();
    this.writing = true;
    this.inflight = this.write(units).finally(() => {
      this.inflightKeys = new Set();
      this.writing = false;
    });
    // Handled here so a failed write is not an unhandled rejection; the next flush or drain rethrows it.
    this.inflight.catch(() => undefined);
  }

  /** Write everything pending and wait until it is committed. */
  async drain(): Promise<void> {
    await this.flush();
    await this.inflight;
  }

  private async write(units: Unit[]): Promise<void> {
    const writes = units.flatMap((u) => u.writes.map((p) => p.write));
    const links: PersonLink[] = [];
    for (const w of writes) if (w.linkage) links.push({ patientKey: w.id, ...w.linkage });
    const now = this.deps.clock.now();
    // Tokens commit with the resources they belong to, so a crash never leaves one without the other.
    const results = await this.deps.store.db.transaction(async (tx) => {
      const r = await this.deps.store.write(writes, now, tx);
      await personLinkage.record(tx, links);
      return r;
    });
    let i = 0;
    for (const u of units) {
      const byKey = new Map<string, WriteResult>();
      u.writes.forEach((p, k) => {
        const result = results[i++]!;
        byKey.set(`${p.write.type}/${p.write.id}`, result);
        this.summary.written(p.write.type, result.status);
        this.settle(u.slots[k], { ok: true, type: p.write.type, id: p.write.id, result }, u.origins[k]?.entry);
      });
      for (const r of u.repeats ?? []) {
        const [type, id] = r.key.split('/') as [string, string];
        this.summary.written(type, 'unchanged');
        const result: WriteResult = { status: 'unchanged', version: byKey.get(r.key)!.version };
        this.settle(r.slot, { ok: true, type, id, result }, r.origin.entry);
      }
    }
  }

  private settle(
    slot: number | undefined,
    outcome: Extract<EntryOutcome, { ok: true }>,
    entry: number | undefined,
  ): void {
    if (this.collect && slot !== undefined) this.collect[slot] = { ...outcome, ...(entry !== undefined && { entry }) };
  }

  finish(): IngestSummary {
    const summary = this.summary.build(performance.now(), this.rejects.count > 0 ? this.rejects.path : undefined);
    this.deps.logger.info(
      { source: summary.source, totals: summary.totals, mbPerSecond: summary.mbPerSecond },
      'ingest finished',
    );
    return summary;
  }
}
