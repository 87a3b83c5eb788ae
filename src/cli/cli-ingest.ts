import { join } from 'node:path';
import type { Hub } from '../hub/index.js';
import type { IngestSummary } from '../ingest/index.js';
import type { RefreshSummary } from '../views/index.js';
import { openAnalyticTables } from '../views/index.js';
import type { Io } from './io.js';
import { ingestProgress } from './progress.js';

/**
 * An ingest run from the command line: the hub's configured batch and record limits, a rejects file stamped with
 * the time, progress on stderr, and the analytic tables refreshed afterwards (only changed resources flattened).
 */
export async function ingestFromCli(
  hub: Hub,
  paths: readonly string[],
  source: string,
  io: Io,
): Promise<{ summary: IngestSummary; views: RefreshSummary }> {
  const progress = ingestProgress(io.err);
  const stamp = hub.clock.now().toISOString().replace(/[:.]/g, '-');
  const summary = await hub.ingest.ingestPaths(paths, {
    source,
    actor: 'cli',
    rejectsPath: join(hub.paths.rejectsDir, `${stamp}.ndjson`),
    batchSize: hub.config.ingest.batchSize,
    maxRecordBytes: hub.config.ingest.maxRecordBytes,
    onProgress: progress.update,
  });
  progress.stop();
  const views = await (await openAnalyticTables(hub)).refresh();
  return { summary, views };
}
