export type { ChangedQuery, ChangedVersion, SeenVersions } from './changed-versions.js';
export type { CurrentScope } from './current-versions.js';
export type { Database, Row, SqlValue } from './database.js';
export { placeholders } from './database.js';
export { DuckDbDatabase } from './duckdb/duckdb-database.js';
export type { Migration } from './migrations.js';
export { migrate } from './migrations.js';
export { openDatabase } from './open-database.js';
export type { ClusterNode, ClusterStatus, ClusterTable, ShardTransferMode } from './postgres/citus-cluster.js';
export { addWorker, clusterStatus, rebalance } from './postgres/citus-cluster.js';
export { PostgresDatabase } from './postgres/postgres-database.js';
export { resourceStoreMigrations } from './resource-schema.js';
export type { Criterion, DatePrefix, SearchPage, SearchQuery } from './resource-search.js';
export { fetchVersions, searchResources } from './resource-search.js';
export type { CurrentOrder, CurrentSummary, ResourceWrite, StoredVersion } from './resource-store.js';
export { fromRow, ResourceStore, toResource } from './resource-store.js';
export type { StageColumns, StagedFiles, StagedTable, StageType } from './staged-rows.js';
export {
  STAGE_DELIMITER,
  STAGE_QUOTE,
  STAGED_TABLES,
  StageBuffer,
  StagedRowsWriter,
  stageField,
} from './staged-rows.js';
export type { StagedBatch, StagedWriteCounts } from './staged-write.js';
export type { WriteResult, WriteStatus } from './write-plan.js';
