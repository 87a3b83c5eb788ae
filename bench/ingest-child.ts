// One timed ingest in its own process, so its peak RSS is the ingest's alone. Prints one JSON line.
import { join } from 'node:path';
import { silentLogger } from '../src/core/index.js';
import { openHub } from '../src/hub/index.js';

const [dir, file] = process.argv.slice(2) as [string, string];
const hub = await openHub(dir, { logger: silentLogger() });
const t0 = performance.now();
const summary = await hub.ingest.ingestPaths([file], {
  source: 'bench',
  actor: 'bench',
  rejectsPath: join(dir, 'rejects.ndjson'),
});
await hub.close(); // timed too: the final checkpoint is part of the work
const seconds = (performance.now() - t0) / 1000;
process.stdout.write(
  `${JSON.stringify({ seconds, totals: summary.totals, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
);
