import { join } from 'node:path';
import type { Hub } from '../hub/index.js';
import type { IngestProgress, IngestSummary } from '../ingest/index.js';
import type { CliActor } from './hub-operation.js';

/**
 * An ingest run from the command line: the hub's configured batch and record limits, a rejects file stamped with
 * the time, progress to `onProgress`. The run ends with the hub's after-commit pipeline (in `summary.derived`).
 */
export async function ingestFromCli(
  hub: Hub,
  paths: readonly string[],
  source: string,
  options: { onProgress: (p: IngestProgress) => void; actor?: CliActor },
): Promise<IngestSummary> {
  const stamp = hub.clock.now().toISOString().replace(/[:.]/g, '-');
  return hub.ingest.ingestPaths(paths, {
    source,
    actor: options.actor ?? 'cli',
    rejectsPath: join(hub.paths.rejectsDir, `${stamp}.ndjson`),
    batchSize: hub.config.ingest.batchSize,
    maxRecordBytes: hub.config.ingest.maxRecordBytes,
    onProgress: options.onProgress,
  });
}
