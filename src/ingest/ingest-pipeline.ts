import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { CommitScope, DerivedData } from '../context/index.js';
import type { Clock, Logger } from '../core/index.js';
import { checkSourceName } from '../core/index.js';
import type { InMemoryInput, RawRecord, ReaderOptions, RecordInput, ResourceValidator } from '../fhir/index.js';
import {
  DEFAULT_MAX_RECORD_BYTES,
  inputName,
  listInputFiles,
  readNdjsonBlocks,
  readNdjsonLines,
  readRecords,
} from '../fhir/index.js';
import type { Database, ResourceStore, WriteResult } from '../store/index.js';
import { Run } from './ingest-run.js';
import type { IngestSummary } from './ingest-summary.js';
import type { PrepareResult, PrepareWorkerData } from './prepare-pool.js';
import { PreparePool, STAGE_KEYS_PER_CHUNK } from './prepare-pool.js';
import type { Reject } from './reject-log.js';
import type { ResourcePreparer } from './resource-preparer.js';
import { standaloneScope } from './resource-preparer.js';
import { gatherSeenNames, seenNamesOf } from './seen-names-pass.js';
import { processRecord } from './single-record.js';
import { StagingArea } from './staging-area.js';

export interface IngestOptions {
  /**
   * Name of the source system (hospital, registry...): part of every stored id and patient key. Must match
   * `SOURCE_NAME` (core/source-name.ts), else the run is refused with `INGEST_INVALID_SOURCE` before reading.
   */
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

/** Worker threads for large NDJSON files; omitted = everything on the calling thread. */
export interface ParallelOptions {
  workers: number;
  /** Files smaller than this are not worth the workers' start-up (about a second each). */
  minFileBytes: number;
  data: Omit<PrepareWorkerData, 'source'>;
  /** Where workers stage prepared rows for the store (a directory of the hub's, owner-only). */
  stagingDir: string;
}

export interface IngestDeps {
  parallel?: ParallelOptions;
  store: ResourceStore;
  validator: ResourceValidator;
  preparer: ResourcePreparer;
  clock: Clock;
  logger: Logger;
  /** The audit log's name for a file read from disk (its path may hold identifiers): `Pseudonymiser.pathLabel`. */
  pathLabel: (absolutePath: string) => string;
  /** Append to the audit log; with `tx`, inside that transaction (the entry commits with the write, or neither). */
  audit: (
    entry: {
      actor: string;
      action: string;
      target: string;
      outcome: 'success' | 'failure';
      detail: Record<string, number | string>;
    },
    tx?: Database,
  ) => Promise<void>;
  /**
   * The hub's after-commit pipeline: every run ends by bringing the derived tables up to date with what it
   * committed, failed or not. Omitted (a bare pipeline over a store): derived tables are the caller's concern.
   */
  derived?: Pick<DerivedData, 'afterWrite'>;
}

/** Bytes of NDJSON lines per chunk handed to a worker. */
const CHUNK_BYTES = 2 << 20;
const NDJSON_FILE = /\.(ndjson|jsonl)(\.gz)?$/i;

/**
 * source → validate → pseudonymise → store → derived tables. Records are read as a stream and written in batches,
 * each one store transaction: a crash loses at most the batch in flight, which a rerun writes (idempotent by hash).
 * Every record ends as written, unchanged, or a reject with its location; nothing is dropped silently. A run ends
 * with the hub's after-commit pipeline (analytic tables, event index, consent decisions), so no reader rebuilds.
 */
export class IngestPipeline {
  constructor(private readonly deps: IngestDeps) {}

  async ingestPaths(paths: readonly string[], options: IngestOptions): Promise<IngestSummary> {
    return this.committing(async () => {
      const skipped: string[] = [];
      const files = await listInputFiles(paths, skipped);
      const summary = await this.ingestInputs(
        files,
        await Promise.all(files.map(async (f) => (await stat(f)).size)),
        options,
      );
      return skipped.length > 0 ? { ...summary, skipped } : summary;
    });
  }

  /**
   * Ingest inputs held in memory (uploads through the API) exactly as files of those names would be, without
   * writing their raw bytes, which still carry direct identifiers, to disk. Always on this thread.
   */
  async ingestInMemory(inputs: readonly InMemoryInput[], options: IngestOptions): Promise<IngestSummary> {
    return this.committing(() =>
      this.ingestInputs(
        inputs,
        inputs.map((i) => i.bytes.length),
        options,
      ),
    );
  }

  /** A run of files, then the derived tables (only when the run wrote something: unchanged data changes nothing). */
  private async committing(run: () => Promise<IngestSummary>): Promise<IngestSummary> {
    if (!this.deps.derived) return run();
    const { result, derived } = await this.deps.derived.afterWrite(run, (summary) =>
      summary.totals.created + summary.totals.updated > 0 ? {} : { ids: [] },
    );
    return { ...result, derived };
  }

  private async ingestInputs(
    files: readonly RecordInput[],
    sizes: readonly number[],
    options: IngestOptions,
  ): Promise<IngestSummary> {
    // Before anything is read: the source goes into ids, keys, the audit log and the hub log as it is.
    checkSourceName(options.source);
    if (this.deps.parallel) StagingArea.sweep(this.deps.parallel.stagingDir);
    const run = new Run(
      this.deps,
      options,
      sizes.reduce((a, b) => a + b, 0),
    );
    let pool: PreparePool | undefined;
    let staging: StagingArea | undefined;
    let starting: Promise<PreparePool> | undefined;
    const maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    try {
      // Workers take about a second to start: start them while the first pass reads the inputs.
      const parallel = this.deps.parallel;
      const bulk = files.some(
        (f, i) => parallel && typeof f === 'string' && NDJSON_FILE.test(f) && sizes[i]! >= parallel.minFileBytes,
      );
      if (parallel && bulk)
        starting = PreparePool.start(parallel.workers, { ...parallel.data, source: options.source });
      // Handled here so a failed start is not an unhandled rejection while the first pass runs; awaited below.
      starting?.catch(() => undefined);
      // First pass: the run's people, so their names are masked in free text of every file, on every thread.
      run.names = await gatherSeenNames(files, maxRecordBytes);
      if (starting) {
        pool = await starting;
        pool.setNames(run.names.toData());
      }
      for (let i = 0; i < files.length; i++) {
        const input = files[i]!;
        const file = inputName(input);
        const gz = /\.gz$/i.test(file);
        const before = run.summary.bytes;
        const rejectedBefore = run.rejects.count;
        const reader = { maxRecordBytes };
        if (parallel && typeof input === 'string' && NDJSON_FILE.test(file) && sizes[i]! >= parallel.minFileBytes) {
          if (!pool) throw new Error('a bulk file without the workers started for it');
          staging ??= StagingArea.open(parallel.stagingDir);
          run.staging = staging;
          await this.ingestParallel(input, gz, reader, run, pool, staging);
        } else {
          for await (const raw of readRecords(input, reader)) await run.record(raw, gz ? 0 : raw.bytes);
        }
        if (gz) run.progressBytes += sizes[i]!;
        run.summary.files++;
        run.progress(file);
        await run.drain();
        await this.deps.audit({
          actor: options.actor,
          action: 'ingest',
          // An upload's name was scrubbed by its route; a path on disk is never written (`pathLabel`).
          target: `file:${typeof input === 'string' ? this.deps.pathLabel(resolve(input)) : file}`,
          outcome: 'success',
          // Rejects per file, so the audit log alone gives an ingest history with its rejects (the console's).
          detail: {
            source: options.source,
            bytes: run.summary.bytes - before,
            rejected: run.rejects.count - rejectedBefore,
          },
        });
      }
    } finally {
      run.rejects.close();
      pool ??= await starting?.catch(() => undefined); // started, but the first pass failed
      await pool?.close();
      await run.quiesce();
      staging?.close();
    }
    await this.deps.store.analyze();
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
    staging: StagingArea,
  ): Promise<void> {
    const queue: Promise<PrepareResult>[] = [];
    // Deep enough that workers prepare the next batch while the store commits the previous one.
    const maxInflight = 12 * pool.size;
    let seq = 0;
    let parts: Buffer[] = [];
    let lines: number[] = [];
    let offsets: number[] = [0];
    let bytes = 0;
    const submit = (buffer: ArrayBuffer, starts: number[], ends: number[], numbers: number[]) =>
      queue.push(pool.submit({ seq: seq++, file, buffer, starts, ends, lines: numbers, stagingDir: staging.dir }));
    const dispatch = () => {
      if (lines.length === 0) return;
      const packed = Buffer.concat(parts, bytes);
      // A fresh ArrayBuffer holding exactly these bytes, so it can be transferred rather than copied again.
      const buffer = packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.length) as ArrayBuffer;
      submit(buffer, offsets.slice(0, -1), offsets.slice(1), lines);
      parts = [];
      lines = [];
      offsets = [0];
      bytes = 0;
    };
    // An unreadable line (too long, empty file) keeps its place in the order, prepared here.
    const unreadable = (raw: RawRecord) => {
      const outcome = processRecord(raw, {
        validator: this.deps.validator,
        preparer: this.deps.preparer,
        source: run.source,
        scope: standaloneScope(run.names),
      });
      queue.push(Promise.resolve({ seq: seq++, outcomes: [outcome] }));
    };
    const applyOldest = async () => {
      const result = await queue.shift()!;
      if (result.files) staging.add(result.seq, result.files);
      try {
        for (const outcome of result.outcomes) await run.apply(outcome, file, result.seq);
      } finally {
        if (result.files) staging.release(result.seq);
      }
    };
    if (!gz) {
      // A plain file is read in blocks of whole lines, each handed to a worker as it was read.
      const blocks = readNdjsonBlocks(file, { ...reader, blockBytes: CHUNK_BYTES, maxLines: STAGE_KEYS_PER_CHUNK });
      for await (const item of blocks) {
        run.account(item.bytes, item.bytes);
        if ('starts' in item) submit(item.buffer, item.starts, item.ends, item.lines);
        else unreadable(item);
        while (queue.length >= maxInflight) await applyOldest();
      }
    } else {
      for await (const raw of readNdjsonLines(file, reader)) {
        run.account(raw.bytes, 0);
        if ('buffer' in raw) {
          parts.push(raw.buffer);
          bytes += raw.buffer.length;
          offsets.push(bytes);
          lines.push(raw.line);
          if (bytes >= CHUNK_BYTES || lines.length >= STAGE_KEYS_PER_CHUNK) dispatch();
        } else {
          dispatch();
          unreadable(raw);
        }
        while (queue.length >= maxInflight) await applyOldest();
      }
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
    if (!this.deps.derived) return this.ingestOneDocument(value, label, options);
    // Only the resources this document wrote are flattened again (a Bundle is a few of a store's millions).
    const written = (r: { outcomes: EntryOutcome[] }): CommitScope => ({
      ids: r.outcomes.flatMap((o) => (o.ok && o.result.status !== 'unchanged' ? [o.id] : [])),
    });
    const { result, derived } = await this.deps.derived.afterWrite(
      () => this.ingestOneDocument(value, label, options),
      written,
    );
    return { ...result, summary: { ...result.summary, derived } };
  }

  private async ingestOneDocument(
    value: unknown,
    label: string,
    options: IngestOptions,
  ): Promise<{ summary: IngestSummary; outcomes: EntryOutcome[] }> {
    checkSourceName(options.source);
    const run = new Run(this.deps, options, 0);
    run.names = seenNamesOf(value);
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
      detail: { source: options.source, entries: outcomes.length, rejected: outcomes.filter((o) => !o.ok).length },
    });
    return { summary: run.finish(), outcomes };
  }
}
