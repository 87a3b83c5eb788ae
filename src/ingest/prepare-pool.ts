import type { Worker } from 'node:worker_threads';
import { defaultWorkerCount, siblingModule, startReadyWorkers } from '../core/index.js';
import type { ValidatorPlan } from '../fhir/index.js';
import { ResourceValidator } from '../fhir/index.js';
import type { BirthDatePrecision, LinkageKey, SeenNamesData } from '../privacy/index.js';
import type { StagedFiles } from '../store/index.js';
import type { RecordOutcome } from './single-record.js';

export interface PrepareWorkerData {
  secret: Uint8Array;
  birthDatePrecision: BirthDatePrecision;
  source: string;
  linkageKey?: LinkageKey;
}

/**
 * The names the run's first pass found, masked in the free text the workers prepare: posted to every worker
 * before its first chunk (the pool lives for one run), in memory, never through a file.
 */
export interface NamesMessage {
  names: SeenNamesData;
}

/** What a worker starts with. */
export interface WorkerStart extends PrepareWorkerData {
  validatorPlan: ValidatorPlan;
  /** URL of the worker's entry module (the bootstrap loads it). */
  entry: string;
}

/** Lines of one file, packed into one transferable buffer. */
export interface PrepareChunk {
  seq: number;
  file: string;
  buffer: ArrayBuffer;
  /** Where each line starts and ends in `buffer`. */
  starts: number[];
  ends: number[];
  lines: number[];
  /** Where the worker stages the bodies and search rows of the resources it prepares. */
  stagingDir: string;
}

/** A prepared resource whose record, body and search rows wait in the chunk's staged files under `key`. */
export interface StagedOutcome {
  kind: 'staged';
  key: number;
  /** A Patient's linkage token (docs/linkage.md), when the hub has a linkage key. */
  linkage?: { patientKey: string; token: string; keyId: string };
}

export type ChunkOutcome = RecordOutcome | StagedOutcome;

export interface PrepareResult {
  seq: number;
  outcomes: ChunkOutcome[];
  /** The chunk's staged files, when it prepared any resource. */
  files?: StagedFiles;
}

/** Lines per chunk stay below this, so `seq * STAGE_KEYS_PER_CHUNK + line index` numbers staged rows uniquely. */
export const STAGE_KEYS_PER_CHUNK = 2 ** 21;

/** Worker threads that parse, validate and prepare NDJSON lines in parallel with the store's writes. */
export class PreparePool {
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (r: PrepareResult) => void; reject: (e: unknown) => void }>();

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: PrepareResult) => {
        const p = this.waiting.get(m.seq);
        this.waiting.delete(m.seq);
        p?.resolve(m);
      });
      w.on('error', (e) => this.failAll(e));
      w.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`an ingest worker exited with code ${code}`));
      });
    }
  }

  /** Workers to use: one per core, at least one, at most four. */
  static defaultSize(): number {
    return defaultWorkerCount();
  }

  static async start(size: number, data: PrepareWorkerData): Promise<PreparePool> {
    // The validator's compiled plan, not the definitions: compiling them again costs each worker ~0.8 s.
    const workerData: Omit<WorkerStart, 'entry'> = { ...data, validatorPlan: ResourceValidator.r4Plan() };
    const workers = await startReadyWorkers(siblingModule(import.meta.url, 'prepare-worker'), workerData, size);
    return new PreparePool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Hands the run's seen names to every worker; messages keep their order, so they precede every chunk. */
  setNames(names: SeenNamesData): void {
    const message: NamesMessage = { names };
    for (const w of this.workers) w.postMessage(message);
  }

  submit(chunk: PrepareChunk): Promise<PrepareResult> {
    const worker = this.workers[this.next++ % this.workers.length]!;
    return new Promise((resolve, reject) => {
      this.waiting.set(chunk.seq, { resolve, reject });
      worker.postMessage(chunk, [chunk.buffer]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private failAll(e: unknown): void {
    for (const p of this.waiting.values()) p.reject(e);
    this.waiting.clear();
  }
}
