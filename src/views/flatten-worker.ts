// Worker thread of a large refresh: parse exported resources and flatten them through the views into staged files.
import { parentPort, workerData } from 'node:worker_threads';
import type { FlattenMessage, FlattenWorkerData } from './flatten-pool.js';
import type { MaterialisedView } from './materialised-view.js';
import { materialise } from './materialised-view.js';
import type { FlattenTask } from './staged-flatten.js';
import { flattenStagedFile, toFailure } from './staged-flatten.js';

const data = workerData as FlattenWorkerData;
const compiled = new Map<string, MaterialisedView>();

function view(name: string): MaterialisedView {
  let v = compiled.get(name);
  if (!v) {
    const b = data.views.find((x) => x.name === name);
    if (!b) throw new Error(`flatten worker: no view ${name}`);
    v = materialise(b, data.region, data.engine);
    compiled.set(name, v);
  }
  return v;
}

parentPort?.on('message', (task: FlattenTask) => {
  let message: FlattenMessage;
  try {
    message = { seq: task.seq, output: flattenStagedFile(task, task.views.map(view)) };
  } catch (err) {
    message = { seq: task.seq, failure: toFailure(err) };
  }
  parentPort?.postMessage(message);
});
parentPort?.postMessage({ ready: true });
