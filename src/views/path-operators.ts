import { HealthmeshError } from '../core/index.js';
import type { StaticType } from './fhir-type-model.js';
import type { Collection, CompiledPath, PathEnv } from './path-compiler.js';
import { OutsideCompiledSubset } from './path-compiler.js';
import { compareTemporal } from './temporal-values.js';

/**
 * FHIRPath §"Singleton evaluation of collections" in a boolean context: empty → unknown, one boolean → itself,
 * any other single item → true, several items → an error.
 */
export function singletonBoolean(c: Collection): boolean | undefined {
  if (c.length === 0) return undefined;
  if (c.length > 1) {
    throw new HealthmeshError('VIEW_EVALUATION', `a boolean was expected but the expression gave ${c.length} values`);
  }
  const v = c[0];
  return typeof v === 'boolean' ? v : true;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function equivalent(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    return a.trim().replace(/\s+/g, ' ').toLowerCase() === b.trim().replace(/\s+/g, ' ').toLowerCase();
  }
  return deepEqual(a, b);
}

type Binary = (l: Collection, r: Collection) => Collection;

const BOOL: StaticType = { kind: 'element', path: 'boolean', type: 'boolean' };

function logic(op: string): Binary {
  return (lc, rc) => {
    const l = singletonBoolean(lc);
    const r = singletonBoolean(rc);
    // Three-valued logic tables of FHIRPath §"Boolean logic".
    switch (op) {
      case 'and':
        if (l === false || r === false) return [false];
        return l === true && r === true ? [true] : [];
      case 'or':
        if (l === true || r === true) return [true];
        return l === false && r === false ? [false] : [];
      case 'xor':
        return l === undefined || r === undefined ? [] : [l !== r];
      default: // implies
        if (l === false) return [true];
        if (l === true) return r === undefined ? [] : [r];
        return r === true ? [true] : [];
    }
  };
}

function equality(eq: (a: unknown, b: unknown) => boolean, negate: boolean, emptyIsEqual: boolean): Binary {
  return (l, r) => {
    if (l.length === 0 || r.length === 0) {
      if (!emptyIsEqual) return [];
      return [(l.length === 0 && r.length === 0) !== negate];
    }
    if (l.length !== r.length) return [negate];
    for (let i = 0; i < l.length; i++) if (!eq(l[i], r[i])) return [negate];
    return [!negate];
  };
}

function singleton(c: Collection, op: string): unknown {
  if (c.length > 1) throw new HealthmeshError('VIEW_EVALUATION', `operator ${op} needs single values, got ${c.length}`);
  return c[0];
}

function temporalEquality(negate: boolean): Binary {
  return (lc, rc) => {
    if (lc.length === 0 || rc.length === 0) return [];
    const l = singleton(lc, '=');
    const r = singleton(rc, '=');
    if (typeof l !== 'string' || typeof r !== 'string') return [negate !== deepEqual(l, r)];
    const order = compareTemporal(l, r);
    return order === undefined ? [] : [negate !== (order === 0)];
  };
}

function comparison(op: string, temporal: boolean): Binary {
  return (lc, rc) => {
    if (lc.length === 0 || rc.length === 0) return [];
    const l = singleton(lc, op);
    const r = singleton(rc, op);
    if (temporal && typeof l === 'string' && typeof r === 'string') {
      const order = compareTemporal(l, r);
      if (order === undefined) return [];
      return [op === '<' ? order < 0 : op === '>' ? order > 0 : op === '<=' ? order <= 0 : order >= 0];
    }
    const bothNumbers = typeof l === 'number' && typeof r === 'number';
    const bothStrings = typeof l === 'string' && typeof r === 'string';
    if (!bothNumbers && !bothStrings) return [];
    const a = l as number | string;
    const b = r as number | string;
    switch (op) {
      case '<':
        return [a < b];
      case '>':
        return [a > b];
      case '<=':
        return [a <= b];
      default:
        return [a >= b];
    }
  };
}

function arithmetic(op: string): Binary {
  return (lc, rc) => {
    if (op === '&') {
      const l = singleton(lc, op);
      const r = singleton(rc, op);
      return [`${l === undefined ? '' : String(l)}${r === undefined ? '' : String(r)}`];
    }
    if (lc.length === 0 || rc.length === 0) return [];
    const l = singleton(lc, op);
    const r = singleton(rc, op);
    if (op === '+' && typeof l === 'string' && typeof r === 'string') return [l + r];
    if (typeof l !== 'number' || typeof r !== 'number') return [];
    switch (op) {
      case '+':
        return [l + r];
      case '-':
        return [l - r];
      case '*':
        return [l * r];
      case '/':
        return r === 0 ? [] : [l / r];
      case 'div':
        return r === 0 ? [] : [Math.trunc(l / r)];
      default: // mod
        return r === 0 ? [] : [l % r];
    }
  };
}

function union(l: Collection, r: Collection): Collection {
  const out: Collection = [];
  for (const v of [...l, ...r]) if (!out.some((o) => deepEqual(o, v))) out.push(v);
  return out;
}

function membership(op: string): Binary {
  return (l, r) => {
    const [item, list] = op === 'in' ? [l, r] : [r, l];
    if (item.length === 0) return [];
    const v = singleton(item, op);
    return [list.some((x) => deepEqual(x, v))];
  };
}

function operatorFn(op: string, temporal: boolean): Binary {
  switch (op) {
    case 'and':
    case 'or':
    case 'xor':
    case 'implies':
      return logic(op);
    case '=':
      return temporal ? temporalEquality(false) : equality(deepEqual, false, false);
    case '!=':
      return temporal ? temporalEquality(true) : equality(deepEqual, true, false);
    case '~':
      return equality(equivalent, false, true);
    case '!~':
      return equality(equivalent, true, true);
    case '<':
    case '>':
    case '<=':
    case '>=':
      return comparison(op, temporal);
    case '+':
    case '-':
    case '*':
    case '/':
    case 'div':
    case 'mod':
    case '&':
      return arithmetic(op);
    case '|':
      return union;
    case 'in':
    case 'contains':
      return membership(op);
    default:
      throw new OutsideCompiledSubset(`operator ${op}`);
  }
}

/** A binary operator over two compiled operands. */
export function compileOperator(op: string, left: CompiledPath, right: CompiledPath, temporal: boolean): CompiledPath {
  const f = operatorFn(op, temporal);
  const l = left.fn;
  const r = right.fn;
  const numeric = ['+', '-', '*', '/', 'div', 'mod'].includes(op);
  const type: StaticType | undefined = numeric
    ? left.type
    : op === '&'
      ? { kind: 'element', path: 'string', type: 'string' }
      : op === '|'
        ? left.type
        : BOOL;
  return { fn: (x: Collection, env: PathEnv) => f(l(x, env), r(x, env)), type };
}
