/**
 * Stable error codes. Tests assert on codes, never on message text; `docs/errors.md` lists every code
 * (a test keeps the two in step).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'the hub configuration file is missing a field or has a wrong value',
  HUB_NOT_INITIALISED: 'no hub exists in the data directory; run `healthmesh init`',
  HUB_ALREADY_INITIALISED: 'a hub already exists in the data directory',
  STORE_MIGRATION_FAILED: 'a schema migration failed; the store was left at the previous version',
  STORE_LOCKED: 'another process holds the store open for writing',
  STORE_STAGING_INCOMPLETE:
    'the staged files of a bulk write batch lack rows the batch needs; nothing of it was stored',
  INGEST_INVALID_JSON: 'a record is not valid JSON',
  INGEST_EMPTY_FILE: 'an input file holds no records',
  INGEST_NOT_A_RESOURCE: 'a record is not a JSON object with a resourceType',
  INGEST_RECORD_TOO_LARGE: 'a record exceeds the size limit',
  INGEST_BINARY_INPUT: 'an input file is not UTF-8 text',
  INGEST_UNREADABLE: 'an input path cannot be read',
  INGEST_DUPLICATE_ENTRY: 'the same resource appears twice in one bundle with different content',
  INGEST_UNRESOLVED_REFERENCE: 'a reference points to nothing in the bundle or the store',
  INGEST_BUNDLE_ENTRY: 'a bundle entry is malformed or uses an unsupported request',
  INGEST_TRANSACTION_FAILED: 'an entry of a transaction bundle failed, so the whole bundle was rolled back',
  FHIR_UNKNOWN_RESOURCE_TYPE: 'resourceType is not an R4 resource',
  FHIR_UNKNOWN_ELEMENT: 'an element is not defined for its type',
  FHIR_REQUIRED: 'a required element is missing',
  FHIR_CARDINALITY: 'an element repeats where it must not, or is not an array where it must be',
  FHIR_PRIMITIVE: 'a primitive value has the wrong JSON type or format',
  FHIR_REFERENCE_SYNTAX: 'a reference is not a valid relative, absolute, contained or urn reference',
  FHIR_STRUCTURE: 'a complex value is not a JSON object, or is empty',
  AUTH_MISSING_TOKEN: 'the request carries no bearer token',
  AUTH_INVALID_TOKEN: 'the bearer token is not known to this hub',
  AUDIT_CHAIN_BROKEN: 'an audit entry was edited, deleted or reordered',
  API_NOT_FOUND: 'the resource or route does not exist',
  API_BAD_REQUEST: 'a request parameter is invalid',
  API_NOT_SUPPORTED: 'the operation or search parameter is not supported',
  EXPORT_UNKNOWN_JOB: 'no export job has that id',
  INTERNAL: 'an unexpected internal fault',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Where a fault sits: a file and line or bundle entry, and the element path inside the record. */
export interface FaultLocation {
  file?: string;
  line?: number;
  entry?: number;
  path?: string;
}

/** The one error class of healthmesh: a stable code, a human message, and where the fault is. */
export class HealthmeshError extends Error {
  readonly code: ErrorCode;
  readonly location: FaultLocation;

  constructor(code: ErrorCode, message: string, location: FaultLocation = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HealthmeshError';
    this.code = code;
    this.location = location;
  }
}

export function isHealthmeshError(e: unknown): e is HealthmeshError {
  return e instanceof HealthmeshError;
}
