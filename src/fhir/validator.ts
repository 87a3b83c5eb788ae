import { describeValue, PRIMITIVE_CHECKS, type PrimitiveCheck, referenceCheck } from './primitive-formats.js';
import {
  PRIMITIVE,
  PRIMITIVE_EXTENSION,
  type PropPlan,
  RESOURCE,
  RESOURCE_TYPE,
  type ValidatorPlan,
} from './validator-plan.js';
import { loadR4Plan } from './validator-plan-cache.js';

/** One problem found in a resource. `path` is FHIRPath-like with indexes: `Observation.component[1].code`. */
export interface ValidationIssue {
  /**
   * `FHIR_STRUCTURE`: not a JSON object where one is needed, empty object or array, misplaced null, nesting too
   * deep. `FHIR_CARDINALITY`: array where a single value belongs or the reverse, too many values, more than one
   * choice-type variant. `FHIR_PRIMITIVE` also covers codes outside a required binding.
   */
  code:
    | 'FHIR_UNKNOWN_RESOURCE_TYPE'
    | 'FHIR_UNKNOWN_ELEMENT'
    | 'FHIR_REQUIRED'
    | 'FHIR_CARDINALITY'
    | 'FHIR_PRIMITIVE'
    | 'FHIR_REFERENCE_SYNTAX'
    | 'FHIR_STRUCTURE';
  path: string;
  message: string;
}

type IssueCode = ValidationIssue['code'];

/** Deeper than any real resource; stops runaway recursion on cyclic or hostile input. */
const MAX_DEPTH = 128;
const FIRST_CODES_SHOWN = 8;

/** One allowed JSON property of a type, compiled from its ElementDefinition. */
interface Prop {
  key: string; // JSON property name: `valueQuantity`, `_birthDate`
  element: string; // element name for messages: `value[x]`
  kind: number;
  isArray: boolean;
  max: number;
  requiredBit: number; // bit of this element in TypeCheck.requiredMask, or 0
  choiceBit: number; // bit of its choice element, or 0
  pair: string; // `_given` for `given` and the reverse; '' for non-primitives
  check: PrimitiveCheck | undefined;
  codes: ReadonlySet<string> | undefined; // required binding, when expandable
  valueSet: string;
  isReference: boolean; // Reference.reference: syntax checked too
  type: TypeCheck | undefined;
}

/** Every Prop comes from this one literal, so all share one hidden class and the hot loop stays monomorphic. */
function prop(p: PropPlan, codeSets: readonly ReadonlySet<string>[], types: ReadonlyMap<string, TypeCheck>): Prop {
  return {
    key: p.key,
    element: p.element,
    kind: p.kind,
    isArray: p.isArray,
    max: p.max,
    requiredBit: p.requiredBit,
    choiceBit: p.choiceBit,
    pair: p.pair,
    check: p.primitive === '' ? undefined : PRIMITIVE_CHECKS[p.primitive],
    codes: p.codeSet < 0 ? undefined : codeSets[p.codeSet],
    valueSet: p.valueSet,
    isReference: p.isReference,
    type: p.type === '' ? undefined : types.get(p.type),
  };
}

/** A complex type, backbone element or resource: its properties and required elements. */
class TypeCheck {
  readonly props = new Map<string, Prop>();
  requiredMask = 0;
  readonly required: { element: string; bit: number; keys: string[] }[] = [];
  readonly choices = new Map<string, string[]>(); // `value` -> allowed type codes
  constructor(readonly name: string) {}
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

let r4Plan: ValidatorPlan | undefined;
let r4Validator: ResourceValidator | undefined;

/**
 * Structural validator for FHIR R4 JSON resources, compiled once from the R4 StructureDefinitions (parsed by
 * medplum) into per-type property maps, because medplum's `validateResource` runs at ~2.6 MB/s and ingest
 * needs ≥ 50 MB/s. Checks resourceType, unknown elements, cardinality, required elements, primitive
 * formats, Reference syntax, empty values, contained resources and expandable required code bindings;
 * FHIRPath invariants are out of scope.
 */
export class ResourceValidator {
  private readonly resources = new Map<string, TypeCheck>();
  private readonly checkReference: (ref: string) => string | undefined;
  // Per-run state, reused so a valid resource costs no allocation beyond the issues array.
  private issues: ValidationIssue[] = [];
  private maxIssues = 20;
  private readonly segments: string[] = [];
  private readonly indexes: number[] = [];
  private depth = 0;

  private constructor(plan: ValidatorPlan) {
    const codeSets = plan.codeSets.map((codes) => new Set(codes));
    const types = new Map(plan.types.map((t) => [t.name, new TypeCheck(t.name)]));
    for (const t of plan.types) {
      const type = types.get(t.name)!;
      for (const p of t.props) type.props.set(p.key, prop(p, codeSets, types));
      type.required.push(...t.required);
      type.requiredMask = t.requiredMask;
      for (const [base, codes] of t.choices) type.choices.set(base, codes);
    }
    for (const name of plan.resourceTypes) this.resources.set(name, types.get(name)!);
    this.checkReference = referenceCheck(plan.resourceTypes);
  }

  /** Build (and cache module-wide) the compiled validator for R4. */
  static r4(): ResourceValidator {
    r4Validator ??= new ResourceValidator(ResourceValidator.r4Plan());
    return r4Validator;
  }

  /**
   * The compiled R4 checks as plain data, to hand to worker threads (see `fromPlan`); from the installation's plan
   * cache when it holds this compiler's plan (`validator-plan-cache.ts`).
   */
  static r4Plan(): ValidatorPlan {
    r4Plan ??= loadR4Plan();
    return r4Plan;
  }

  /** A validator rebuilt from a plan made by `r4Plan` (e.g. in another thread): milliseconds, not a compile. */
  static fromPlan(plan: ValidatorPlan): ResourceValidator {
    return new ResourceValidator(plan);
  }

  /** Whether `name` is a concrete R4 resource type (not Resource or DomainResource). */
  isResourceType(name: string): boolean {
    return this.resources.has(name);
  }

  /**
   * Issues found; empty array = valid. Never throws on any input (unknown -> issues). Stops after
   * `maxIssues` (default 20).
   */
  validate(resource: unknown, maxIssues = 20): ValidationIssue[] {
    const issues: ValidationIssue[] = [];
    this.issues = issues;
    this.maxIssues = maxIssues > 1 ? Math.floor(maxIssues) : 1; // NaN and 0 too
    this.depth = 0;
    try {
      this.resource(resource);
    } catch (err) {
      // Only hostile input gets here (throwing getters, proxies): report it instead of failing the caller.
      this.depth = 0;
      this.fail('FHIR_STRUCTURE', `value could not be read: ${describeValue(String(err))}`);
    }
    this.issues = [];
    return issues;
  }

  /** A resource at the root (depth 0, path `Patient...`) or contained (path continues `...contained[0]`). */
  private resource(value: unknown): void {
    if (!isObject(value)) {
      this.fail('FHIR_STRUCTURE', `expected a resource (JSON object), found ${describeValue(value)}`);
      return;
    }
    const name = value.resourceType;
    const type = typeof name === 'string' ? this.resources.get(name) : undefined;
    if (type === undefined) {
      const found = name === undefined ? 'no resourceType' : describeValue(name);
      this.fail('FHIR_UNKNOWN_RESOURCE_TYPE', `expected a concrete R4 resource type, found ${found}`, 'resourceType');
    } else if (this.depth > 0) {
      this.object(type, value);
    } else {
      this.push(type.name);
      this.object(type, value);
      this.depth--;
    }
  }

  private object(type: TypeCheck, obj: Json): void {
    if (this.depth > MAX_DEPTH) {
      this.fail('FHIR_STRUCTURE', `nested more than ${MAX_DEPTH} levels deep`);
      return;
    }
    let seen = 0;
    let required = 0;
    let choices = 0;
    for (const key in obj) {
      seen++;
      const prop = type.props.get(key);
      if (prop === undefined) {
        this.fail('FHIR_UNKNOWN_ELEMENT', unknownMessage(type, key), key);
        continue;
      }
      required |= prop.requiredBit;
      if (prop.choiceBit !== 0 && (prop.kind !== PRIMITIVE_EXTENSION || obj[prop.pair] === undefined)) {
        if ((choices & prop.choiceBit) !== 0) this.choiceClash(type, prop, obj);
        choices |= prop.choiceBit;
      }
      if (prop.kind === RESOURCE_TYPE) continue;
      const value = obj[key];
      this.push(key);
      if (value === null) this.fail('FHIR_STRUCTURE', 'null is not allowed here: omit the element instead');
      else if (prop.max === 0) this.fail('FHIR_CARDINALITY', `${key} is not allowed in ${type.name}`);
      else if (prop.isArray) this.array(prop, value, obj);
      else if (Array.isArray(value)) this.fail('FHIR_CARDINALITY', `expected one ${prop.element}, found an array`);
      else this.value(prop, value);
      this.depth--;
      if (this.issues.length >= this.maxIssues) return;
    }
    if (seen === 0) this.fail('FHIR_STRUCTURE', 'empty object: an element needs a value or child elements');
    if (required !== type.requiredMask) this.missing(type, required);
  }

  private array(prop: Prop, value: unknown, obj: Json): void {
    if (!Array.isArray(value)) {
      this.fail(
        'FHIR_CARDINALITY',
        `expected an array for ${prop.element} (it repeats), found ${describeValue(value)}`,
      );
      return;
    }
    if (value.length === 0) {
      this.fail('FHIR_STRUCTURE', 'empty array: omit the element instead');
      return;
    }
    if (value.length > prop.max) {
      this.fail('FHIR_CARDINALITY', `${prop.element} allows at most ${prop.max} values, found ${value.length}`);
    }
    // `_given` runs alongside `given`: same length, and a null on one side needs a value on the other (R4 json.html, primitive elements).
    const partner = prop.pair === '' ? undefined : obj[prop.pair];
    const aligned = partner === undefined || (Array.isArray(partner) && partner.length === value.length);
    if (prop.kind === PRIMITIVE_EXTENSION && !aligned) {
      this.fail('FHIR_STRUCTURE', `${prop.key} must be an array of the same length as ${prop.pair}`);
    }
    const at = this.depth - 1;
    for (let i = 0; i < value.length; i++) {
      this.indexes[at] = i;
      const item: unknown = value[i];
      if (item !== null) this.value(prop, item);
      else if (!Array.isArray(partner) || partner[i] === null || partner[i] === undefined) {
        this.fail('FHIR_STRUCTURE', prop.pair === '' ? 'null entry' : `null entry without a ${prop.pair}[${i}]`);
      }
      if (this.issues.length >= this.maxIssues) break;
    }
    this.indexes[at] = -1;
  }

  private value(prop: Prop, value: unknown): void {
    switch (prop.kind) {
      case PRIMITIVE: {
        const problem = prop.check!(value);
        if (problem !== undefined) this.fail('FHIR_PRIMITIVE', problem);
        else if (prop.codes !== undefined && !prop.codes.has(value as string)) {
          this.fail('FHIR_PRIMITIVE', bindingMessage(prop, value as string));
        } else if (prop.isReference) {
          const bad = this.checkReference(value as string);
          if (bad !== undefined) this.fail('FHIR_REFERENCE_SYNTAX', bad);
        }
        return;
      }
      case RESOURCE:
        this.resource(value);
        return;
      default:
        if (isObject(value)) this.object(prop.type!, value);
        else this.fail('FHIR_STRUCTURE', `expected a JSON object for ${prop.element}, found ${describeValue(value)}`);
    }
  }

  private choiceClash(type: TypeCheck, prop: Prop, obj: Json): void {
    const present = [...type.props.values()]
      .filter((p) => p.choiceBit === prop.choiceBit && p.kind !== PRIMITIVE_EXTENSION && obj[p.key] !== undefined)
      .map((p) => p.key);
    this.fail('FHIR_CARDINALITY', `only one ${prop.element} is allowed, found ${present.join(' and ')}`, prop.key);
  }

  private missing(type: TypeCheck, found: number): void {
    for (const req of type.required) {
      if ((found & req.bit) !== 0) continue;
      const which = req.keys.length > 1 ? ` (one of ${req.keys.join(', ')})` : '';
      this.fail('FHIR_REQUIRED', `missing required element ${req.element}${which}`, req.element);
    }
  }

  private push(segment: string): void {
    this.segments[this.depth] = segment;
    this.indexes[this.depth] = -1;
    this.depth++;
  }

  /** Record an issue at the current location (or its `child`); the path is built only here. */
  private fail(code: IssueCode, message: string, child?: string): void {
    if (this.issues.length >= this.maxIssues) return;
    let path = this.depth === 0 ? 'Resource' : '';
    for (let i = 0; i < this.depth; i++) {
      const index = this.indexes[i]!;
      path += (i === 0 ? '' : '.') + this.segments[i] + (index >= 0 ? `[${index}]` : '');
    }
    this.issues.push({ code, path: child === undefined ? path : `${path}.${child}`, message });
  }
}

function unknownMessage(type: TypeCheck, key: string): string {
  if (key.startsWith('_') && type.props.has(key.slice(1))) {
    return `${describeValue(key)} is not allowed: only primitive elements take a "_" extension sibling`;
  }
  for (const [base, codes] of type.choices) {
    const rest = key.slice(base.length);
    if (key.startsWith(base) && /^[A-Z]/.test(rest)) {
      const accepted =
        codes.length > 12 ? `${codes.slice(0, 12).join(', ')}, … (${codes.length} types)` : codes.join(', ');
      return `${describeValue(key)} is not allowed: ${base}[x] accepts ${accepted}; found type ${describeValue(rest)}`;
    }
  }
  return `unknown element ${describeValue(key)}: ${type.name} has no such element`;
}

function bindingMessage(prop: Prop, code: string): string {
  const codes = [...prop.codes!];
  const shown = codes.slice(0, FIRST_CODES_SHOWN).join(', ') + (codes.length > FIRST_CODES_SHOWN ? ', …' : '');
  return `code ${describeValue(code)} is not in the required value set ${prop.valueSet}: expected one of ${shown} (${codes.length} codes)`;
}
