import { join } from 'node:path';
import type { Hub } from '../hub/index.js';
import type { IngestProgress, IngestSummary } from '../ingest/index.js';
import type { RefreshSummary } from '../views/index.js';
import { openAnalyticTables } from '../views/index.js';
import type { CliActor } from './hub-operation.js';

/**
 * An ingest run from the command line: the hub's configured batch and record limits, a rejects file stamped with
 * the time, progress to `onProgress`, and the analytic tables refreshed afterwards (only changed resources
 * flattened).
 */
export async function ingestFromCli(
  hub: Hub,
  paths: readonly string[],
  source: string,
  options: { onProgress: (p: IngestProgress) => void; actor?: CliActor },
): Promise<{ summary: IngestSummary; views: RefreshSummary }> {
  const stamp = hub.clock.now().toISOString().replace(/[:.]/g, '-');
  const summary = await hub.ingest.ingestPaths(paths, {
    source,
    actor: options.actor ?? 'cli',
    rejectsPath: join(hub.paths.rejectsDir, `${stamp}.ndjson`),
    batchSize: hub.config.ingest.batchSize,
    maxRecordBytes: hub.config.ingest.maxRecordBytes,
    onProgress: options.onProgress,
  });
  const views = await (await openAnalyticTables(hub)).refresh();
  return { summary, views };
}
