import { join } from 'node:path';
import type { Hub } from '../hub/index.js';
import { AnalyticTables } from './analytic-tables.js';

export type {
  AnalyticTablesOptions,
  RefreshOptions,
  RefreshSummary,
  TableStatus,
  ViewRefresh,
} from './analytic-tables.js';
export { AnalyticTables } from './analytic-tables.js';
export type { BuiltInView } from './builtin-views.js';
export { BUILT_IN_VIEWS, builtInView } from './builtin-views.js';
export type { ColumnProfile, ProfileKind, TableProfile } from './column-profile.js';
/** Limits on how deep a FHIRPath expression of a view may nest (refused as `VIEW_INVALID_PATH`). */
export { MAX_PATH_DEPTH, MAX_PATH_NESTING } from './fhirpath-parser.js';
export { viewMigrations } from './table-schema.js';
export type { ColumnInfo, CompileOptions, CompileStats, PathEngine, ViewRow } from './view-compiler.js';
export { CompiledView } from './view-compiler.js';
export type { ViewColumn, ViewConstant, ViewDefinition, ViewSelect } from './view-definition.js';
export { parseViewDefinition } from './view-definition.js';
export type { ViewOutputFormat } from './view-output.js';
export { CONTENT_TYPES, formatRows, OUTPUT_FORMATS, parseOutputFormat } from './view-output.js';
export type { RunScope } from './view-runner.js';
export { consentLeftOut, runOverResources, runOverStore } from './view-runner.js';

const opened = new WeakMap<Hub, Promise<AnalyticTables>>();

/** The hub's analytic tables, with `%region` bound to the hub's configured name (opened once per hub). */
export function openAnalyticTables(hub: Hub): Promise<AnalyticTables> {
  let tables = opened.get(hub);
  if (!tables) {
    // Staged rows are row-level data: they stay under the hub's own directory, like the store itself.
    const stagingDir = join(hub.paths.dir, 'staging');
    tables = AnalyticTables.open(hub.db, { region: hub.config.name, clock: hub.clock, stagingDir });
    opened.set(hub, tables);
    tables.catch(() => opened.delete(hub));
  }
  return tables;
}
