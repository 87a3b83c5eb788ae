import { HealthmeshError } from '../core/index.js';
import { isResourceType } from './fhir-type-model.js';

/** A column of a view (SQL-on-FHIR v2 `ViewDefinition.select.column`). */
export interface ViewColumn {
  name: string;
  path: string;
  description?: string;
  /** A FHIR type name (`string`, `integer`, `dateTime`...); inferred from the path when absent. */
  type?: string;
  /** True when the column holds a list; a column without it must give at most one value per row. */
  collection?: boolean;
  tag?: { name: string; value: string }[];
}

/** `ViewDefinition.select`: columns, nested selects, one of forEach / forEachOrNull / repeat, and unionAll. */
export interface ViewSelect {
  column?: ViewColumn[];
  select?: ViewSelect[];
  forEach?: string;
  forEachOrNull?: string;
  repeat?: string[];
  unionAll?: ViewSelect[];
}

export interface ViewConstant {
  name: string;
  /** The one `value[x]` of the constant, and its FHIR type (`valueDate` → `date`). */
  value: unknown;
  type: string;
}

/** A validated ViewDefinition. */
export interface ViewDefinition {
  resourceType?: 'ViewDefinition';
  name?: string;
  title?: string;
  description?: string;
  status?: string;
  resource: string;
  constant?: ViewConstant[];
  select: ViewSelect[];
  where?: { path: string; description?: string }[];
}

type Json = Record<string, unknown>;

/** SQL-on-FHIR v2 `sql-name` invariant: names usable unquoted in SQL. */
const SQL_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

function fail(message: string, path: string): never {
  throw new HealthmeshError('VIEW_INVALID', `ViewDefinition ${path}: ${message}`, { path });
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalArray(v: unknown, path: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail('must be an array', path);
  return v;
}

function checkString(v: unknown, path: string, required = true): string | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0) fail('must be a non-empty string (a FHIRPath expression)', path);
  return v;
}

function parseColumn(v: unknown, path: string): ViewColumn {
  if (!isObject(v)) fail('must be an object with name and path', path);
  const name = checkString(v.name, `${path}.name`)!;
  if (!SQL_NAME.test(name))
    fail(`'${name}' is not a valid column name (letters, digits, _; a letter first)`, `${path}.name`);
  const col: ViewColumn = { name, path: checkString(v.path, `${path}.path`)! };
  if (v.description !== undefined) col.description = String(v.description);
  if (v.type !== undefined) col.type = checkString(v.type, `${path}.type`)!;
  if (v.collection !== undefined) {
    if (typeof v.collection !== 'boolean') fail('must be true or false', `${path}.collection`);
    col.collection = v.collection;
  }
  const tags = optionalArray(v.tag, `${path}.tag`);
  if (tags.length > 0) {
    col.tag = tags.map((t, i) => {
      if (!isObject(t) || typeof t.name !== 'string' || typeof t.value !== 'string') {
        fail('must have a string name and value', `${path}.tag[${i}]`);
      }
      return { name: t.name, value: t.value };
    });
  }
  return col;
}

function parseSelect(v: unknown, path: string): ViewSelect {
  if (!isObject(v)) fail('must be an object', path);
  const s: ViewSelect = {};
  const iterators = ['forEach', 'forEachOrNull', 'repeat'].filter((k) => v[k] !== undefined);
  if (iterators.length > 1) fail(`has both ${iterators.join(' and ')}; use one`, path);
  if (v.forEach !== undefined) s.forEach = checkString(v.forEach, `${path}.forEach`)!;
  if (v.forEachOrNull !== undefined) s.forEachOrNull = checkString(v.forEachOrNull, `${path}.forEachOrNull`)!;
  if (v.repeat !== undefined) {
    const paths = optionalArray(v.repeat, `${path}.repeat`);
    if (paths.length === 0) fail('must list at least one path', `${path}.repeat`);
    s.repeat = paths.map((p, i) => checkString(p, `${path}.repeat[${i}]`)!);
  }
  const columns = optionalArray(v.column, `${path}.column`);
  if (columns.length > 0) s.column = columns.map((c, i) => parseColumn(c, `${path}.column[${i}]`));
  const nested = optionalArray(v.select, `${path}.select`);
  if (nested.length > 0) s.select = nested.map((n, i) => parseSelect(n, `${path}.select[${i}]`));
  const union = optionalArray(v.unionAll, `${path}.unionAll`);
  if (union.length > 0) s.unionAll = union.map((u, i) => parseSelect(u, `${path}.unionAll[${i}]`));
  return s;
}

function parseConstant(v: unknown, path: string): ViewConstant {
  if (!isObject(v)) fail('must be an object with name and value[x]', path);
  const name = checkString(v.name, `${path}.name`)!;
  const values = Object.keys(v).filter((k) => /^value[A-Z]/.test(k));
  if (values.length !== 1) {
    fail(
      `constant '${name}' must have exactly one value[x] (valueString, valueInteger...), found ${values.length}`,
      path,
    );
  }
  const key = values[0]!;
  return { name, value: v[key], type: `${key[5]!.toLowerCase()}${key.slice(6)}` };
}

/** The names of the columns a select produces, in the spec's order: own, nested selects, then unionAll. */
export function columnNames(s: ViewSelect): string[] {
  const own = (s.column ?? []).map((c) => c.name);
  const nested = (s.select ?? []).flatMap(columnNames);
  const union = s.unionAll?.[0] ? columnNames(s.unionAll[0]) : [];
  return [...own, ...nested, ...union];
}

function checkUnions(s: ViewSelect, path: string): void {
  if (s.unionAll) {
    const first = columnNames(s.unionAll[0]!);
    s.unionAll.forEach((u, i) => {
      const names = columnNames(u);
      if (names.join('\u0000') !== first.join('\u0000')) {
        throw new HealthmeshError(
          'VIEW_UNION_MISMATCH',
          `ViewDefinition ${path}.unionAll[${i}] has columns (${names.join(', ')}) but unionAll[0] has (${first.join(', ')}): every branch must give the same columns in the same order`,
          { path: `${path}.unionAll[${i}]` },
        );
      }
    });
  }
  s.select?.forEach((n, i) => {
    checkUnions(n, `${path}.select[${i}]`);
  });
  s.unionAll?.forEach((u, i) => {
    checkUnions(u, `${path}.unionAll[${i}]`);
  });
}

/**
 * Check the structure of a ViewDefinition (JSON already parsed) and return it typed. Every fault names the
 * element, e.g. `select[0].forEach: must be a non-empty string`.
 */
export function parseViewDefinition(value: unknown): ViewDefinition {
  if (!isObject(value)) fail('must be a JSON object', '(root)');
  if (value.resourceType !== undefined && value.resourceType !== 'ViewDefinition') {
    fail(`resourceType is '${String(value.resourceType)}', expected 'ViewDefinition'`, 'resourceType');
  }
  if (value.resource === undefined) fail('names no resource type (the `resource` element is required)', 'resource');
  const resource = checkString(value.resource, 'resource')!;
  if (!isResourceType(resource)) fail(`'${resource}' is not an R4 resource type`, 'resource');
  const selects = optionalArray(value.select, 'select');
  if (selects.length === 0) fail('needs at least one select', 'select');
  const view: ViewDefinition = {
    resource,
    select: selects.map((s, i) => parseSelect(s, `select[${i}]`)),
  };
  if (typeof value.name === 'string') {
    if (!SQL_NAME.test(value.name)) fail(`'${value.name}' is not a valid view name`, 'name');
    view.name = value.name;
  }
  for (const k of ['title', 'description', 'status'] as const) if (typeof value[k] === 'string') view[k] = value[k];
  const constants = optionalArray(value.constant, 'constant');
  if (constants.length > 0) view.constant = constants.map((c, i) => parseConstant(c, `constant[${i}]`));
  const where = optionalArray(value.where, 'where');
  if (where.length > 0) {
    view.where = where.map((w, i) => {
      if (!isObject(w)) fail('must be an object with a path', `where[${i}]`);
      return { path: checkString(w.path, `where[${i}].path`)! };
    });
  }
  view.select.forEach((s, i) => {
    checkUnions(s, `select[${i}]`);
  });
  const names = view.select.flatMap(columnNames);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) fail(`column name '${dup}' is used twice; names must be unique`, 'select');
  return view;
}
