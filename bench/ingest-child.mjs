// Timed ingests in their own process, so its peak RSS is the ingests' alone. Prints one JSON line per file, in
// order, into the same hub. Plain JavaScript on the built modules (dist/, as `healthmesh` runs): no TypeScript
// loader in this process or in its worker threads.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dist, dir, ...files] = process.argv.slice(2);
const { silentLogger } = await import(pathToFileURL(join(dist, 'core/index.js')).href);
const { openHub } = await import(pathToFileURL(join(dist, 'hub/index.js')).href);
for (const [i, file] of files.entries()) {
  const hub = await openHub(dir, { logger: silentLogger() });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const summary = await hub.ingest.ingestPaths([file], {
    source: 'bench',
    actor: 'bench',
    rejectsPath: join(dir, `rejects-${i}.ndjson`),
  });
  await hub.close(); // timed too: the final checkpoint is part of the work (as is the after-commit pipeline)
  const seconds = (performance.now() - t0) / 1000;
  // Every thread of the process (workers, DuckDB's own): a figure a loaded machine inflates less than wall time.
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(
    `${JSON.stringify({ seconds, cpuSeconds, derivedSeconds: summary.derived?.seconds ?? 0, derivedSteps: summary.derived?.stepSeconds ?? {}, derivedCounts: summary.derived?.steps ?? {}, totals: summary.totals, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`,
  );
}
