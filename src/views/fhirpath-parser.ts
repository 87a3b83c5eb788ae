/**
 * A FHIRPath parser for the expressions ViewDefinitions use: the whole operator table (FHIRPath N1 §"Operator
 * precedence"), literals, `%variables`, `$this`/`$index`, invocations and indexers. Date and quantity literals
 * parse as `unsupported` nodes, which send the expression to the `fhirpath` package (see path-compiler.ts).
 */

export type PathNode =
  | { k: 'literal'; value: string | number | boolean; type: 'string' | 'integer' | 'decimal' | 'boolean' }
  | { k: 'empty' }
  | { k: 'variable'; name: string }
  | { k: 'this' }
  | { k: 'index' }
  | { k: 'member'; base: PathNode | null; name: string }
  | { k: 'call'; base: PathNode | null; name: string; args: PathNode[] }
  | { k: 'indexer'; base: PathNode; index: PathNode }
  | { k: 'binary'; op: string; left: PathNode; right: PathNode }
  | { k: 'unary'; op: '-' | '+'; operand: PathNode }
  | { k: 'typeOp'; op: 'is' | 'as'; operand: PathNode; type: string }
  | { k: 'unsupported'; what: string };

/** A syntax error, with the character offset where parsing stopped. */
export class PathSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'PathSyntaxError';
  }
}

/**
 * How deep brackets, function arguments, indexers and unary signs may nest. The parser, the compiler and the
 * `fhirpath` package all recurse per level, so without a bound a long enough expression overflows the stack (a
 * 500 instead of a view error). ViewDefinitions in the SQL-on-FHIR suite nest at most 6 levels.
 */
export const MAX_PATH_NESTING = 64;
/** How deep the parsed tree may be: also bounds chains (`a.b.c…`, `1 + 1 + …`) that parse without nesting. */
export const MAX_PATH_DEPTH = 256;

/** The expression nests deeper than the limits above; it is refused, never handed to another engine. */
export class PathTooDeepError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'PathTooDeepError';
  }
}

type Token =
  | { t: 'id'; v: string; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'num'; v: string; at: number }
  | { t: 'var'; v: string; at: number }
  | { t: 'special'; v: string; at: number }
  | { t: 'date'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'end'; v: ''; at: number };

const OPS = ['<=', '>=', '!=', '!~', '=', '~', '<', '>', '+', '-', '*', '/', '&', '|', '(', ')', '[', ']', '{', '}'];
const ESCAPES: Record<string, string> = {
  "'": "'",
  '"': '"',
  '`': '`',
  '\\': '\\',
  '/': '/',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

function readQuoted(src: string, start: number, quote: string): { value: string; end: number } {
  let out = '';
  let i = start + 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === quote) return { value: out, end: i + 1 };
    if (c === '\\') {
      const n = src[i + 1];
      if (n === 'u') {
        out += String.fromCharCode(Number.parseInt(src.slice(i + 2, i + 6), 16));
        i += 6;
        continue;
      }
      if (n === undefined || !(n in ESCAPES)) throw new PathSyntaxError(`bad escape \\${n ?? ''}`, i);
      out += ESCAPES[n];
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  throw new PathSyntaxError(`unterminated ${quote} literal`, start);
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new PathSyntaxError('unterminated comment', i);
      i = end + 2;
      continue;
    }
    const at = i;
    if (c === "'") {
      const q = readQuoted(src, i, "'");
      tokens.push({ t: 'str', v: q.value, at });
      i = q.end;
    } else if (c === '`') {
      const q = readQuoted(src, i, '`');
      tokens.push({ t: 'id', v: q.value, at });
      i = q.end;
    } else if (c === '%') {
      const n = src[i + 1];
      if (n === '`' || n === "'") {
        const q = readQuoted(src, i + 1, n);
        tokens.push({ t: 'var', v: q.value, at });
        i = q.end;
      } else {
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i + 1));
        if (!m) throw new PathSyntaxError('expected a variable name after %', i);
        tokens.push({ t: 'var', v: m[0], at });
        i += 1 + m[0].length;
      }
    } else if (c === '$') {
      const m = /^\$(this|index|total)\b/.exec(src.slice(i));
      if (!m) throw new PathSyntaxError('unknown $ variable', i);
      tokens.push({ t: 'special', v: m[1]!, at });
      i += m[0].length;
    } else if (c === '@') {
      const m = /^@[0-9T:.+\-Z]*/.exec(src.slice(i));
      if (!m || m[0].length < 2) throw new PathSyntaxError('bad date/time literal', i);
      tokens.push({ t: 'date', v: m[0], at });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      tokens.push({ t: 'num', v: m[0], at });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      tokens.push({ t: 'id', v: m[0], at });
      i += m[0].length;
    } else if (c === '.' || c === ',') {
      tokens.push({ t: 'op', v: c, at });
      i++;
    } else {
      const op = OPS.find((o) => src.startsWith(o, i));
      if (!op) throw new PathSyntaxError(`unexpected character '${c}'`, i);
      tokens.push({ t: 'op', v: op, at });
      i += op.length;
    }
  }
  tokens.push({ t: 'end', v: '', at: src.length });
  return tokens;
}

/** Binary operators by precedence level, loosest first (FHIRPath §"Operator precedence", #13 to #4). */
const LEVELS: readonly (readonly string[])[] = [
  ['implies'],
  ['or', 'xor'],
  ['and'],
  ['in', 'contains'],
  ['=', '~', '!=', '!~'],
  ['<', '>', '<=', '>='],
  ['|'],
  ['is', 'as'],
  ['+', '-', '&'],
  ['*', '/', 'div', 'mod'],
];
const KEYWORD_OPS = new Set(['implies', 'or', 'xor', 'and', 'in', 'contains', 'is', 'as', 'div', 'mod']);

class Parser {
  private pos = 0;
  private nesting = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly src: string,
  ) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }
  private next(): Token {
    return this.tokens[this.pos++]!;
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return (t.t === 'op' || t.t === 'id') && t.v === v && (t.t === 'op' || KEYWORD_OPS.has(v));
  }
  private expect(v: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.v !== v) throw new PathSyntaxError(`expected '${v}' but found '${t.v || 'end'}'`, t.at);
  }

  parseAll(): PathNode {
    const node = this.expression(0);
    const t = this.peek();
    if (t.t !== 'end') throw new PathSyntaxError(`unexpected '${t.v}'`, t.at);
    return node;
  }

  /** Parse `inner` one nesting level down, refusing beyond MAX_PATH_NESTING. */
  private nested<T>(inner: () => T): T {
    if (++this.nesting > MAX_PATH_NESTING) {
      throw new PathTooDeepError(`the expression nests deeper than ${MAX_PATH_NESTING} levels`, this.peek().at);
    }
    try {
      return inner();
    } finally {
      this.nesting--;
    }
  }

  private expression(level: number): PathNode {
    if (level === 0) return this.nested(() => this.binary(0));
    return this.binary(level);
  }

  private binary(level: number): PathNode {
    if (level >= LEVELS.length) return this.unary();
    let left = this.expression(level + 1);
    for (;;) {
      const op = LEVELS[level]!.find((o) => this.isOp(o));
      if (!op) return left;
      this.next();
      if (op === 'is' || op === 'as') {
        left = { k: 'typeOp', op, operand: left, type: this.typeSpecifier() };
      } else {
        left = { k: 'binary', op, left, right: this.expression(level + 1) };
      }
    }
  }

  private typeSpecifier(): string {
    const t = this.next();
    if (t.t !== 'id') throw new PathSyntaxError('expected a type name', t.at);
    let name = t.v;
    while (this.isOp('.') && this.tokens[this.pos + 1]?.t === 'id') {
      this.next();
      name += `.${this.next().v}`;
    }
    return name;
  }

  private unary(): PathNode {
    const t = this.peek();
    if (t.t === 'op' && (t.v === '-' || t.v === '+')) {
      this.next();
      return { k: 'unary', op: t.v, operand: this.nested(() => this.unary()) };
    }
    return this.postfix(this.term());
  }

  private postfix(start: PathNode): PathNode {
    let node = start;
    for (;;) {
      if (this.isOp('.')) {
        this.next();
        node = this.invocation(node);
      } else if (this.isOp('[')) {
        this.next();
        const index = this.expression(0);
        this.expect(']');
        node = { k: 'indexer', base: node, index };
      } else {
        return node;
      }
    }
  }

  private invocation(base: PathNode | null): PathNode {
    const t = this.next();
    if (t.t === 'special') {
      if (base !== null) throw new PathSyntaxError(`$${t.v} cannot follow '.'`, t.at);
      return t.v === 'this' ? { k: 'this' } : t.v === 'index' ? { k: 'index' } : { k: 'unsupported', what: '$total' };
    }
    if (t.t !== 'id') throw new PathSyntaxError(`expected a name but found '${t.v || 'end'}'`, t.at);
    if (this.isOp('(')) {
      this.next();
      const args: PathNode[] = [];
      if (!this.isOp(')')) {
        args.push(this.expression(0));
        while (this.isOp(',')) {
          this.next();
          args.push(this.expression(0));
        }
      }
      this.expect(')');
      return { k: 'call', base, name: t.v, args };
    }
    return { k: 'member', base, name: t.v };
  }

  private term(): PathNode {
    const t = this.peek();
    switch (t.t) {
      case 'str':
        this.next();
        return { k: 'literal', value: t.v, type: 'string' };
      case 'num': {
        this.next();
        if (
          this.peek().t === 'str' ||
          (this.peek().t === 'id' && /^(year|month|week|day|hour|minute|second|millisecond)s?$/.test(this.peek().v))
        ) {
          this.next();
          return { k: 'unsupported', what: 'quantity literal' };
        }
        const decimal = t.v.includes('.');
        return { k: 'literal', value: Number(t.v), type: decimal ? 'decimal' : 'integer' };
      }
      case 'date':
        this.next();
        return { k: 'unsupported', what: 'date/time literal' };
      case 'var':
        this.next();
        return { k: 'variable', name: t.v };
      case 'special':
        return this.invocation(null);
      case 'id':
        if (t.v === 'true' || t.v === 'false') {
          this.next();
          return { k: 'literal', value: t.v === 'true', type: 'boolean' };
        }
        return this.invocation(null);
      case 'op':
        if (t.v === '(') {
          this.next();
          const inner = this.expression(0);
          this.expect(')');
          return inner;
        }
        if (t.v === '{') {
          this.next();
          this.expect('}');
          return { k: 'empty' };
        }
        throw new PathSyntaxError(`unexpected '${t.v}'`, t.at);
      case 'end':
        throw new PathSyntaxError(`unexpected end of expression '${this.src}'`, t.at);
    }
  }
}

/**
 * Parse one FHIRPath expression; throws `PathSyntaxError` naming the offset of the fault, or `PathTooDeepError`
 * when it nests deeper than MAX_PATH_NESTING or its tree is deeper than MAX_PATH_DEPTH.
 */
export function parsePath(src: string): PathNode {
  const node = new Parser(tokenize(src), src).parseAll();
  if (treeDepth(node) > MAX_PATH_DEPTH) {
    throw new PathTooDeepError(`the expression's tree is deeper than ${MAX_PATH_DEPTH} levels`, 0);
  }
  return node;
}

function children(n: PathNode): (PathNode | null)[] {
  switch (n.k) {
    case 'member':
      return [n.base];
    case 'call':
      return [n.base, ...n.args];
    case 'indexer':
      return [n.base, n.index];
    case 'binary':
      return [n.left, n.right];
    case 'unary':
    case 'typeOp':
      return [n.operand];
    default:
      return [];
  }
}

/** The depth of a tree, walked without recursion (the point is not to overflow the stack). */
function treeDepth(root: PathNode): number {
  let deepest = 0;
  const stack: [PathNode, number][] = [[root, 1]];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [node, depth] = item;
    deepest = Math.max(deepest, depth);
    for (const c of children(node)) if (c !== null) stack.push([c, depth + 1]);
  }
  return deepest;
}

/** The `%names` an expression uses (empty when it does not even tokenize: the parse then reports that). */
export function variablesIn(src: string): string[] {
  try {
    return tokenize(src)
      .filter((t) => t.t === 'var')
      .map((t) => t.v);
  } catch {
    return [];
  }
}
