import { createRequire } from 'node:module';
import type Fhirpath from 'fhirpath';
import type { StaticType } from './fhir-type-model.js';
import { isResourceType, r4Model } from './fhir-type-model.js';
import type { PathFn } from './path-compiler.js';
import { referenceKey } from './resource-keys.js';

type Json = Record<string, unknown>;

let loaded: typeof Fhirpath | undefined;
/**
 * The `fhirpath` package, loaded on first use: importing it costs ~250 ms of CPU, paid by every flatten worker
 * at start, while the compiled views of a refresh never call it.
 */
function fhirpath(): typeof Fhirpath {
  loaded ??= createRequire(import.meta.url)('fhirpath') as typeof Fhirpath;
  return loaded;
}

/** fhirpath hands user functions its ResourceNode wrappers; the JSON is in `.data`. */
function unwrap(x: unknown): unknown {
  if (typeof x === 'object' && x !== null && 'data' in x && 'path' in x) return (x as { data: unknown }).data;
  return x;
}

/**
 * SQL-on-FHIR's two required functions are not part of FHIRPath, so the `fhirpath` package learns them through
 * its user invocation table (DEPENDENCIES.md); they share `referenceKey` with the compiled path.
 */
const USER_FUNCTIONS = {
  getResourceKey: {
    fn: (inputs: unknown[]) =>
      inputs
        .map(unwrap)
        .flatMap((r) =>
          typeof r === 'object' && r !== null && typeof (r as Json).id === 'string' ? [(r as Json).id] : [],
        ),
    arity: { 0: [] },
  },
  getReferenceKey: {
    fn: (inputs: unknown[], type?: { name?: string }) =>
      inputs.map(unwrap).flatMap((r) => {
        const key = typeof r === 'object' && r !== null ? referenceKey((r as Json).reference, type?.name) : undefined;
        return key === undefined ? [] : [key];
      }),
    arity: { 0: [], 1: ['TypeSpecifier'] },
  },
};

/**
 * Compile `expression` with the `fhirpath` package (R4 model): the full FHIRPath language, about 15k
 * resources/s (DEPENDENCIES.md), used for what the compiled subset leaves out and as the naive reference.
 * `base` is the model path of the context items (a forEach item is not a resource, so choice types need it).
 */
export function compileWithFhirpath(
  expression: string,
  base: StaticType | undefined,
  constants: Readonly<Record<string, unknown>>,
): PathFn {
  const path = base?.kind === 'element' && !isResourceType(base.path) ? { base: base.path, expression } : expression;
  const evaluate = fhirpath().compile(path as never, r4Model as never, {
    userInvocationTable: USER_FUNCTIONS as never,
  }) as unknown as (data: unknown, env: Record<string, unknown>) => unknown[];
  return (input, env) => {
    const vars = { ...constants, rowIndex: env.rowIndex, resource: env.resource, rootResource: env.resource };
    // A collection is handed over whole (an empty focus still evaluates %rowIndex and literals).
    return evaluate(input.length === 1 ? input[0] : input, vars);
  };
}

/** Check the syntax of `expression` with the `fhirpath` parser; returns its message when it fails. */
export function fhirpathSyntaxError(expression: string): string | undefined {
  try {
    fhirpath().parse(expression);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
