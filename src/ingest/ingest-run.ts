import { faultPoint } from '../core/index.js';
import type { RawRecord } from '../fhir/index.js';
import type { PersonLink, SeenNames } from '../privacy/index.js';
import { personLinkage } from '../privacy/index.js';
import type { Database, WriteResult } from '../store/index.js';
import { bundleEntries } from './bundle-entries.js';
import type { EntryOutcome, IngestDeps, IngestOptions } from './ingest-pipeline.js';
import type { IngestSummary } from './ingest-summary.js';
import { SummaryBuilder } from './ingest-summary.js';
import type { ChunkOutcome } from './prepare-pool.js';
import type { Reject } from './reject-log.js';
import { RejectLog } from './reject-log.js';
import type { Prepared, ReferenceScope } from './resource-preparer.js';
import { standaloneScope } from './resource-preparer.js';
import { describe, faultReject, processRecord, validationReject } from './single-record.js';
import type { StagingArea } from './staging-area.js';

type Json = Record<string, unknown>;

/** A group of writes that commits together; a transaction Bundle is one unit and is never split. */
interface Unit {
  writes: Prepared[];
  origins: Omit<Reject, 'code' | 'message'>[];
  outcomes: EntryOutcome[];
  slots: number[];
  /** Identical repeats of an earlier entry of the same bundle: stored once, answered like it. */
  repeats?: { origin: Omit<Reject, 'code' | 'message'>; key: string; slot?: number }[];
}

/** Resources per store transaction: large batches amortise the head lookup and the commit. */
const DEFAULT_BATCH = 20_000;
/**
 * Staged records per transaction (the bulk path, where a pending record holds no body in memory): DuckDB writes
 * an insert of at least one row group (122,880 rows) straight to the database file instead of the WAL, which
 * then needs a checkpoint to rewrite it. Measured on 225 MB of Synthea: commits cost 4.7 s of CPU in batches of
 * 20k and 61k, 1.6 s in batches of 122,880.
 */
const STAGED_BATCH = 122_880;
const PROGRESS_EVERY_MS = 100;

/** One ingest run: applies record outcomes in input order, gathers write batches and writes them. */
export class Run {
  readonly summary: SummaryBuilder;
  readonly rejects: RejectLog;
  private pending: Unit[] = [];
  /**
   * Records of the bulk path waiting in staged files, by key (increasing in input order): the pending batch is
   * every staged record with a key from `from` to `to`. A batch holds these or units, never both.
   */
  private staged = { count: 0, from: 0, to: 0 };
  /** Linkage tokens of staged Patients, committed with them. */
  private stagedLinks: PersonLink[] = [];
  private stagedChunks = new Set<number>();
  /** The staged files of the bulk path (set by the pipeline when it starts workers). */
  staging: StagingArea | undefined;
  private pendingCount = 0;
  private pendingKeys = new Set<string>();
  private inflightKeys = new Set<string>();
  private inflight: Promise<void> | undefined;
  private writing = false;
  private lastProgress = 0;
  progressBytes = 0;
  private records = 0;
  collect: EntryOutcome[] | undefined;
  /** Records that stand alone share one scope: no other entries, the run's seen names. */
  private standalone = standaloneScope();

  /** The names of the people this run has seen (its first pass), masked in all its free text. */
  get names(): SeenNames {
    return this.standalone.personNames;
  }

  set names(names: SeenNames) {
    this.standalone = standaloneScope(names);
  }

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
      processRecord(raw, {
        validator: this.deps.validator,
        preparer: this.deps.preparer,
        source: this.options.source,
        scope: this.standalone,
      }),
      raw.file,
    );
  }

  /** Count bytes read (for the summary) and bytes of progress (on-disk, for the bar). */
  account(bytes: number, progressBytes: number): void {
    this.summary.bytes += bytes;
    this.progressBytes += progressBytes;
  }

  /**
   * Act on one record's outcome, in input order; flushes a write batch when it is full. `chunk` is the worker
   * chunk a staged outcome comes from.
   */
  async apply(outcome: ChunkOutcome, file: string, chunk = -1): Promise<void> {
    this.records++;
    switch (outcome.kind) {
      case 'reject':
        this.reject(outcome.reject);
        break;
      case 'staged':
        if (this.pending.length > 0) await this.flush();
        this.stage(outcome.key, chunk);
        if (outcome.linkage) this.stagedLinks.push(outcome.linkage);
        break;
      case 'write':
        // Staged records are known to the store only once written: what follows may refer to them.
        if (this.staged.count > 0) await this.drain();
        this.enqueue({
          writes: [{ write: outcome.write, outsideTargets: [] }],
          origins: [outcome.origin],
          outcomes: [],
          slots: [],
        });
        break;
      case 'document':
        if (this.staged.count > 0) await this.drain();
        await this.bundle(outcome.value, outcome.origin);
        break;
    }
    // While a batch commits, keep taking records (up to a second batch) instead of waiting for the store.
    const batch = this.options.batchSize ?? (this.staged.count > 0 ? STAGED_BATCH : DEFAULT_BATCH);
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
    const scope: ReferenceScope = { fullUrls: new Map(), identifiers: new Map(), personNames: this.names };
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

  private stage(key: number, chunk: number): void {
    if (this.staged.count++ === 0) this.staged.from = key;
    this.staged.to = key;
    this.pendingCount++;
    if (!this.stagedChunks.has(chunk)) {
      this.stagedChunks.add(chunk);
      this.staging?.retain(chunk);
    }
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
    if (this.pending.length === 0 && this.staged.count === 0) return;
    const units = this.pending;
    const staged = this.staged;
    const chunks = this.stagedChunks;
    const links = this.stagedLinks;
    this.pending = [];
    this.staged = { count: 0, from: 0, to: 0 };
    this.stagedLinks = [];
    this.stagedChunks = new Set();
    this.pendingCount = 0;
    this.inflightKeys = this.pendingKeys;
    this.pendingKeys = new Set();
    this.writing = true;
    this.inflight = (staged.count > 0 ? this.writeStaged(staged, chunks, links) : this.write(units)).finally(() => {
      this.inflightKeys = new Set();
      this.writing = false;
    });
    // Handled here so a failed write is not an unhandled rejection; the next flush or drain rethrows it.
    this.inflight.catch(() => undefined);
  }

  /** Wait for the write in flight, if any, whatever its outcome (before its files are removed). */
  async quiesce(): Promise<void> {
    await this.inflight?.catch(() => undefined);
  }

  /** Write everything pending and wait until it is committed. */
  async drain(): Promise<void> {
    await this.flush();
    await this.inflight;
  }

  private async writeStaged(
    staged: { count: number; from: number; to: number },
    chunks: Set<number>,
    links: PersonLink[],
  ): Promise<void> {
    const staging = this.staging;
    if (!staging) throw new Error('staged records without a staging area');
    try {
      const batch = {
        source: this.options.source,
        fromKey: staged.from,
        toKey: staged.to,
        count: staged.count,
        files: staging.batchFiles(chunks),
      };
      const now = this.deps.clock.now();
      // Tokens commit with the Patients they belong to, and the audit entry with both: a crash or a full disk never
      // leaves one without the others.
      const counts = await this.deps.store.db.transaction(async (tx) => {
        const r = await this.deps.store.writeStaged(batch, now, tx);
        await personLinkage.record(tx, links);
        await this.auditCommit(tx, r);
        faultPoint('ingest.before-commit');
        return r;
      });
      faultPoint('ingest.after-commit');
      for (const c of counts) this.summary.written(c.type, c.status, c.count);
    } finally {
      for (const chunk of chunks) staging.release(chunk);
    }
  }

  private async write(units: Unit[]): Promise<void> {
    const writes = units.flatMap((u) => u.writes.map((p) => p.write));
    const links: PersonLink[] = [];
    for (const w of writes) if (w.linkage) links.push({ patientKey: w.id, ...w.linkage });
    const now = this.deps.clock.now();
    const results = await this.deps.store.db.transaction(async (tx) => {
      const r = await this.deps.store.write(writes, now, tx);
      await personLinkage.record(tx, links);
      const counts = new Map<string, number>();
      for (const x of r) counts.set(x.status, (counts.get(x.status) ?? 0) + 1);
      await this.auditCommit(
        tx,
        [...counts].map(([status, count]) => ({ status, count })),
      );
      faultPoint('ingest.before-commit');
      return r;
    });
    faultPoint('ingest.after-commit');
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

  /** The audit entry of one committed batch, written in its transaction: what was stored, by whom, from where. */
  private async auditCommit(tx: Database, counts: readonly { status: string; count: number }[]): Promise<void> {
    const detail: Record<string, number | string> = { source: this.options.source };
    for (const c of counts) detail[c.status] = ((detail[c.status] as number | undefined) ?? 0) + c.count;
    await this.deps.audit(
      {
        actor: this.options.actor,
        action: 'ingest.commit',
        target: `source:${this.options.source}`,
        outcome: 'success',
        detail,
      },
      tx,
    );
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
