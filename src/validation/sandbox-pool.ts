/**
 * Sandbox processes kept warm between runs (docs/validation.md, "The sandbox"). Starting one costs Node's start
 * and onnxruntime's load of the model, 0.3–0.8 s here, about twice what scoring a hub's rows takes; a process that
 * scored a model well is kept, idle, for the next run or prediction of the same model (its SHA-256) under the same
 * limits. Only a process whose run succeeded goes back: one that timed out, ran out of memory, crashed, broke the
 * protocol or refused its input is killed, and the next run starts a fresh one. An idle process exits after
 * `idleMs`; at most `maxIdle` wait at once (the oldest goes first); `close` (the hub's close) kills them all.
 */
import { createHash } from 'node:crypto';
import type { SandboxLimits } from './sandbox-process.js';
import { SandboxProcess } from './sandbox-process.js';

/** How many processes wait and for how long. */
export interface SandboxPoolOptions {
  /** Idle processes kept at once, across models. */
  maxIdle: number;
  /** An idle process is killed after this long unused. */
  idleMs: number;
}

/** Four idle processes (each holds its model and onnxruntime, ~100 MB), for a minute each. */
export const DEFAULT_POOL_OPTIONS: SandboxPoolOptions = { maxIdle: 4, idleMs: 60_000 };

/** A process lent for one run; `release(true)` gives it back after a run that succeeded, anything else kills it. */
export interface SandboxLease {
  process: SandboxProcess;
  /** Whether the process was already warm (its model loaded by an earlier run). */
  warm: boolean;
  release(healthy: boolean): void;
}

interface Idle {
  key: string;
  process: SandboxProcess;
  timer: NodeJS.Timeout;
}

/** The warm sandbox processes of one hub. */
export class SandboxPool {
  private idle: Idle[] = [];
  private readonly live = new Set<SandboxProcess>();
  private closed = false;

  constructor(private readonly options: SandboxPoolOptions = DEFAULT_POOL_OPTIONS) {}

  /** The ids of the processes alive now, idle or running (for tests and the hub's own accounting). */
  pids(): number[] {
    for (const p of this.live) if (p.dead) this.live.delete(p);
    return [...this.live].flatMap((p) => (p.pid === undefined ? [] : [p.pid]));
  }

  /** A process holding `model` under `limits`: an idle one when there is one, otherwise a new one. */
  acquire(model: Uint8Array, limits: SandboxLimits): SandboxLease {
    if (this.closed) throw new Error('the sandbox pool is closed');
    const key = `${createHash('sha256').update(model).digest('hex')}/${limits.memoryBytes}/${limits.timeoutMs}`;
    let found: SandboxProcess | undefined;
    this.idle = this.idle.filter((i) => {
      if (found !== undefined || i.key !== key) return !i.process.dead;
      clearTimeout(i.timer);
      if (!i.process.dead) found = i.process;
      return false;
    });
    const process = found ?? new SandboxProcess(model, limits);
    process.hold(true);
    this.live.add(process);
    let released = false;
    return {
      process,
      warm: found !== undefined,
      release: (healthy) => {
        if (released) return;
        released = true;
        if (!healthy || this.closed || process.dead) {
          process.kill();
          this.live.delete(process);
          return;
        }
        const timer = setTimeout(() => this.retire(process), this.options.idleMs);
        // An idle sandbox (its timer, the process and its pipes) never keeps the hub's process alive.
        timer.unref();
        process.hold(false);
        this.idle.push({ key, process, timer });
        while (this.idle.length > this.options.maxIdle) this.retire(this.idle[0]!.process);
      },
    };
  }

  /** Kill every process, idle or running (a running one's request fails as stopped), and wait for them to end. */
  async close(): Promise<void> {
    this.closed = true;
    for (const i of this.idle) clearTimeout(i.timer);
    this.idle = [];
    const ending = [...this.live];
    this.live.clear();
    for (const p of ending) p.kill();
    await Promise.all(ending.map((p) => p.exited));
  }

  private retire(process: SandboxProcess): void {
    this.idle = this.idle.filter((i) => {
      if (i.process !== process) return true;
      clearTimeout(i.timer);
      return false;
    });
    process.kill();
    this.live.delete(process);
  }
}
