import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * Start a worker thread on the module at `entry` (a URL beside the caller's own module: `.ts` under tsx or vitest,
 * `.js` when built). From TypeScript the thread starts in a small JS bootstrap that registers tsx first, because
 * Node 20 does not hand tsx's loader on to worker threads; the entry's URL travels in `workerData.entry`.
 */
export function startWorker(entry: URL, workerData: object): Worker {
  const ts = entry.pathname.endsWith('.ts');
  const url = ts ? new URL('./ts-worker-bootstrap.mjs', import.meta.url) : entry;
  return new Worker(url, { workerData: { ...workerData, entry: entry.href } });
}

/**
 * Start `size` workers on `entry` and wait until each has posted its first message (its "ready"); if one fails
 * to start, all are terminated and the error is thrown.
 */
export async function startReadyWorkers(entry: URL, workerData: object, size: number): Promise<Worker[]> {
  const workers = Array.from({ length: size }, () => startWorker(entry, workerData));
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', () => resolve());
            w.once('error', reject);
          }),
      ),
    );
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  }
  return workers;
}

/** Workers for a CPU-bound pool: one per core, at least one, at most four. */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** The sibling module `name` (without extension) of `moduleUrl`, with the extension the caller itself runs as. */
export function siblingModule(moduleUrl: string, name: string): URL {
  return new URL(`./${name}${moduleUrl.endsWith('.ts') ? '.ts' : '.js'}`, moduleUrl);
}
