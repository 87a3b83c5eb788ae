import type { StaticType } from './fhir-type-model.js';
import {
  childType,
  choiceAlternative,
  choiceKeys,
  derivesFrom,
  isResourceType,
  PRIMITIVE_TYPES,
  suffixOf,
} from './fhir-type-model.js';
import type { PathNode } from './fhirpath-parser.js';
import { compileOperator, singletonBoolean } from './path-operators.js';
import { referenceKey } from './resource-keys.js';
import { temporalBoundary } from './temporal-values.js';

/** A FHIRPath collection: plain JSON values, never wrapped (wrapping cost most of fhirpath's time here). */
export type Collection = unknown[];

/** Per-evaluation state: the root resource, %rowIndex and the current `$index` inside where()/exists(). */
export interface PathEnv {
  resource: unknown;
  rowIndex: number;
  index: number;
}

export type PathFn = (input: Collection, env: PathEnv) => Collection;

export interface CompiledPath {
  fn: PathFn;
  /** Static type of the result's items where the model determines it. */
  type: StaticType | undefined;
}

/** A constant of the view (`%name`), with its FHIR type from its `value[x]` key. */
export interface ConstantValue {
  value: unknown;
  type: string;
}

/** Thrown while compiling when an expression leaves the compiled subset: the `fhirpath` package evaluates it. */
export class OutsideCompiledSubset extends Error {}

const DATE_TYPES = new Set(['date', 'dateTime', 'instant', 'time']);
/** FHIRPath §"Environment variables": %ucum, %sct, %loinc are fixed code system URLs. */
const SPEC_VARIABLES: Record<string, string> = {
  ucum: 'http://unitsofmeasure.org',
  sct: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pushValue(out: Collection, v: unknown): void {
  if (v === undefined || v === null) return;
  if (Array.isArray(v)) {
    for (const x of v) if (x !== null && x !== undefined) out.push(x);
  } else out.push(v);
}

/** Member access by exact key, the hot path of every view (no choice, no type filter). */
function memberFn(name: string): PathFn {
  return (input) => {
    if (input.length === 1) {
      const item = input[0];
      if (!isObject(item)) return [];
      const v = item[name];
      if (v === undefined || v === null) return [];
      return Array.isArray(v) ? v.filter((x) => x !== null) : [v];
    }
    const out: Collection = [];
    for (const item of input) if (isObject(item)) pushValue(out, item[name]);
    return out;
  };
}

/** Member access across the JSON keys of a choice element (`value` → `valueQuantity`, `valueString`, ...). */
function choiceFn(name: string, keys: readonly string[]): PathFn {
  return (input) => {
    const out: Collection = [];
    for (const item of input) {
      if (!isObject(item)) continue;
      const direct = item[name];
      if (direct !== undefined) {
        pushValue(out, direct);
        continue;
      }
      for (const k of keys) {
        const v = item[k];
        if (v !== undefined) {
          pushValue(out, v);
          break;
        }
      }
    }
    return out;
  };
}

export interface CompileScope {
  constants: ReadonlyMap<string, ConstantValue>;
}

/**
 * Compile a parsed FHIRPath expression into a JS closure over plain JSON. `input` is the static type of the
 * context items (a resource root or a forEach item). Throws `OutsideCompiledSubset` for what it does not cover.
 */
export function compilePath(node: PathNode, input: StaticType | undefined, scope: CompileScope): CompiledPath {
  const c = (n: PathNode, t: StaticType | undefined) => compilePath(n, t, scope);
  switch (node.k) {
    case 'literal': {
      const v = [node.value];
      return { fn: () => v, type: { kind: 'element', path: node.type, type: node.type } };
    }
    case 'empty':
      return { fn: () => [], type: undefined };
    case 'this':
      return { fn: (x) => x, type: input };
    case 'index':
      return { fn: (_x, env) => [env.index], type: { kind: 'element', path: 'integer', type: 'integer' } };
    case 'variable':
      return compileVariable(node.name, scope);
    case 'member': {
      const base = node.base ? c(node.base, input) : { fn: null, type: input };
      const member = compileMember(node.name, base.type, node.base === null);
      if (!base.fn) return member;
      const b = base.fn;
      const m = member.fn;
      return { fn: (x, env) => m(b(x, env), env), type: member.type };
    }
    case 'indexer': {
      const base = c(node.base, input);
      const index = c(node.index, input);
      return {
        fn: (x, env) => {
          const items = base.fn(x, env);
          const i = index.fn(x, env)[0];
          if (typeof i !== 'number') return [];
          const v = items[i];
          return v === undefined ? [] : [v];
        },
        type: base.type,
      };
    }
    case 'call':
      return compileCall(node, input, scope);
    case 'binary': {
      const left = c(node.left, input);
      const right = c(node.right, input);
      // Dates and times compare by instant and precision, not as text (FHIRPath §"Comparison").
      const temporal = [left.type, right.type].some((t) => t?.kind === 'element' && DATE_TYPES.has(t.type));
      return compileOperator(node.op, left, right, temporal);
    }
    case 'unary': {
      const operand = c(node.operand, input);
      if (node.op === '+') return operand;
      return {
        fn: (x, env) => operand.fn(x, env).map((v) => (typeof v === 'number' ? -v : v)),
        type: operand.type,
      };
    }
    case 'typeOp':
      throw new OutsideCompiledSubset(`'${node.op}' operator`);
    case 'unsupported':
      throw new OutsideCompiledSubset(node.what);
  }
}

function compileVariable(name: string, scope: CompileScope): CompiledPath {
  if (name === 'rowIndex') {
    return { fn: (_x, env) => [env.rowIndex], type: { kind: 'element', path: 'integer', type: 'integer' } };
  }
  if (name === 'resource' || name === 'rootResource' || name === 'context') {
    return { fn: (_x, env) => [env.resource], type: undefined };
  }
  const constant = scope.constants.get(name);
  if (constant) {
    const v = [constant.value];
    return { fn: () => v, type: { kind: 'element', path: constant.type, type: constant.type } };
  }
  const spec = SPEC_VARIABLES[name];
  if (spec !== undefined) return { fn: () => [spec], type: { kind: 'element', path: 'uri', type: 'uri' } };
  // Unknown names are reported by the view compiler before any expression is compiled.
  throw new OutsideCompiledSubset(`variable %${name}`);
}

function compileMember(name: string, parent: StaticType | undefined, atRoot: boolean): CompiledPath {
  // `Patient.name` at the root: the leading type name filters the context (FHIRPath §"Path selection").
  if (atRoot && /^[A-Z]/.test(name) && isResourceType(name)) {
    const matches = parent?.kind === 'element' && parent.type === name;
    return {
      fn: matches ? (x) => x : (x) => x.filter((r) => isObject(r) && r.resourceType === name),
      type: matches ? parent : { kind: 'element', path: name, type: name },
    };
  }
  const t = childType(parent, name);
  if (t?.kind === 'choice') return { fn: choiceFn(name, choiceKeys(name, t.suffixes)), type: t };
  if (t) return { fn: memberFn(name), type: t };
  // Unknown parent type: an exact key, else any choice key (`value` → `valueString`).
  return { fn: choiceFn(name, choiceKeys(name)), type: undefined };
}

function typeNameArg(node: PathNode | undefined, fn: string): string {
  if (node?.k === 'member' && node.base === null) return node.name.replace(/^FHIR\./, '');
  if (node?.k === 'member' && node.base?.k === 'member' && node.base.name === 'FHIR' && node.base.base === null) {
    return node.name;
  }
  if (node?.k === 'literal' && typeof node.value === 'string') return node.value;
  throw new OutsideCompiledSubset(`${fn}() argument`);
}

function compileCall(
  node: Extract<PathNode, { k: 'call' }>,
  input: StaticType | undefined,
  scope: CompileScope,
): CompiledPath {
  const base = node.base ? compilePath(node.base, input, scope) : { fn: (x: Collection) => x, type: input };
  const b = base.fn;
  const arg = (i: number) => {
    const a = node.args[i];
    if (!a) throw new OutsideCompiledSubset(`${node.name}() without argument ${i + 1}`);
    return a;
  };
  const bool: StaticType = { kind: 'element', path: 'boolean', type: 'boolean' };
  const arity = (n: number) => {
    if (node.args.length > n) throw new OutsideCompiledSubset(`${node.name}() with ${node.args.length} arguments`);
  };
  switch (node.name) {
    case 'where': {
      arity(1);
      const crit = compilePath(arg(0), base.type, scope).fn;
      return {
        fn: (x, env) => b(x, env).filter((item, i) => singletonBoolean(crit([item], { ...env, index: i })) === true),
        type: base.type,
      };
    }
    case 'exists': {
      arity(1);
      if (node.args.length === 0) return { fn: (x, env) => [b(x, env).length > 0], type: bool };
      const crit = compilePath(arg(0), base.type, scope).fn;
      return {
        fn: (x, env) => [b(x, env).some((item, i) => singletonBoolean(crit([item], { ...env, index: i })) === true)],
        type: bool,
      };
    }
    case 'empty':
      arity(0);
      return { fn: (x, env) => [b(x, env).length === 0], type: bool };
    case 'count':
      arity(0);
      return { fn: (x, env) => [b(x, env).length], type: { kind: 'element', path: 'integer', type: 'integer' } };
    case 'first':
      arity(0);
      return { fn: (x, env) => b(x, env).slice(0, 1), type: base.type };
    case 'last':
      arity(0);
      return { fn: (x, env) => b(x, env).slice(-1), type: base.type };
    case 'not':
      arity(0);
      return {
        fn: (x, env) => {
          const v = singletonBoolean(b(x, env));
          return v === undefined ? [] : [!v];
        },
        type: bool,
      };
    case 'hasValue':
      arity(0);
      return { fn: (x, env) => [b(x, env).some((v) => !isObject(v))], type: bool };
    case 'join': {
      arity(1);
      const sep = node.args.length > 0 ? compilePath(arg(0), input, scope).fn : () => [''];
      return {
        fn: (x, env) => {
          const items = b(x, env);
          const s = sep(x, env)[0];
          return [items.map(String).join(typeof s === 'string' ? s : '')];
        },
        type: { kind: 'element', path: 'string', type: 'string' },
      };
    }
    case 'ofType':
      arity(1);
      return compileOfType(node, typeNameArg(arg(0), 'ofType'), input, scope);
    case 'extension': {
      arity(1);
      const url = compilePath(arg(0), input, scope).fn;
      return {
        fn: (x, env) => {
          const u = url(x, env)[0];
          const out: Collection = [];
          for (const item of b(x, env)) {
            if (!isObject(item) || !Array.isArray(item.extension)) continue;
            for (const e of item.extension) if (isObject(e) && e.url === u) out.push(e);
          }
          return out;
        },
        type: { kind: 'element', path: 'Extension', type: 'Extension' },
      };
    }
    case 'getResourceKey':
      arity(0);
      return {
        fn: (x, env) => {
          const out: Collection = [];
          for (const r of b(x, env)) if (isObject(r) && typeof r.id === 'string') out.push(r.id);
          return out;
        },
        type: { kind: 'element', path: 'string', type: 'string' },
      };
    case 'getReferenceKey': {
      arity(1);
      const wanted = node.args.length > 0 ? typeNameArg(arg(0), 'getReferenceKey') : undefined;
      return {
        fn: (x, env) => {
          const out: Collection = [];
          for (const r of b(x, env)) {
            const key = isObject(r) ? referenceKey(r.reference, wanted) : undefined;
            if (key !== undefined) out.push(key);
          }
          return out;
        },
        type: { kind: 'element', path: 'string', type: 'string' },
      };
    }
    case 'lowBoundary':
    case 'highBoundary': {
      arity(0);
      const t = base.type?.kind === 'element' ? base.type.type : undefined;
      const kind =
        t === 'date' ? 'date' : t === 'dateTime' || t === 'instant' ? 'dateTime' : t === 'time' ? 'time' : undefined;
      // Decimal boundaries need the literal's written precision, which JSON.parse has already dropped.
      if (!kind) throw new OutsideCompiledSubset(`${node.name}() on ${t ?? 'a value of unknown type'}`);
      const high = node.name === 'highBoundary';
      return {
        fn: (x, env) => {
          const out: Collection = [];
          for (const v of b(x, env)) {
            const r = typeof v === 'string' ? temporalBoundary(v, high, kind) : undefined;
            if (r !== undefined) out.push(r);
          }
          return out;
        },
        type: { kind: 'element', path: kind, type: kind },
      };
    }
    default:
      throw new OutsideCompiledSubset(`function ${node.name}()`);
  }
}

/**
 * `ofType(T)`. After a choice element the alternative is one JSON key (`value.ofType(Quantity)` reads
 * `valueQuantity` only); elsewhere the static type decides, and without one the full engine does.
 */
function compileOfType(
  node: Extract<PathNode, { k: 'call' }>,
  type: string,
  input: StaticType | undefined,
  scope: CompileScope,
): CompiledPath {
  if (type.startsWith('System.')) throw new OutsideCompiledSubset('System types in ofType()');
  const target: StaticType = choiceAlternative(suffixOf(type));
  const choiceBase = node.base?.k === 'member' ? node.base : undefined;
  if (choiceBase) {
    const parent = choiceBase.base ? compilePath(choiceBase.base, input, scope) : undefined;
    const parentType = parent ? parent.type : input;
    const t = childType(parentType, choiceBase.name);
    const unknownParent = t === undefined && !(choiceBase.base === null && /^[A-Z]/.test(choiceBase.name));
    if (t?.kind === 'choice' || unknownParent) {
      if (t?.kind === 'choice' && !t.suffixes.includes(suffixOf(type))) return { fn: () => [], type: target };
      const key = memberFn(`${choiceBase.name}${suffixOf(type)}`);
      if (!parent) return { fn: key, type: target };
      const p = parent.fn;
      return { fn: (x, env) => key(p(x, env), env), type: target };
    }
  }
  const base = node.base ? compilePath(node.base, input, scope) : { fn: (x: Collection) => x, type: input };
  const known = base.type;
  if (known?.kind !== 'element') throw new OutsideCompiledSubset('ofType() on a value of unknown type');
  const matches = derivesFrom(known.type, type) || (PRIMITIVE_TYPES.has(type) && known.type === type);
  const b = base.fn;
  return matches ? { fn: b, type: known } : { fn: () => [], type: target };
}
