/**
 * Stable error codes. Tests assert on codes, never on message text; `docs/errors.md` lists every code
 * (a test keeps the two in step).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 'the hub configuration file is missing a field or has a wrong value',
  HUB_NOT_INITIALISED: 'no hub exists in the data directory; run `healthmesh init`',
  HUB_ALREADY_INITIALISED: 'a hub already exists in the data directory',
  HUB_DERIVED_STALE:
    'derived data (analytic tables, event index, consent decisions) lags the store after a failed refresh; readers refuse until it is refreshed',
  STORE_MIGRATION_FAILED: 'a schema migration failed; the store was left at the previous version',
  STORE_LOCKED: 'another process holds the store open for writing',
  STORE_STAGING_INCOMPLETE:
    'the staged files of a bulk write batch lack rows the batch needs; nothing of it was stored',
  STORE_CONTENT_NOT_ONE_LINE:
    'a resource body handed to the store is not single-line JSON; nothing of its batch was stored',
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
  INGEST_BUNDLE_TOO_LARGE:
    'a Bundle posted to the API has more entries than ingest.maxBundleEntries; nothing of it was stored',
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
  API_BODY_TOO_LARGE:
    'a request body exceeds the size limit of its route (server.maxBodyBytes, federation.maxBodyBytes)',
  API_NOT_SUPPORTED: 'the operation or search parameter is not supported',
  EXPORT_UNKNOWN_JOB: 'no export job has that id',
  SYNTH_INVALID_OPTION: 'a synthetic-population option is missing or out of range',
  SURVEILLANCE_CSV_HEADER: 'a target-data or model-output CSV lacks a required column',
  SURVEILLANCE_BAD_DATE: 'a date is not a valid YYYY-MM-DD date, or not on the weekly grid of its series',
  SURVEILLANCE_BAD_VALUE: 'a count or quantile value is missing or not a finite number',
  SURVEILLANCE_NEGATIVE_COUNT: 'a weekly count is negative',
  SURVEILLANCE_DUPLICATE_WEEK: 'a location has two rows for the same week',
  SURVEILLANCE_GAP: 'a location has a missing week between its first and last week',
  SURVEILLANCE_SHORT_HISTORY: 'a location has too few weeks of history to forecast from',
  SURVEILLANCE_BAD_FORECAST: 'a quantile forecast is malformed: wrong levels, horizon or order',
  SURVEILLANCE_NO_COMMON_FORECASTS: 'two models share no scored forecast, so a relative score is undefined',
  SURVEILLANCE_SUPPRESSED_WEEK:
    'a released series holds a week suppressed by disclosure control and the forecast was asked to refuse them',
  SURVEILLANCE_BAD_RELEASED_SERIES: "a hub's released weekly series is malformed (lengths, values or policy)",
  SURVEILLANCE_BAD_THRESHOLD: 'an epidemic alert threshold or its quantile level cannot be applied to the forecasts',
  VIEW_INVALID: 'a ViewDefinition is malformed: a required element is missing or has the wrong shape',
  VIEW_INVALID_PATH: 'a FHIRPath expression of a ViewDefinition does not parse',
  VIEW_UNKNOWN_CONSTANT: 'a FHIRPath expression uses a %constant the ViewDefinition does not declare',
  VIEW_UNION_MISMATCH: 'the branches of a unionAll do not give the same columns in the same order',
  VIEW_WHERE_NOT_BOOLEAN: 'a where path of a ViewDefinition gave a value that is not a boolean',
  VIEW_COLLECTION_VALUE: 'a column without collection: true gave more than one value for a row',
  VIEW_EVALUATION: 'a FHIRPath expression failed while a view was being evaluated',
  VIEW_UNKNOWN: 'no built-in view has that name',
  AUTH_FORBIDDEN: 'the token is valid but its role may not use this operation',
  AUTH_INVALID_ROLE: 'a token was asked for with a role the hub does not know',
  AUTH_SOURCE_FORBIDDEN: 'the token may not write records under the source the request names',
  INGEST_INVALID_SOURCE:
    "a source name is not an identifier-like name (lower-case letters, digits, '.', '_', '-'; at most 63 characters)",
  MODEL_EMPTY_DATA: 'a training or evaluation set has no rows',
  MODEL_SHAPE_MISMATCH: 'a feature matrix, outcome or prediction vector has the wrong length or width',
  MODEL_BAD_OUTCOME: 'an outcome value is not 0 or 1',
  MODEL_SINGLE_CLASS: 'the outcome has only one class, so no model or AUROC can be estimated',
  MODEL_INVALID_OPTION: 'a learner, split or evaluation option is out of range',
  MODEL_MISSING_VALUE: 'a feature value is missing (NaN) where the learner needs complete cases',
  MODEL_NOT_FINITE: 'a feature value is infinite',
  MODEL_ALL_MISSING_FEATURE: 'a feature is missing in every row',
  MODEL_CONSTANT_FEATURE: 'a feature has one value in every row, so its coefficient is not identified',
  MODEL_COLLINEAR: 'features are linearly dependent, so the coefficients are not identified',
  MODEL_SEPARATION:
    'the outcome is perfectly separated by the features, so the maximum-likelihood estimate is infinite',
  MODEL_NOT_CONVERGED: 'the fit did not converge within the iteration limit',
  MODEL_INVALID_CARD: 'a model card lacks a required field or describes a feature the model does not use',
  MODEL_NOT_FOUND: 'no registered model has that id or version',
  MODEL_INVALID_STORED: 'a stored model or model card cannot be read back',
  MODEL_INVALID_SPEC:
    'a risk-model spec (features, population, outcome, learner, card) does not follow its schema or names an undefined concept set',
  MODEL_INVALID_FEATURES:
    'a feature vector to score is not an object of numbers (or nulls) named by the model features',
  MODEL_PATIENT_NOT_FOUND: 'the patient to score is not in the data of this hub, or was not alive on the index date',
  MODEL_FEDERATION_REFUSED:
    'a hub refused a federated model round (too few contributing rows for disclosure control, or a bad request)',
  COHORT_INVALID_DEFINITION: 'a cohort definition does not follow the cohort schema, or its bounds are out of order',
  COHORT_UNKNOWN_CONCEPT_SET: 'a cohort rule names a concept set the definition does not define',
  COHORT_NOT_FOUND: 'no cohort has that id',
  OMOP_INVALID_TABLE: 'an OMOP CDM table is missing, lacks a required column, or has a malformed row',
  DISCLOSURE_INVALID_TABLE:
    'a table or summary given to disclosure control is malformed: ragged, negative or non-integer counts',
  DISCLOSURE_REFUSED:
    'a release was refused by a disclosure rule (too few contributors, dominance …); the refusal names the rule and no number',
  DISCLOSURE_UNGATED:
    'an answer to a principal without row-level rights, or to a peer, held a value that did not pass the release gate',
  DISCLOSURE_DIFFERENCING:
    'a release was refused: with an earlier related release it would let a suppressed count be recovered by subtraction',
  FEDERATION_NO_IDENTITY: 'the hub has no Ed25519 identity key',
  FEDERATION_INVALID_PEERS: 'the peers file or a peer entry is malformed (name, URL or public key)',
  FEDERATION_UNKNOWN_PEER: 'no peer of that name is in the peers file',
  FEDERATION_MISSING_SIGNATURE: 'a hub-to-hub request or response carries no signature',
  FEDERATION_BAD_SIGNATURE: 'a hub-to-hub signature does not verify, or its signed fields do not match the message',
  FEDERATION_UNKNOWN_SIGNER: 'a hub-to-hub request is signed by a hub that is not in the peers file',
  FEDERATION_STALE_REQUEST: "a signed request's timestamp is further from this hub's clock than the allowed skew",
  FEDERATION_REPLAY: 'a signed request reuses a nonce this hub has already accepted',
  FEDERATION_UNKNOWN_OPERATION: 'no federation operation of that name is registered on this hub',
  FEDERATION_PEER_FAILED: 'a peer did not answer within the timeout, could not be reached, or answered with an error',
  LINKAGE_NOT_INITIALISED: 'no linkage service exists in the directory; run `healthmesh linkage init`',
  LINKAGE_ALREADY_INITIALISED: 'a linkage service already exists in the directory',
  LINKAGE_INVALID_KEY: 'a linkage key file is malformed or was issued for another hub',
  LINKAGE_INVALID_IDENTIFIER: 'a national identifier is not a well-formed resident registration number',
  LINKAGE_INVALID_SUBMISSION: 'a set of blinded linkage tokens is malformed',
  CONSENT_UNKNOWN_PURPOSE: 'a request names a purpose of use this hub does not know (see docs/consent.md)',
  CONSENT_REFUSED: "the person's consent refuses the purpose the request was made for, so their data is not used",
  CONSOLE_NOT_BUILT: 'the web console has not been built (`npm run build:web`), so the hub cannot serve it',
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
