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

/** The sibling module `name` (without extension) of `moduleUrl`, with the extension the caller itself runs as. */
export function siblingModule(moduleUrl: string, name: string): URL {
  return new URL(`./${name}${moduleUrl.endsWith('.ts') ? '.ts' : '.js'}`, moduleUrl);
}
