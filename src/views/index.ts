export type {
  AnalyticTablesOptions,
  RefreshedTable,
  RefreshOptions,
  RefreshSummary,
  TableStatus,
  ViewRefresh,
} from './analytic-tables.js';
export { AnalyticTables } from './analytic-tables.js';
export type { BuiltInView, BuiltInViewName } from './builtin-views.js';
/** `analyticTable(name)`: a built-in view's table, a published read-only relation with the columns in docs/views.md. */
export { analyticTable, BUILT_IN_VIEWS, builtInView } from './builtin-views.js';
export type { ColumnProfile, ProfileKind, TableProfile } from './column-profile.js';
/** Limits on how deep a FHIRPath expression of a view may nest (refused as `VIEW_INVALID_PATH`). */
export { MAX_PATH_DEPTH, MAX_PATH_NESTING } from './fhirpath-parser.js';
export { rowsOfResources } from './materialised-view.js';
export { SHARD_COLUMN, viewMigrations } from './table-schema.js';
export type { ColumnInfo, CompileOptions, CompileStats, PathEngine, ViewRow } from './view-compiler.js';
export { CompiledView } from './view-compiler.js';
export type { ViewColumn, ViewConstant, ViewDefinition, ViewSelect } from './view-definition.js';
export { parseViewDefinition } from './view-definition.js';
export type { ViewOutputFormat } from './view-output.js';
export { CONTENT_TYPES, formatRows, OUTPUT_FORMATS, parseOutputFormat } from './view-output.js';
export type { RunScope } from './view-runner.js';
export { consentLeftOut, runOverResources, runOverStore } from './view-runner.js';

export { viewsModule } from './views-module.js';
