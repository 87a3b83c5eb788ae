import r4 from 'fhirpath/fhir-context/r4';

/**
 * What the compiler knows statically about the items of a collection: the model path its children are looked up
 * under (`Observation.component`, `CodeableConcept`) and its FHIR type name, or the types a choice element
 * (`Observation.value[x]`) may take. `undefined` elsewhere means "not known": the compiled code then falls back
 * to JSON-shape checks at run time.
 */
export type StaticType =
  | { kind: 'element'; path: string; type: string }
  | { kind: 'choice'; path: string; name: string; suffixes: readonly string[] };

interface R4Model {
  choiceTypePaths: Record<string, string[]>;
  pathsDefinedElsewhere: Record<string, string>;
  type2Parent: Record<string, string>;
  path2Type: Record<string, string | { code: string }>;
}

const model = r4 as unknown as R4Model;

/** The FHIR R4 model of the `fhirpath` package, as the fallback evaluator is given it. */
export const r4Model: unknown = r4;

/** FHIR primitive type names (lower-case in R4), used by `ofType` and for column type inference. */
export const PRIMITIVE_TYPES = new Set([
  'base64Binary',
  'boolean',
  'canonical',
  'code',
  'date',
  'dateTime',
  'decimal',
  'id',
  'instant',
  'integer',
  'integer64',
  'markdown',
  'oid',
  'positiveInt',
  'string',
  'time',
  'unsignedInt',
  'uri',
  'url',
  'uuid',
  'xhtml',
]);

/** Every choice-type suffix R4 uses (`valueQuantity`, `effectiveDateTime`...), for JSON of unknown type. */
const ALL_SUFFIXES: readonly string[] = [...new Set(Object.values(model.choiceTypePaths).flat())];

/** `System.String` and friends are the model's names for the primitives of `id`, `url`, `Extension.url`. */
function fhirTypeName(t: string): string {
  return t.startsWith('System.') ? (t === 'System.String' ? 'string' : t.slice(7).toLowerCase()) : t;
}

export function isResourceType(name: string): boolean {
  let t: string | undefined = name;
  while (t) {
    if (t === 'Resource') return true;
    t = model.type2Parent[t];
  }
  return false;
}

/** True when `type` is `ancestor` or derives from it (`Age` is a `Quantity`). */
export function derivesFrom(type: string, ancestor: string): boolean {
  let t: string | undefined = type;
  while (t) {
    if (t === ancestor) return true;
    t = model.type2Parent[t];
  }
  return false;
}

/** The static type of a resource root. */
export function resourceType(name: string): StaticType | undefined {
  return isResourceType(name) ? { kind: 'element', path: name, type: name } : undefined;
}

/** The static type of `name` under `parent`, following base types and content references. */
export function childType(parent: StaticType | undefined, name: string): StaticType | undefined {
  if (parent?.kind !== 'element') return undefined;
  let base: string | undefined = parent.path;
  while (base) {
    let full = `${base}.${name}`;
    full = model.pathsDefinedElsewhere[full] ?? full;
    const choice = model.choiceTypePaths[full];
    if (choice) return { kind: 'choice', path: full, name, suffixes: choice };
    const t = model.path2Type[full];
    if (t !== undefined) {
      const code = typeof t === 'string' ? t : t.code;
      if (code === 'BackboneElement' || code === 'Element' || code.includes('.')) {
        const path = code.includes('.') ? code : full;
        return { kind: 'element', path, type: code.includes('.') ? 'BackboneElement' : code };
      }
      return { kind: 'element', path: code, type: fhirTypeName(code) };
    }
    // Elements inherited from a base type (Resource.id, DomainResource.extension, Quantity for Age).
    base = base.includes('.') ? 'BackboneElement' : model.type2Parent[base];
  }
  return undefined;
}

/** The JSON keys a choice element may appear under: `value` → `valueQuantity`, `valueString`... */
export function choiceKeys(name: string, suffixes: readonly string[] = ALL_SUFFIXES): string[] {
  return suffixes.map((s) => `${name}${s}`);
}

/** The type of one alternative of a choice: suffix `Quantity` → Quantity, `DateTime` → dateTime. */
export function choiceAlternative(suffix: string): StaticType {
  const lower = `${suffix[0]!.toLowerCase()}${suffix.slice(1)}`;
  const type = PRIMITIVE_TYPES.has(lower) ? lower : suffix;
  return { kind: 'element', path: type, type };
}

/** The JSON suffix for a type name given to `ofType`: `dateTime` → `DateTime`, `Quantity` → `Quantity`. */
export function suffixOf(type: string): string {
  return `${type[0]!.toUpperCase()}${type.slice(1)}`;
}
