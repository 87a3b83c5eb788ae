// Child process for the crash test: ingests one file and reports progress on stdout until it is killed.
import { join } from 'node:path';
import { silentLogger } from '../../src/core/index.js';
import { openHub } from '../../src/hub/index.js';

const [dir, file, path] = process.argv.slice(2) as [string, string, 'single' | 'bulk' | undefined];
const hub = await openHub(dir, {
  logger: silentLogger(),
  parallelIngest: path === 'bulk' ? { workers: 2, minFileBytes: 0 } : false,
});
const summary = await hub.ingest.ingestPaths([file], {
  source: 'crash',
  actor: 'test',
  rejectsPath: join(hub.paths.rejectsDir, 'crash.ndjson'),
  batchSize: 1000,
  onProgress: (p) => {
    process.stdout.write(`records ${p.records}\n`);
    // Slow down after a few batches so the parent's kill lands mid-run, not after the end.
    if (p.records > 3000) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  },
});
process.stdout.write(`done ${summary.totals.created}\n`);
await hub.close();
