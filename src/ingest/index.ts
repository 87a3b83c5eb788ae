export { ingestModule } from './ingest-module.js';
export type { EntryOutcome, IngestDeps, IngestOptions, IngestProgress, ParallelOptions } from './ingest-pipeline.js';
export { IngestPipeline } from './ingest-pipeline.js';
export type { IngestSummary, TypeCounts } from './ingest-summary.js';
export { formatSummary } from './ingest-summary.js';
export { PreparePool } from './prepare-pool.js';
export type { Reject } from './reject-log.js';
export type { ReferenceScope } from './resource-preparer.js';
export { ResourcePreparer } from './resource-preparer.js';
