import type { Worker } from 'node:worker_threads';
import { defaultWorkerCount, siblingModule, startReadyWorkers } from '../core/index.js';
import type { BuiltInView } from './builtin-views.js';
import type { FlattenFailure, FlattenOutput, FlattenTask } from './staged-flatten.js';
import { fromFailure } from './staged-flatten.js';
import type { PathEngine } from './view-compiler.js';

/** What each worker compiles its views from. */
export interface FlattenWorkerData {
  views: readonly BuiltInView[];
  region: string;
  engine: PathEngine | undefined;
}

export type FlattenMessage = { seq: number; output: FlattenOutput } | { seq: number; failure: FlattenFailure };

interface Waiting {
  task: FlattenTask;
  resolve: (o: FlattenOutput) => void;
  reject: (e: unknown) => void;
}

/** Worker threads that flatten exported files; each runs one task at a time, the rest wait in order. */
export class FlattenPool {
  private readonly idle: Worker[];
  private readonly queue: Waiting[] = [];
  private readonly running = new Map<Worker, Waiting>();
  private failed: unknown;

  private constructor(private readonly workers: Worker[]) {
    this.idle = [...workers];
    for (const w of workers) {
      w.on('message', (m: FlattenMessage) => this.finished(w, m));
      w.on('error', (e) => this.failAll(e));
      w.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`a flatten worker exited with code ${code}`));
      });
    }
  }

  /** One worker per core (the main thread mostly waits on the store's own threads), at least one, at most four. */
  static defaultSize(): number {
    return defaultWorkerCount();
  }

  static async start(size: number, data: FlattenWorkerData): Promise<FlattenPool> {
    return new FlattenPool(await startReadyWorkers(siblingModule(import.meta.url, 'flatten-worker'), data, size));
  }

  run(task: FlattenTask): Promise<FlattenOutput> {
    return new Promise((resolve, reject) => {
      if (this.failed !== undefined) {
        reject(this.failed);
        return;
      }
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.failAll(new Error('the flatten pool was closed'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const next = this.queue.shift()!;
      this.running.set(w, next);
      w.postMessage(next.task);
    }
  }

  private finished(w: Worker, m: FlattenMessage): void {
    const job = this.running.get(w);
    this.running.delete(w);
    this.idle.push(w);
    if (job) {
      if ('failure' in m) job.reject(fromFailure(m.failure));
      else job.resolve(m.output);
    }
    this.dispatch();
  }

  private failAll(e: unknown): void {
    this.failed ??= e;
    for (const job of [...this.running.values(), ...this.queue]) job.reject(e);
    this.running.clear();
    this.queue.length = 0;
  }
}
