import { isHealthmeshError } from '../core/index.js';
import type { RawRecord, ResourceValidator } from '../fhir/index.js';
import type { ResourceWrite } from '../store/index.js';
import type { Reject } from './reject-log.js';
import type { ReferenceScope, ResourcePreparer } from './resource-preparer.js';

type Json = Record<string, unknown>;
export type Origin = Omit<Reject, 'code' | 'message'>;

/** What became of one stand-alone record: a write, a reject, or a document (Bundle) to unpack. */
export type RecordOutcome =
  | { kind: 'write'; write: ResourceWrite; origin: Origin }
  | { kind: 'reject'; reject: Reject }
  | { kind: 'document'; value: Json; origin: Origin };

export const SPLIT_BUNDLE_TYPES = new Set([
  'transaction',
  'batch',
  'collection',
  'searchset',
  'history',
  'document',
  'message',
]);

/** Type and id for a reject. A person's source id can itself be an identifier (an MRN): never written. */
export function describe(resource: Json): { resourceType?: string; id?: string } {
  const type = typeof resource.resourceType === 'string' ? resource.resourceType : undefined;
  const person = type === 'Patient' || type === 'RelatedPerson' || type === 'Person';
  const id = typeof resource.id === 'string' && !person ? resource.id : undefined;
  return { ...(type !== undefined && { resourceType: type }), ...(id !== undefined && { id }) };
}

/** The first validation issue as a reject (with a count of the others), or undefined when valid. */
export function validationReject(validator: ResourceValidator, resource: Json, origin: Origin): Reject | undefined {
  const issues = validator.validate(resource, 5);
  const first = issues[0];
  if (!first) return undefined;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return { ...origin, ...describe(resource), code: first.code, path: first.path, message: `${first.message}${more}` };
}

/** A coded fault as a reject; anything else is our bug and is rethrown. */
export function faultReject(e: unknown, origin: Origin, resource: Json): Reject {
  if (!isHealthmeshError(e)) throw e;
  return {
    ...origin,
    ...describe(resource),
    code: e.code,
    ...(e.location.path !== undefined && { path: e.location.path }),
    message: e.message,
  };
}

/**
 * Check and prepare one record that stands alone (an NDJSON line or a single-resource file). Pure apart from
 * the validator and preparer, so it runs the same in the main thread and in workers.
 */
export function processRecord(
  raw: RawRecord,
  deps: { validator: ResourceValidator; preparer: ResourcePreparer; source: string; scope: ReferenceScope },
): RecordOutcome {
  // No object spreads on this path: it runs for every record, and a spread per record cost a worker ~5% (measured).
  const origin: Origin = { file: raw.file, line: raw.line };
  if ('error' in raw)
    return { kind: 'reject', reject: { ...origin, code: raw.error.code, message: raw.error.message } };
  const value = raw.value as Json | null;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || typeof value.resourceType !== 'string') {
    return {
      kind: 'reject',
      reject: {
        ...origin,
        code: 'INGEST_NOT_A_RESOURCE',
        message: 'the record is not a JSON object with a resourceType',
      },
    };
  }
  if (value.resourceType === 'Bundle' && SPLIT_BUNDLE_TYPES.has(String(value.type)))
    return { kind: 'document', value, origin };
  const invalid = validationReject(deps.validator, value, origin);
  if (invalid) return { kind: 'reject', reject: invalid };
  try {
    const prepared = deps.preparer.prepare(deps.source, value, deps.scope);
    return { kind: 'write', write: prepared.write, origin };
  } catch (e) {
    return { kind: 'reject', reject: faultReject(e, origin, value) };
  }
}
