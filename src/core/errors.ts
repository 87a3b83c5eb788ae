/**
 * What kind of fault an error is: who can fix it, and so the HTTP status and CLI exit code it gets. Kept small: a
 * kind exists only where a caller acts differently on it.
 * - `input`: the request or the files given are wrong; fix them.
 * - `unauthenticated`: no credential, or one this hub does not accept (a token, a peer's signature).
 * - `forbidden`: the caller is known but may not have this (role, source, consent, a disclosure rule).
 * - `not-found`: what the request names does not exist here (a route, resource, model, cohort, hub directory).
 * - `conflict`: the hub's state does not allow it (already initialised, no identity key yet).
 * - `too-large`: a body, record or Bundle over a configured limit; split it (HTTP clients look for 413).
 * - `rate-limited`: more requests than the caller's configured rate; wait and retry (HTTP clients look for 429).
 * - `peer`: another hub failed or refused; not this hub's fault nor the caller's.
 * - `unavailable`: this hub cannot answer now (the store is held by another process, the console is not built).
 * - `internal`: a fault of this hub (a defect, damaged stored data).
 */
export type ErrorKind =
  | 'input'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'too-large'
  | 'rate-limited'
  | 'peer'
  | 'unavailable'
  | 'internal';

/** Every kind, in the order docs and tests list them. */
export const ERROR_KINDS: readonly ErrorKind[] = [
  'input',
  'unauthenticated',
  'forbidden',
  'not-found',
  'conflict',
  'too-large',
  'rate-limited',
  'peer',
  'unavailable',
  'internal',
];

/**
 * Stable error codes, each declared once with its kind and what it means. Tests assert on codes, never on message
 * text; `docs/errors.md` lists every code with its kind (a test keeps the two in step).
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { kind: 'input', text: 'the hub configuration file is missing a field or has a wrong value' },
  HUB_NOT_INITIALISED: { kind: 'not-found', text: 'no hub exists in the data directory; run `healthmesh init`' },
  HUB_ALREADY_INITIALISED: { kind: 'conflict', text: 'a hub already exists in the data directory' },
  HUB_DERIVED_STALE: {
    kind: 'unavailable',
    text: 'derived data (analytic tables, event index, consent decisions) lags the store after a failed refresh; readers refuse until it is refreshed',
  },
  STORE_MIGRATION_FAILED: {
    kind: 'internal',
    text: 'a schema migration failed; the store was left at the previous version',
  },
  STORE_LOCKED: { kind: 'unavailable', text: 'another process holds the store open for writing' },
  STORE_UNAVAILABLE: { kind: 'unavailable', text: 'the database server of the store cannot be reached' },
  STORE_NODE_UNAVAILABLE: { kind: 'unavailable', text: 'a worker node of the distributed store cannot be reached' },
  STORE_NOT_DISTRIBUTED: { kind: 'conflict', text: 'a cluster command on a store that is not a Citus coordinator' },
  CLUSTER_INVALID_ARGUMENT: { kind: 'input', text: 'a worker address or shard transfer mode is malformed' },
  STORE_STAGING_INCOMPLETE: {
    kind: 'internal',
    text: 'the staged files of a bulk write batch lack rows the batch needs; nothing of it was stored',
  },
  STORE_CONTENT_NOT_ONE_LINE: {
    kind: 'internal',
    text: 'a resource body handed to the store is not single-line JSON; nothing of its batch was stored',
  },
  INGEST_INVALID_JSON: { kind: 'input', text: 'a record is not valid JSON' },
  INGEST_EMPTY_FILE: { kind: 'input', text: 'an input file holds no records' },
  INGEST_NOT_A_RESOURCE: { kind: 'input', text: 'a record is not a JSON object with a resourceType' },
  INGEST_RECORD_TOO_LARGE: { kind: 'too-large', text: 'a record exceeds the size limit' },
  INGEST_BINARY_INPUT: { kind: 'input', text: 'an input file is not UTF-8 text' },
  INGEST_UNREADABLE: { kind: 'input', text: 'an input path cannot be read' },
  INGEST_DUPLICATE_ENTRY: {
    kind: 'input',
    text: 'the same resource appears twice in one bundle with different content',
  },
  INGEST_UNRESOLVED_REFERENCE: { kind: 'input', text: 'a reference points to nothing in the bundle or the store' },
  INGEST_BUNDLE_ENTRY: { kind: 'input', text: 'a bundle entry is malformed or uses an unsupported request' },
  INGEST_TRANSACTION_FAILED: {
    kind: 'input',
    text: 'an entry of a transaction bundle failed, so the whole bundle was rolled back',
  },
  INGEST_BUNDLE_TOO_LARGE: {
    kind: 'too-large',
    text: 'a Bundle posted to the API has more entries than ingest.maxBundleEntries; nothing of it was stored',
  },
  FHIR_UNKNOWN_RESOURCE_TYPE: { kind: 'input', text: 'resourceType is not an R4 resource' },
  FHIR_UNKNOWN_ELEMENT: { kind: 'input', text: 'an element is not defined for its type' },
  FHIR_REQUIRED: { kind: 'input', text: 'a required element is missing' },
  FHIR_CARDINALITY: {
    kind: 'input',
    text: 'an element repeats where it must not, or is not an array where it must be',
  },
  FHIR_PRIMITIVE: { kind: 'input', text: 'a primitive value has the wrong JSON type or format' },
  FHIR_REFERENCE_SYNTAX: {
    kind: 'input',
    text: 'a reference is not a valid relative, absolute, contained or urn reference',
  },
  FHIR_STRUCTURE: { kind: 'input', text: 'a complex value is not a JSON object, or is empty' },
  AUTH_MISSING_TOKEN: { kind: 'unauthenticated', text: 'the request carries no bearer token' },
  AUTH_INVALID_TOKEN: { kind: 'unauthenticated', text: 'the bearer token is not known to this hub' },
  AUTH_SESSION_EXPIRED: {
    kind: 'unauthenticated',
    text: 'the session token has expired (refresh it with the refresh token, or sign in again)',
  },
  AUTH_SIGN_IN_FAILED: { kind: 'unauthenticated', text: 'the sign-in name or password is wrong' },
  AUTH_ACCOUNT_LOCKED: {
    kind: 'unauthenticated',
    text: 'too many failed sign-ins in a row: the sign-in name is locked for auth.lockoutMinutes or until an admin unlocks it',
  },
  AUTH_ACCOUNT_DISABLED: { kind: 'unauthenticated', text: 'the account was disabled by an admin' },
  AUTH_OIDC_FAILED: {
    kind: 'unauthenticated',
    text: "sign-in through the hospital's OpenID Provider failed (state, nonce, code or token refused)",
  },
  AUDIT_CHAIN_BROKEN: { kind: 'internal', text: 'an audit entry was edited, deleted or reordered' },
  API_NOT_FOUND: { kind: 'not-found', text: 'the resource or route does not exist' },
  API_BAD_REQUEST: { kind: 'input', text: 'a request parameter is invalid' },
  API_BODY_TOO_LARGE: {
    kind: 'too-large',
    text: 'a request body exceeds the size limit of its route (server.maxBodyBytes, federation.maxBodyBytes)',
  },
  API_RATE_LIMITED: {
    kind: 'rate-limited',
    text: 'a token sent more requests than server.rateLimitPerMinute allows, or a client more sign-ins than auth.signInPerMinute; retry after the time the answer names',
  },
  API_NOT_SUPPORTED: { kind: 'input', text: 'the operation or search parameter is not supported' },
  EXPORT_UNKNOWN_JOB: { kind: 'not-found', text: 'no export job has that id' },
  SYNTH_INVALID_OPTION: { kind: 'input', text: 'a synthetic-population option is missing or out of range' },
  SURVEILLANCE_CSV_HEADER: { kind: 'input', text: 'a target-data or model-output CSV lacks a required column' },
  SURVEILLANCE_BAD_DATE: {
    kind: 'input',
    text: 'a date is not a valid YYYY-MM-DD date, or not on the weekly grid of its series',
  },
  SURVEILLANCE_BAD_VALUE: { kind: 'input', text: 'a count or quantile value is missing or not a finite number' },
  SURVEILLANCE_NEGATIVE_COUNT: { kind: 'input', text: 'a weekly count is negative' },
  SURVEILLANCE_DUPLICATE_WEEK: { kind: 'input', text: 'a location has two rows for the same week' },
  SURVEILLANCE_GAP: { kind: 'input', text: 'a location has a missing week between its first and last week' },
  SURVEILLANCE_SHORT_HISTORY: { kind: 'input', text: 'a location has too few weeks of history to forecast from' },
  SURVEILLANCE_BAD_FORECAST: {
    kind: 'input',
    text: 'a quantile forecast is malformed: wrong levels, horizon or order',
  },
  SURVEILLANCE_NO_COMMON_FORECASTS: {
    kind: 'input',
    text: 'two models share no scored forecast, so a relative score is undefined',
  },
  SURVEILLANCE_SUPPRESSED_WEEK: {
    kind: 'input',
    text: 'a released series holds a week suppressed by disclosure control and the forecast was asked to refuse them',
  },
  SURVEILLANCE_BAD_RELEASED_SERIES: {
    kind: 'peer',
    text: "a hub's released weekly series is malformed (lengths, values or policy)",
  },
  SURVEILLANCE_BAD_THRESHOLD: {
    kind: 'input',
    text: 'an epidemic alert threshold or its quantile level cannot be applied to the forecasts',
  },
  VIEW_INVALID: {
    kind: 'input',
    text: 'a ViewDefinition is malformed: a required element is missing or has the wrong shape',
  },
  VIEW_INVALID_PATH: { kind: 'input', text: 'a FHIRPath expression of a ViewDefinition does not parse' },
  VIEW_UNKNOWN_CONSTANT: {
    kind: 'input',
    text: 'a FHIRPath expression uses a %constant the ViewDefinition does not declare',
  },
  VIEW_UNION_MISMATCH: {
    kind: 'input',
    text: 'the branches of a unionAll do not give the same columns in the same order',
  },
  VIEW_WHERE_NOT_BOOLEAN: {
    kind: 'input',
    text: 'a where path of a ViewDefinition gave a value that is not a boolean',
  },
  VIEW_COLLECTION_VALUE: {
    kind: 'input',
    text: 'a column without collection: true gave more than one value for a row',
  },
  VIEW_EVALUATION: { kind: 'input', text: 'a FHIRPath expression failed while a view was being evaluated' },
  VIEW_UNKNOWN: { kind: 'not-found', text: 'no built-in view has that name' },
  AUTH_FORBIDDEN: { kind: 'forbidden', text: 'the token is valid but its role may not use this operation' },
  AUTH_INVALID_ROLE: { kind: 'input', text: 'a token was asked for with a role the hub does not know' },
  ACCOUNT_INVALID: {
    kind: 'input',
    text: 'an account was asked for with a bad handle, sign-in name, role or a password shorter than auth.minPasswordLength',
  },
  ACCOUNT_EXISTS: { kind: 'conflict', text: 'an account with that handle or sign-in name exists already' },
  ACCOUNT_UNKNOWN: { kind: 'not-found', text: 'no account has that id or handle' },
  AUTH_OIDC_NOT_CONFIGURED: { kind: 'not-found', text: 'this hub has no OpenID Provider configured (auth.oidc)' },
  AUTH_SOURCE_FORBIDDEN: {
    kind: 'forbidden',
    text: 'the token may not write records under the source the request names',
  },
  INGEST_INVALID_SOURCE: {
    kind: 'input',
    text: "a source name is not an identifier-like name (lower-case letters, digits, '.', '_', '-'; at most 63 characters)",
  },
  MODEL_EMPTY_DATA: { kind: 'input', text: 'a training or evaluation set has no rows' },
  MODEL_SHAPE_MISMATCH: {
    kind: 'input',
    text: 'a feature matrix, outcome or prediction vector has the wrong length or width',
  },
  MODEL_BAD_OUTCOME: { kind: 'input', text: 'an outcome value is not 0 or 1' },
  MODEL_TABLE_UNKNOWN_COLUMN: {
    kind: 'input',
    text: 'a model table has no column of the name given as outcome or feature',
  },
  MODEL_TABLE_BAD_VALUE: {
    kind: 'input',
    text: 'a predictor cell of a model table is not a number (named by file, line and column)',
  },
  MODEL_SINGLE_CLASS: { kind: 'input', text: 'the outcome has only one class, so no model or AUROC can be estimated' },
  MODEL_INVALID_OPTION: { kind: 'input', text: 'a learner, split or evaluation option is out of range' },
  MODEL_MISSING_VALUE: {
    kind: 'input',
    text: 'a feature value is missing (NaN) where the learner needs complete cases',
  },
  MODEL_NOT_FINITE: { kind: 'input', text: 'a feature value is infinite' },
  MODEL_ALL_MISSING_FEATURE: { kind: 'input', text: 'a feature is missing in every row' },
  MODEL_CONSTANT_FEATURE: {
    kind: 'input',
    text: 'a feature has one value in every row, so its coefficient is not identified',
  },
  MODEL_COLLINEAR: { kind: 'input', text: 'features are linearly dependent, so the coefficients are not identified' },
  MODEL_SEPARATION: {
    kind: 'input',
    text: 'the outcome is perfectly separated by the features, so the maximum-likelihood estimate is infinite',
  },
  MODEL_NOT_CONVERGED: { kind: 'input', text: 'the fit did not converge within the iteration limit' },
  MODEL_BAD_TIME: { kind: 'input', text: 'a follow-up time is missing, infinite or negative' },
  MODEL_NO_EVENTS: {
    kind: 'input',
    text: 'no row has the event, so a time-to-event model has nothing to estimate',
  },
  MODEL_INVALID_CARD: {
    kind: 'input',
    text: 'a model card lacks a required field or describes a feature the model does not use',
  },
  MODEL_NOT_FOUND: { kind: 'not-found', text: 'no registered model has that id or version' },
  MODEL_NOT_SERVING: {
    kind: 'conflict',
    text: 'the model version is withdrawn from service, or no version is in service',
  },
  MODEL_RECALLED: { kind: 'conflict', text: 'the model version was recalled: it serves no more predictions' },
  MODEL_PROJECT_MISMATCH: {
    kind: 'conflict',
    text: 'a model id belongs to one project (or to none): a new version cannot move it in or out',
  },
  MODEL_INVALID_STORED: { kind: 'internal', text: 'a stored model or model card cannot be read back' },
  MODEL_INVALID_SPEC: {
    kind: 'input',
    text: 'a risk-model spec (features, population, outcome, learner, card) does not follow its schema or names an undefined concept set',
  },
  MODEL_INVALID_FEATURES: {
    kind: 'input',
    text: 'a feature vector to score is not an object of numbers (or nulls) named by the model features',
  },
  MODEL_PATIENT_NOT_FOUND: {
    kind: 'not-found',
    text: 'the patient to score is not in the data of this hub, or was not alive on the index date',
  },
  MODEL_NO_PROJECT: {
    kind: 'input',
    text: 'a federated model fit names no project: a hub answers its rounds only inside a project it approved',
  },
  MODEL_FEDERATION_REFUSED: {
    kind: 'peer',
    text: 'a hub refused a federated model round (too few contributing rows for disclosure control, or a bad request)',
  },
  VALIDATION_INVALID_MANIFEST: {
    kind: 'input',
    text: 'a model validation manifest does not follow its schema (docs/validation-manifest.schema.json) or disagrees with its feature spec',
  },
  VALIDATION_MODEL_TOO_LARGE: {
    kind: 'too-large',
    text: 'a submitted model, or the input it would be run on, is over the limit',
  },
  VALIDATION_MODEL_INVALID: { kind: 'input', text: 'a submitted model is not an ONNX model onnxruntime can load' },
  VALIDATION_MODEL_SIGNATURE: {
    kind: 'input',
    text: "a submitted model does not take the manifest's input (name, type, shape) or give its output",
  },
  VALIDATION_MODEL_OUTPUT: {
    kind: 'input',
    text: 'a submitted model gave an output that is not a probability in [0, 1] per row (NaN, out of range, wrong shape)',
  },
  VALIDATION_MODEL_TIMEOUT: { kind: 'input', text: 'a submitted model ran past the time limit of its sandbox' },
  VALIDATION_MODEL_CRASHED: {
    kind: 'input',
    text: "a submitted model's sandbox process died (its memory limit, or a fault in the runtime)",
  },
  VALIDATION_NOT_FOUND: { kind: 'not-found', text: 'no model submission has that id, or it has no report yet' },
  VALIDATION_REPORT_INVALID: {
    kind: 'input',
    text: 'a signed validation report does not verify against the key given (changed, or signed by another key)',
  },
  VALIDATION_IN_PROGRESS: { kind: 'conflict', text: 'the submission is being validated already' },
  VALIDATION_NOT_SERVING: {
    kind: 'conflict',
    text: 'the model version is not in a state that allows this: only a validated version is approved, only an approved one serves',
  },
  VALIDATION_RECALLED: { kind: 'conflict', text: 'the model version was recalled: it serves no more predictions' },
  VALIDATION_INVALID_INPUT: { kind: 'input', text: "a prediction's features do not match the model's manifest" },
  VALIDATION_PDF_UNAVAILABLE: {
    kind: 'unavailable',
    text: 'the hub cannot print the report as PDF: no system chromium, or it failed to print',
  },
  VALIDATION_NO_PROJECT: {
    kind: 'input',
    text: 'a model submission, or a validation asked of another hub, names no project: validation runs only inside an approved project',
  },
  VALIDATION_ROUND_REFUSED: {
    kind: 'peer',
    text: 'a hub refused a pooled calibration round (no scores kept for that session, its round budget spent, or a cut rather than a fit step)',
  },
  COHORT_INVALID_DEFINITION: {
    kind: 'input',
    text: 'a cohort definition does not follow the cohort schema, or its bounds are out of order',
  },
  COHORT_UNKNOWN_CONCEPT_SET: {
    kind: 'input',
    text: 'a cohort rule names a concept set the definition does not define',
  },
  COHORT_NOT_FOUND: { kind: 'not-found', text: 'no cohort has that id' },
  OMOP_INVALID_TABLE: {
    kind: 'input',
    text: 'an OMOP CDM table is missing, lacks a required column, or has a malformed row',
  },
  DISCLOSURE_INVALID_TABLE: {
    kind: 'internal',
    text: 'a table or summary given to disclosure control is malformed: ragged, negative or non-integer counts',
  },
  DISCLOSURE_REFUSED: {
    kind: 'forbidden',
    text: 'a release was refused by a disclosure rule (too few contributors, dominance …); the refusal names the rule and no number',
  },
  DISCLOSURE_UNGATED: {
    kind: 'internal',
    text: 'an answer to a principal without row-level rights, or to a peer, held a value that did not pass the release gate',
  },
  DISCLOSURE_DIFFERENCING: {
    kind: 'forbidden',
    text: 'a release was refused: with an earlier related release it would let a suppressed count be recovered by subtraction',
  },
  MYDATA_INVALID_REQUEST: { kind: 'input', text: "a request about a citizen's records is malformed" },
  MYDATA_CODE_INVALID: {
    kind: 'input',
    text: 'an enrolment code is not valid here: mistyped, used already or expired (one answer for all three)',
  },
  MYDATA_ENROL_LOCKED: {
    kind: 'rate-limited',
    text: 'too many wrong enrolment codes from this account: further tries wait until the lock passes',
  },
  MYDATA_GRANT_NOT_FOUND: { kind: 'not-found', text: 'the citizen has no app grant with that id' },
  MYDATA_LINK_MISMATCH: {
    kind: 'forbidden',
    text: "a peer's enrolment code is for another person than the citizen: their linkage tokens differ (the code stays unused)",
  },
  MYDATA_NO_RECORD: {
    kind: 'conflict',
    text: 'no record is linked to this citizen account yet: enrol with a code first',
  },
  MYDATA_PEER_FAILED: {
    kind: 'peer',
    text: "the peer hub holding a citizen's record could not be reached or answered out of protocol",
  },
  MYDATA_REACH_INVALID: { kind: 'input', text: "a peer's request to carry a citizen's consent choice is malformed" },
  MYDATA_REACH_NO_LINKAGE: {
    kind: 'conflict',
    text: "this hub holds no linkage key, so a citizen's choice made at another hub cannot find their records here",
  },
  MYDATA_RECORD_TOO_LARGE: { kind: 'too-large', text: "a citizen's record holds more resources than one download may" },
  PROJECT_TABULATION_INVALID: {
    kind: 'input',
    text: 'a workspace tabulation names a column its view lacks, or a column with more categories than a tabulation may have',
  },
  OUTPUT_INVALID: {
    kind: 'input',
    text: 'a requested output is malformed: a ragged table, bad base64, an image not of its type',
  },
  OUTPUT_REFUSED: {
    kind: 'forbidden',
    text: "a requested output failed the release gate's automatic check; the refusal names the rule and no number",
  },
  OUTPUT_NOT_FOUND: { kind: 'not-found', text: 'no output request has that id in this hub' },
  OUTPUT_ALREADY_DECIDED: { kind: 'conflict', text: 'the output was released or denied already' },
  OUTPUT_NOT_RELEASED: {
    kind: 'conflict',
    text: 'the output is waiting for review or was denied, so it cannot be downloaded',
  },
  FEDERATION_NO_IDENTITY: { kind: 'conflict', text: 'the hub has no Ed25519 identity key' },
  FEDERATION_INVALID_PEERS: {
    kind: 'input',
    text: 'the peers file or a peer entry is malformed (name, URL or public key)',
  },
  FEDERATION_UNKNOWN_PEER: { kind: 'not-found', text: 'no peer of that name is in the peers file' },
  FEDERATION_MISSING_SIGNATURE: {
    kind: 'unauthenticated',
    text: 'a hub-to-hub request or response carries no signature',
  },
  FEDERATION_BAD_SIGNATURE: {
    kind: 'unauthenticated',
    text: 'a hub-to-hub signature does not verify, or its signed fields do not match the message',
  },
  FEDERATION_UNKNOWN_SIGNER: {
    kind: 'unauthenticated',
    text: 'a hub-to-hub request is signed by a hub that is not in the peers file',
  },
  FEDERATION_STALE_REQUEST: {
    kind: 'unauthenticated',
    text: "a signed request's timestamp is further from this hub's clock than the allowed skew",
  },
  FEDERATION_REPLAY: { kind: 'unauthenticated', text: 'a signed request reuses a nonce this hub has already accepted' },
  FEDERATION_UNKNOWN_OPERATION: {
    kind: 'not-found',
    text: 'no federation operation of that name is registered on this hub',
  },
  FEDERATION_PEER_FAILED: {
    kind: 'peer',
    text: 'a peer did not answer within the timeout, could not be reached, or answered with an error',
  },
  FEDERATION_BAD_FIGURES: {
    kind: 'peer',
    text: "a peer's signed answer failed this hub's check of its figures (shape, finite numbers, counts its policy releases)",
  },
  LINKAGE_NOT_INITIALISED: {
    kind: 'not-found',
    text: 'no linkage service exists in the directory; run `healthmesh linkage init`',
  },
  LINKAGE_ALREADY_INITIALISED: { kind: 'conflict', text: 'a linkage service already exists in the directory' },
  LINKAGE_INVALID_KEY: { kind: 'input', text: 'a linkage key file is malformed or was issued for another hub' },
  LINKAGE_INVALID_IDENTIFIER: {
    kind: 'input',
    text: 'a national identifier is not a well-formed resident registration number',
  },
  LINKAGE_INVALID_SUBMISSION: { kind: 'input', text: 'a set of blinded linkage tokens is malformed' },
  CONSENT_UNKNOWN_PURPOSE: {
    kind: 'input',
    text: 'a request names a purpose of use this hub does not know (see docs/consent.md)',
  },
  CONSENT_REFUSED: {
    kind: 'forbidden',
    text: "the person's consent refuses the purpose the request was made for, so their data is not used",
  },
  PROJECT_INVALID_APPLICATION: {
    kind: 'input',
    text: 'a project application or review is missing a field or has a wrong value (the field is named)',
  },
  PROJECT_NOT_FOUND: { kind: 'not-found', text: 'no project of that id is visible to the caller on this hub' },
  PROJECT_ALREADY_DECIDED: {
    kind: 'conflict',
    text: 'this hub has already decided the project; a decision is not changed',
  },
  PROJECT_NOT_APPROVED: {
    kind: 'forbidden',
    text: 'the project is pending or denied at this hub, or at a hub the work names',
  },
  PROJECT_EXPIRED: { kind: 'forbidden', text: 'the project is past its end date: its access ended by itself' },
  PROJECT_NOT_MEMBER: {
    kind: 'forbidden',
    text: 'the caller is not a member of the project (never added, or removed)',
  },
  PROJECT_OUT_OF_SCOPE: {
    kind: 'forbidden',
    text: "a table, variable or purpose the work asks for is outside the project's approved scope",
  },
  CONSOLE_NOT_BUILT: {
    kind: 'unavailable',
    text: 'the web console has not been built (`npm run build:web`), so the hub cannot serve it',
  },
  INTERNAL: { kind: 'internal', text: 'an unexpected internal fault' },
} as const satisfies Record<string, { kind: ErrorKind; text: string }>;

/** A declared code: the constructor of `HealthmeshError` takes nothing else, so an unknown code does not compile. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The kind a code was declared with; a code that slipped past the types (a cast message from a worker) is ours. */
export function kindOf(code: ErrorCode): ErrorKind {
  return (ERROR_CODES as Record<string, { kind: ErrorKind } | undefined>)[code]?.kind ?? 'internal';
}

/** The HTTP status of a kind: the server's only mapping from errors to statuses. */
export function httpStatusOf(kind: ErrorKind): number {
  switch (kind) {
    case 'input':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
      return 403;
    case 'not-found':
      return 404;
    case 'conflict':
      return 409;
    case 'too-large':
      return 413;
    case 'rate-limited':
      return 429;
    case 'peer':
      return 502;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
  }
}

/**
 * The CLI exit code of a kind (README, "Exit codes"): 1 when the caller can fix the command, 2 for a fault of
 * healthmesh, 3 when another party or process is in the way, so a script may retry later.
 */
export function exitCodeOf(kind: ErrorKind): 1 | 2 | 3 {
  switch (kind) {
    case 'input':
    case 'unauthenticated':
    case 'forbidden':
    case 'not-found':
    case 'conflict':
    case 'too-large':
    case 'rate-limited':
      return 1;
    case 'peer':
    case 'unavailable':
      return 3;
    case 'internal':
      return 2;
  }
}

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
  /** The kind the code was declared with (`ERROR_CODES`). */
  readonly kind: ErrorKind;

  constructor(code: ErrorCode, message: string, location: FaultLocation = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HealthmeshError';
    this.code = code;
    this.location = location;
    this.kind = kindOf(code);
  }
}

export function isHealthmeshError(e: unknown): e is HealthmeshError {
  return e instanceof HealthmeshError;
}
