// Development only (running from TypeScript under tsx or vitest): Node 20 does not pass tsx's loader on to
// worker threads, so the worker starts here, registers it, then loads the TypeScript entry it was given.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
