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
export { viewMigrations } from './table-schema.js';
export type { ColumnInfo, CompileOptions, CompileStats, PathEngine, ViewRow } from './view-compiler.js';
export { CompiledView } from './view-compiler.js';
export type { ViewColumn, ViewConstant, ViewDefinition, ViewSelect } from './view-definition.js';
export { parseViewDefinition } from './view-definition.js';

/** The hub's analytic tables, with `%region` bound to the hub's configured name. */
export function openAnalyticTables(hub: Hub): Promise<AnalyticTables> {
  return AnalyticTables.open(hub.db, { region: hub.config.name, clock: hub.clock });
}
