export type { ColumnInfo, CompileOptions, CompileStats, PathEngine, ViewRow } from './view-compiler.js';
export { CompiledView } from './view-compiler.js';
export type { ViewColumn, ViewConstant, ViewDefinition, ViewSelect } from './view-definition.js';
export { parseViewDefinition } from './view-definition.js';
