// Worker thread of the NDJSON bulk path: parse, validate and pseudonymise lines; the main thread stores them.
import { parentPort, workerData } from 'node:worker_threads';
import { parseRecord, ResourceValidator } from '../fhir/index.js';
import { LinkageTokeniser, Pseudonymiser, ResourceDeidentifier } from '../privacy/index.js';
import type { PrepareChunk, PrepareResult, PrepareWorkerData } from './prepare-pool.js';
import { ResourcePreparer } from './resource-preparer.js';
import { processRecord } from './single-record.js';

const data = workerData as PrepareWorkerData;
const deps = {
  validator: ResourceValidator.r4(),
  preparer: new ResourcePreparer(
    new Pseudonymiser(Buffer.from(data.secret)),
    new ResourceDeidentifier({ birthDatePrecision: data.birthDatePrecision }),
    data.linkageKey ? new LinkageTokeniser(data.linkageKey) : undefined,
  ),
  source: data.source,
};

parentPort?.on('message', (chunk: PrepareChunk) => {
  const bytes = Buffer.from(chunk.buffer);
  const outcomes: PrepareResult['outcomes'] = [];
  for (let i = 0; i < chunk.lines.length; i++) {
    const raw = parseRecord(chunk.file, chunk.lines[i], bytes.subarray(chunk.offsets[i], chunk.offsets[i + 1]));
    outcomes.push(processRecord(raw, deps));
  }
  parentPort?.postMessage({ seq: chunk.seq, outcomes } satisfies PrepareResult);
});
parentPort?.postMessage({ ready: true });
