import { join } from 'node:path';
import type { Hub } from '../hub/index.js';
import type { IngestSummary } from '../ingest/index.js';
import type { Io } from './io.js';
import { ingestProgress } from './progress.js';

/**
 * An ingest run from the command line: the hub's configured batch and record limits, a rejects file stamped with
 * the time, progress on stderr. The run ends with the hub's after-commit pipeline (in `summary.derived`).
 */
export async function ingestFromCli(
  hub: Hub,
  paths: readonly string[],
  source: string,
  io: Io,
): Promise<IngestSummary> {
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
  return summary;
}
