import { HealthmeshError } from '../core/index.js';
import type { StaticType } from './fhir-type-model.js';
import { PRIMITIVE_TYPES, resourceType } from './fhir-type-model.js';
import { compileWithFhirpath, fhirpathSyntaxError } from './fhirpath-fallback.js';
import type { PathNode } from './fhirpath-parser.js';
import { PathSyntaxError, PathTooDeepError, parsePath, variablesIn } from './fhirpath-parser.js';
import type { Collection, CompiledPath, ConstantValue, PathEnv, PathFn } from './path-compiler.js';
import { compilePath, OutsideCompiledSubset } from './path-compiler.js';
import type { ViewDefinition, ViewSelect } from './view-definition.js';
import { columnNames, parseViewDefinition } from './view-definition.js';

/** One output column of a compiled view: its name, FHIR type and whether it holds a list. */
export interface ColumnInfo {
  name: string;
  type: string;
  collection: boolean;
  description?: string;
}

/** A row: one value per column, in `columns` order. */
export type ViewRow = unknown[];

/**
 * `compiled`: expressions in the compiled subset run as JS closures, the rest through `fhirpath`.
 * `fhirpath`: every expression through the `fhirpath` package (the naive reference the bench compares with).
 */
export type PathEngine = 'compiled' | 'fhirpath';

export interface CompileOptions {
  engine?: PathEngine;
  /** Values for constants the view declares, replacing theirs (the hub binds `%region` this way). */
  constants?: Readonly<Record<string, string | number | boolean>>;
}

interface ColumnPlan {
  name: string;
  source: string;
  fn: PathFn;
  collection: boolean;
}

interface SelectPlan {
  columns: ColumnPlan[];
  mode: 'single' | 'forEach' | 'forEachOrNull' | 'repeat';
  iterate?: PathFn;
  repeatPaths?: PathFn[];
  children: SelectPlan[];
  union: SelectPlan[];
}

/** Names the compiled code provides besides the view's constants (SQL-on-FHIR %rowIndex, FHIRPath's own). */
const BUILT_IN_VARIABLES = new Set(['rowIndex', 'resource', 'rootResource', 'context', 'ucum', 'sct', 'loinc']);

/** Where counts how each expression was compiled: the bench and tests report it. */
export interface CompileStats {
  compiled: number;
  fhirpath: number;
}

/** A ViewDefinition compiled for repeated use: `rows(resource)` flattens one resource. */
export class CompiledView {
  private constructor(
    readonly definition: ViewDefinition,
    readonly columns: readonly ColumnInfo[],
    private readonly wheres: readonly { source: string; fn: PathFn }[],
    private readonly root: SelectPlan,
    readonly stats: CompileStats,
  ) {}

  /** Validate and compile `value` (parsed JSON). Throws a `VIEW_*` HealthmeshError that names the fault. */
  static compile(value: unknown, options: CompileOptions = {}): CompiledView {
    const view = parseViewDefinition(value);
    const c = new ViewPlanner(view, options);
    const rootType = resourceType(view.resource);
    const root: SelectPlan = {
      columns: [],
      mode: 'single',
      children: view.select.map((s, i) => c.select(s, rootType, `select[${i}]`)),
      union: [],
    };
    const wheres = (view.where ?? []).map((w, i) => ({
      source: w.path,
      fn: c.path(w.path, rootType, `where[${i}].path`).fn,
    }));
    const columns = c.columnInfo();
    if (columns.length === 0) {
      throw new HealthmeshError('VIEW_INVALID', 'ViewDefinition select: the view defines no column', {
        path: 'select',
      });
    }
    return new CompiledView(view, columns, wheres, root, c.stats);
  }

  /** The rows `resource` gives (none when it is of another type or fails a `where`). */
  rows(resource: Record<string, unknown>): ViewRow[] {
    if (resource.resourceType !== this.definition.resource) return [];
    const env: PathEnv = { resource, rowIndex: 0, index: 0 };
    const input = [resource];
    for (const w of this.wheres) {
      const r = w.fn(input, env);
      if (r.length === 0) return [];
      if (r.length > 1 || typeof r[0] !== 'boolean') {
        throw new HealthmeshError(
          'VIEW_WHERE_NOT_BOOLEAN',
          `where path '${w.source}' must give a boolean, but gave ${r.length === 1 ? JSON.stringify(r[0]) : `${r.length} values`} for ${this.definition.resource}/${String(resource.id)}`,
          { path: 'where' },
        );
      }
      if (r[0] === false) return [];
    }
    return selectRows(this.root, input, env);
  }
}

class ViewPlanner {
  readonly stats: CompileStats = { compiled: 0, fhirpath: 0 };
  private readonly constants = new Map<string, ConstantValue>();
  private readonly fallbackConstants: Record<string, unknown> = {};
  private readonly info = new Map<string, ColumnInfo>();

  constructor(
    private readonly view: ViewDefinition,
    private readonly options: CompileOptions,
  ) {
    for (const k of view.constant ?? []) {
      const value = options.constants?.[k.name] ?? k.value;
      this.constants.set(k.name, { value, type: k.type });
      this.fallbackConstants[k.name] = value;
    }
    for (const name of Object.keys(options.constants ?? {})) {
      if (!this.constants.has(name)) {
        throw new HealthmeshError(
          'VIEW_UNKNOWN_CONSTANT',
          `a value was given for %${name}, which the view does not declare`,
          {
            path: 'constant',
          },
        );
      }
    }
  }

  columnInfo(): ColumnInfo[] {
    return this.view.select.flatMap(columnNames).map((n) => this.info.get(n)!);
  }

  path(source: string, input: StaticType | undefined, where: string): CompiledPath {
    for (const v of variablesIn(source)) {
      if (!this.constants.has(v) && !BUILT_IN_VARIABLES.has(v)) {
        throw new HealthmeshError(
          'VIEW_UNKNOWN_CONSTANT',
          `ViewDefinition ${where}: '${source}' uses %${v}, which is not a constant of this view`,
          { path: where },
        );
      }
    }
    const fallback = (): CompiledPath => {
      const syntax = fhirpathSyntaxError(source);
      if (syntax !== undefined) {
        throw new HealthmeshError(
          'VIEW_INVALID_PATH',
          `ViewDefinition ${where}: '${source}' is not valid FHIRPath: ${syntax}`,
          {
            path: where,
          },
        );
      }
      this.stats.fhirpath++;
      return { fn: guarded(compileWithFhirpath(source, input, this.fallbackConstants), source), type: undefined };
    };
    let tree: PathNode | undefined;
    try {
      tree = parsePath(source);
    } catch (e) {
      if (e instanceof PathTooDeepError) {
        // Refused whichever engine runs the view: the `fhirpath` package recurses per level too.
        throw new HealthmeshError('VIEW_INVALID_PATH', `ViewDefinition ${where}: ${e.message}`, { path: where });
      }
      if (!(e instanceof PathSyntaxError)) throw e;
    }
    if (this.options.engine === 'fhirpath' || tree === undefined) return fallback();
    try {
      const compiled = compilePath(tree, input, { constants: this.constants });
      this.stats.compiled++;
      return compiled;
    } catch (e) {
      if (e instanceof OutsideCompiledSubset) return fallback();
      throw e;
    }
  }

  select(s: ViewSelect, input: StaticType | undefined, where: string): SelectPlan {
    let mode: SelectPlan['mode'] = 'single';
    let itemType = input;
    let iterate: PathFn | undefined;
    let repeatPaths: PathFn[] | undefined;
    const source = s.forEach ?? s.forEachOrNull;
    if (source !== undefined) {
      mode = s.forEach !== undefined ? 'forEach' : 'forEachOrNull';
      const p = this.path(source, input, `${where}.${mode}`);
      iterate = p.fn;
      itemType = p.type;
    } else if (s.repeat) {
      mode = 'repeat';
      const first = this.path(s.repeat[0]!, input, `${where}.repeat[0]`);
      itemType = first.type;
      // Repeat paths apply to the parent and then to their own results: compiled for an item of unknown type.
      repeatPaths = s.repeat.map((p, i) => this.path(p, undefined, `${where}.repeat[${i}]`).fn);
    }
    const columns = (s.column ?? []).map((col, i) => {
      const p = this.path(col.path, itemType, `${where}.column[${i}].path`);
      const inferred = p.type?.kind === 'element' && PRIMITIVE_TYPES.has(p.type.type) ? p.type.type : 'string';
      this.info.set(col.name, {
        name: col.name,
        type: col.type ?? inferred,
        collection: col.collection === true,
        ...(col.description !== undefined && { description: col.description }),
      });
      return { name: col.name, source: col.path, fn: p.fn, collection: col.collection === true };
    });
    return {
      columns,
      mode,
      ...(iterate && { iterate }),
      ...(repeatPaths && { repeatPaths }),
      children: (s.select ?? []).map((n, i) => this.select(n, itemType, `${where}.select[${i}]`)),
      union: (s.unionAll ?? []).map((u, i) => this.select(u, itemType, `${where}.unionAll[${i}]`)),
    };
  }
}

/** Errors from the `fhirpath` package (unknown functions surface only when run) become view errors. */
function guarded(fn: PathFn, source: string): PathFn {
  return (input, env) => {
    try {
      return fn(input, env);
    } catch (e) {
      throw new HealthmeshError(
        'VIEW_EVALUATION',
        `'${source}' failed: ${e instanceof Error ? e.message : String(e)}`,
        {},
        { cause: e },
      );
    }
  };
}

function columnValue(c: ColumnPlan, focus: Collection, env: PathEnv): unknown {
  const v = c.fn(focus, env);
  if (c.collection) return v;
  if (v.length === 0) return null;
  if (v.length > 1) {
    throw new HealthmeshError(
      'VIEW_COLLECTION_VALUE',
      `column '${c.name}' (path '${c.source}') gave ${v.length} values for one row; declare "collection": true or narrow the path (e.g. first())`,
      { path: c.name },
    );
  }
  return v[0];
}

function repeatItems(paths: readonly PathFn[], start: Collection, env: PathEnv): Collection {
  // Depth-first, pre-order: each item is followed by what the paths reach from it (SQL-on-FHIR v2 `repeat`).
  const out: Collection = [];
  const walk = (node: unknown) => {
    for (const p of paths) {
      for (const item of p([node], env)) {
        out.push(item);
        walk(item);
      }
    }
  };
  for (const n of start) walk(n);
  return out;
}

function crossJoin(left: ViewRow[], right: ViewRow[]): ViewRow[] {
  if (left.length === 1) {
    const l = left[0]!;
    return right.map((r) => (l.length === 0 ? r : [...l, ...r]));
  }
  const out: ViewRow[] = [];
  for (const l of left) for (const r of right) out.push([...l, ...r]);
  return out;
}

/** SQL-on-FHIR v2 processing model: own columns × nested selects (cross join) × unionAll (concatenated). */
function selectRows(plan: SelectPlan, input: Collection, parentEnv: PathEnv): ViewRow[] {
  let foci: Collection[];
  let indexed = false;
  switch (plan.mode) {
    case 'single':
      foci = [input];
      break;
    case 'forEach':
      foci = plan.iterate!(input, parentEnv).map((x) => [x]);
      indexed = true;
      break;
    case 'forEachOrNull': {
      const items = plan.iterate!(input, parentEnv);
      // forEachOrNull: one row of nulls when there is nothing to unnest (columns see an empty focus).
      foci = items.length === 0 ? [[]] : items.map((x) => [x]);
      indexed = true;
      break;
    }
    case 'repeat':
      foci = repeatItems(plan.repeatPaths!, input, parentEnv).map((x) => [x]);
      indexed = true;
      break;
  }
  const out: ViewRow[] = [];
  for (let i = 0; i < foci.length; i++) {
    const focus = foci[i]!;
    const env = indexed ? { resource: parentEnv.resource, rowIndex: i, index: 0 } : parentEnv;
    let rows: ViewRow[] = [plan.columns.map((c) => columnValue(c, focus, env))];
    for (const child of plan.children) {
      rows = crossJoin(rows, selectRows(child, focus, env));
      if (rows.length === 0) break;
    }
    if (rows.length > 0 && plan.union.length > 0) {
      const unionRows: ViewRow[] = [];
      for (const u of plan.union) for (const r of selectRows(u, focus, env)) unionRows.push(r);
      rows = crossJoin(rows, unionRows);
    }
    for (const r of rows) out.push(r);
  }
  return out;
}
