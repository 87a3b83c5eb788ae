// Worker thread of the NDJSON bulk path: parse, validate and pseudonymise lines; the main thread stores them.
import { parentPort, workerData } from 'node:worker_threads';
import { parseRecord, ResourceValidator } from '../fhir/index.js';
import { LinkageTokeniser, Pseudonymiser, ResourceDeidentifier, SeenNames } from '../privacy/index.js';
import { StagedRowsWriter } from '../store/index.js';
import type { NamesMessage, PrepareChunk, PrepareResult, WorkerStart } from './prepare-pool.js';
import { STAGE_KEYS_PER_CHUNK } from './prepare-pool.js';
import { ResourcePreparer, standaloneScope } from './resource-preparer.js';
import { processRecord } from './single-record.js';

const data = workerData as WorkerStart;
const deps = {
  validator: ResourceValidator.fromPlan(data.validatorPlan),
  preparer: new ResourcePreparer(
    new Pseudonymiser(Buffer.from(data.secret)),
    new ResourceDeidentifier({ birthDatePrecision: data.birthDatePrecision }),
    data.linkageKey ? new LinkageTokeniser(data.linkageKey) : undefined,
  ),
  source: data.source,
  scope: standaloneScope(),
};

const staged = new StagedRowsWriter();

parentPort?.on('message', (message: PrepareChunk | NamesMessage) => {
  if ('names' in message) {
    deps.scope = standaloneScope(SeenNames.from(message.names));
    return;
  }
  const chunk = message;
  const bytes = Buffer.from(chunk.buffer);
  const outcomes: PrepareResult['outcomes'] = [];
  for (let i = 0; i < chunk.lines.length; i++) {
    const raw = parseRecord(chunk.file, chunk.lines[i], bytes.subarray(chunk.starts[i], chunk.ends[i]));
    const outcome = processRecord(raw, deps);
    if (outcome.kind !== 'write') {
      outcomes.push(outcome);
      continue;
    }
    // Record, body and search rows go to the staged files; the store decides versions from them.
    const { id, linkage } = outcome.write;
    const key = chunk.seq * STAGE_KEYS_PER_CHUNK + i;
    staged.add(key, outcome.write);
    outcomes.push(linkage ? { kind: 'staged', key, linkage: { patientKey: id, ...linkage } } : { kind: 'staged', key });
  }
  const result: PrepareResult = { seq: chunk.seq, outcomes };
  if (!staged.empty) result.files = staged.write(chunk.stagingDir, `c${chunk.seq}`);
  parentPort?.postMessage(result);
});
parentPort?.postMessage({ ready: true });
