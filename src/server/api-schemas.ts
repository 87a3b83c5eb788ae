import type { Static, TSchema } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';

/**
 * The API's request schemas, and the response schemas of the console's own routes: Fastify validates requests with
 * them, handlers take their types, `/openapi.json` publishes them, and the console (web/) types its calls with them.
 * This file imports nothing but TypeBox, so the browser bundle can take its types.
 *
 * FHIR bodies stay loose (an object with the few elements the route dispatches on): the FHIR validator and the
 * route check the rest, with the FHIR error codes clients know.
 */

const Text = (description: string, options: { minLength?: number; maxLength?: number; pattern?: string } = {}) =>
  Type.String({ description, ...options });
const Day = (description: string) => Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description });
const Purpose = Text('purpose of use (docs/consent.md)', { minLength: 1, maxLength: 100 });
const HubNames = Type.Array(Text('hub name', { minLength: 1, maxLength: 100 }), {
  minItems: 1,
  description: 'the hubs to ask, this one included when named',
});
/** A FHIR resource body: an object; its content is checked by the FHIR validator, not here. */
const Resource = (resourceType: string, dispatch: Record<string, TSchema> = {}) =>
  Type.Object({ resourceType: Type.Literal(resourceType), ...dispatch }, { description: `a FHIR ${resourceType}` });

// --- FHIR ----------------------------------------------------------------------------------------------------------

export const ResourceTypeParams = Type.Object({ type: Text('an R4 resource type') });
export const ResourceParams = Type.Object({ type: Text('an R4 resource type'), id: Text('the resource id') });
export const VersionParams = Type.Object({
  type: Text('an R4 resource type'),
  id: Text('the resource id'),
  vid: Text('the version number'),
});
/** Search takes every parameter of the type's CapabilityStatement entry; only the paging ones are typed here. */
export const SearchParamsQuery = Type.Object(
  {
    _count: Type.Optional(Type.String({ pattern: '^\\d+$', description: 'page size, a non-negative integer' })),
    _offset: Type.Optional(Type.String({ pattern: '^\\d+$', description: 'entries to skip, a non-negative integer' })),
  },
  { additionalProperties: true },
);
export const TransactionBody = Resource('Bundle', {
  type: Type.Union([Type.Literal('transaction'), Type.Literal('batch')], { description: 'transaction or batch' }),
});
export const SourceQuery = Type.Object({
  source: Type.Optional(Text('the source system the records come from (else X-Healthmesh-Source, else the default)')),
});
export const ViewRunQuery = Type.Object({ _format: Type.Optional(Text('json, ndjson, csv (or a media type)')) });
export const ViewRunBody = Resource('Parameters', {
  parameter: Type.Array(Type.Object({ name: Text('the parameter name') }), {
    description: 'viewResource or viewReference, resource, _format, header, _limit, patient, _since, purpose',
  }),
});
export const ExportQuery = Type.Object({
  _type: Type.Optional(Text('comma-separated resource types')),
  _since: Type.Optional(Text('a FHIR instant: only resources stored since')),
  _outputFormat: Type.Optional(Text('application/fhir+ndjson')),
  purpose: Type.Optional(Purpose),
});
export const ExportJobParams = Type.Object({ job: Text('the export job id') });
export const ExportFileParams = Type.Object({ job: Text('the export job id'), file: Text('the file name') });

// --- cohorts, models, surveillance -----------------------------------------------------------------------------

export const CohortRunBody = Type.Object({
  definition: Type.Unknown({ description: 'a cohort definition (docs/cohort-language.md)' }),
  hubs: Type.Optional(HubNames),
  purpose: Type.Optional(Purpose),
});
export type CohortRunBody = Static<typeof CohortRunBody>;

export const CohortSurvivalBody = Type.Object({
  definition: Type.Unknown({ description: 'the cohort definition (docs/cohort-language.md)' }),
  outcome: Type.Unknown({ description: "the outcome cohort's definition: time from entry to its first start" }),
  purpose: Type.Optional(Purpose),
  stepDays: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 3650, description: 'days between the times the curve is read at (365)' }),
  ),
});
export type CohortSurvivalBody = Static<typeof CohortSurvivalBody>;

export const FederatedTrainBody = Type.Object({
  spec: Type.Unknown({ description: 'a training spec (docs/models.md) with a logistic learner' }),
  hubs: HubNames,
  project: Text('the approved project the fit runs in (every hub checks it at every round)', {
    minLength: 1,
    maxLength: 100,
  }),
  purpose: Type.Optional(Purpose),
});
export type FederatedTrainBody = Static<typeof FederatedTrainBody>;

export const ModelParams = Type.Object({ id: Text('the model id') });
export const ModelQuery = Type.Object({
  version: Type.Optional(Type.Integer({ minimum: 1, maximum: 999_999_999, description: 'a version number' })),
});
export const ModelVersionParams = Type.Object({
  id: Text('the model id'),
  version: Type.Integer({ minimum: 1, maximum: 999_999_999, description: 'a version number' }),
});
export const ModelStatusBody = Type.Object(
  {
    status: Type.Union([Type.Literal('serving'), Type.Literal('withdrawn'), Type.Literal('recalled')], {
      description: 'serving answers predictions; withdrawn stops until it serves again; recalled stops for good',
    }),
    reason: Type.Optional(Text('why (required for a recall)', { minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type ModelStatusBody = Static<typeof ModelStatusBody>;
export const PredictBody = Type.Object(
  {
    patient: Type.Optional(Text('a patient key of this hub (row-level roles)', { minLength: 1, maxLength: 200 })),
    indexDate: Type.Optional(Day('the index date, YYYY-MM-DD (default today)')),
    // Checked against the model's features by the models module (MODEL_INVALID_FEATURES names the feature).
    features: Type.Optional(Type.Unknown({ description: 'feature values by name: numbers, or null for missing' })),
    purpose: Type.Optional(Purpose),
    version: Type.Optional(Type.Integer({ minimum: 1, description: 'a model version (default the latest)' })),
  },
  { additionalProperties: false },
);
export type PredictBody = Static<typeof PredictBody>;

// --- model validation (docs/validation.md) ---------------------------------------------------------------------------

export const SubmitModelBody = Type.Object(
  {
    // Checked by the validation module against docs/validation-manifest.schema.json (errors name the field).
    manifest: Type.Unknown({ description: 'the validation manifest (docs/validation-manifest.schema.json)' }),
    model: Type.String({ description: 'the ONNX model file, base64', minLength: 1 }),
  },
  { additionalProperties: false },
);
export type SubmitModelBody = Static<typeof SubmitModelBody>;
export const SubmissionParams = Type.Object({
  id: Text('a submission id', { minLength: 1, maxLength: 100 }),
});
export const ReportQuery = Type.Object({
  format: Type.Optional(
    Type.Union([Type.Literal('json'), Type.Literal('jws'), Type.Literal('html'), Type.Literal('pdf')], {
      description:
        "json (default), the signed file (jws), a self-contained page (html) or that page as PDF naming the signed file's SHA-256 (pdf)",
    }),
  ),
});
export const VerifyReportBody = Type.Object(
  { jws: Type.String({ description: 'a signed validation report (compact JWS)', minLength: 1 }) },
  { additionalProperties: false },
);

export const ForecastListQuery = Type.Object({
  location: Type.Optional(Text('a location code')),
  reference_date: Type.Optional(Day('the reference date, YYYY-MM-DD')),
  model: Type.Optional(Text('a forecaster name')),
  target: Type.Optional(Text('a FluSight target')),
});
export const FederatedSeriesBody = Type.Object({
  hubs: HubNames,
  through: Type.Optional(Day('the last week end to gather, YYYY-MM-DD')),
});
export const FederatedForecastBody = Type.Object({
  hubs: HubNames,
  target: Type.Optional(
    Type.Union([Type.Literal('ili'), Type.Literal('confirmed')], { description: 'ili or confirmed' }),
  ),
  reference_date: Type.Optional(Day('the reference date, YYYY-MM-DD')),
  model: Type.Optional(Text('a forecaster name (default ensemble)')),
  suppressed_weeks: Type.Optional(
    Type.Union([Type.Literal('midpoint'), Type.Literal('refuse')], { description: 'midpoint or refuse' }),
  ),
});

const MissingWeeks = Type.Union([Type.Literal('refuse'), Type.Literal('interpolate'), Type.Literal('restart')], {
  description: 'NA rows and missing weeks: refuse, interpolate (default) or restart (docs/surveillance.md)',
});
export const SeasonForecastBody = Type.Object({
  target_data: Text('hubverse target-data CSV text: the rounds, and the data when no snapshots are sent', {
    minLength: 1,
  }),
  snapshots: Type.Optional(
    Type.Array(
      Type.Object({
        as_of: Day('the date the snapshot stood on, YYYY-MM-DD'),
        target_data: Text('the target-data CSV text as it stood then', { minLength: 1 }),
      }),
      { description: 'dated snapshots: each round reads the latest one dated before it' },
    ),
  ),
  from: Type.Optional(Day('the first reference date (default: the season of the last data week)')),
  to: Type.Optional(Day('the last reference date (default: the week after the last data week)')),
  missing: Type.Optional(MissingWeeks),
  models: Type.Optional(
    Type.Array(Type.Union([Type.Literal('ensemble'), Type.Literal('baseline')]), {
      minItems: 1,
      maxItems: 2,
      description: 'ensemble (default) and/or baseline',
    }),
  ),
});

// --- the console's routes ----------------------------------------------------------------------------------------

export const CatalogParams = Type.Object({ view: Text('a built-in view name') });
export const CatalogQuery = Type.Object({
  hubs: Type.Optional(Text('peers whose catalogs to add, comma-separated', { minLength: 1, maxLength: 1000 })),
});
export const ConceptQuery = Type.Object({
  q: Text('text to look for in codes and names', { minLength: 2, maxLength: 100 }),
});
export const UploadQuery = Type.Object({
  name: Text('the file name: .json, .ndjson or .jsonl, optionally .gz', { maxLength: 200 }),
  source: Type.Optional(Text('the source system (empty: the default)')),
});
export type UploadQuery = Static<typeof UploadQuery>;

/** A count released by the gate: null when withheld. */
const Released = Type.Union([Type.Number(), Type.Null()]);

export const ConsolePolicy = Type.Object({
  disclosure: Type.Object({ threshold: Type.Number(), rounding: Type.Number(), minCellSize: Type.Number() }),
  hub: Type.Object({
    name: Type.String(),
    role: Type.String({ description: 'data, research or demonstration' }),
    services: Type.Array(Type.String(), { description: "what the hub's role offers beyond its records" }),
  }),
  you: Type.Object({ name: Type.String(), role: Type.String() }),
});
export type ConsolePolicy = Static<typeof ConsolePolicy>;

export const PeerHealth = Type.Object({
  peers: Type.Array(
    Type.Object({
      name: Type.String(),
      url: Type.String(),
      ok: Type.Boolean(),
      ms: Type.Number(),
      error: Type.Optional(Type.String({ description: "the peer's error code" })),
    }),
  ),
});
export type PeerHealth = Static<typeof PeerHealth>;

export const ObservedSeries = Type.Object({
  target: Type.String(),
  location: Type.String(),
  disclosureControlled: Type.Boolean({ description: 'true for roles without row-level access: small weeks null' }),
  weeks: Type.Array(Type.Object({ weekEnd: Type.String(), value: Released })),
});
export type ObservedSeries = Static<typeof ObservedSeries>;

const IngestCounts = Type.Object({
  created: Type.Integer(),
  updated: Type.Integer(),
  unchanged: Type.Integer(),
  rejected: Type.Integer(),
});
export const UploadResult = Type.Object({
  name: Type.String(),
  source: Type.String(),
  bytes: Type.Integer(),
  seconds: Type.Number(),
  byType: Type.Record(Type.String(), IngestCounts),
  totals: IngestCounts,
  rejects: Type.Array(
    Type.Object({
      file: Type.String(),
      line: Type.Optional(Type.Integer()),
      entry: Type.Optional(Type.Integer()),
      resourceType: Type.Optional(Type.String()),
      id: Type.Optional(Type.String()),
      code: Type.String({ description: 'an error code (docs/errors.md)' }),
      path: Type.Optional(Type.String()),
      message: Type.String(),
    }),
  ),
  rejectsShown: Type.Integer(),
});
export type UploadResult = Static<typeof UploadResult>;

// --- hub-to-hub and the console's files ------------------------------------------------------------------------

// --- projects (docs/projects.md) -------------------------------------------------------------------------------------

/** An application and a review are checked by the projects module, whose errors name the field (PROJECT_INVALID_APPLICATION). */
export const ProjectApplicationBody = Type.Unknown({
  description:
    'a project application: title, purpose, tables [{name, columns}], cohort?, endDate, members?, ethicsApproval, dataUseAgreement: true, hubs?',
});
export const ProjectReviewBody = Type.Unknown({
  description:
    'a review: decision (approve | approve-with-conditions | deny), comment, conditions?, tables? (narrowed)',
});
export const ProjectParams = Type.Object({ id: Text('the project id', { minLength: 1, maxLength: 40 }) });
export const ProjectMemberParams = Type.Object({
  id: Text('the project id', { minLength: 1, maxLength: 40 }),
  handle: Text('a member handle', { minLength: 1, maxLength: 100 }),
});
export const ProjectMemberBody = Type.Object({ handle: Text('a member handle', { minLength: 1, maxLength: 100 }) });
export type ProjectMemberBody = Static<typeof ProjectMemberBody>;

export const FederationParams = Type.Object({ operation: Text('a registered federation operation') });
export const AssetParams = Type.Object({ '*': Text('a file under the console build') });

// --- Accounts and sign-in (docs/accounts.md) ------------------------------------------------------------------------

const RoleName = Type.Union(
  ['admin', 'steward', 'researcher', 'developer', 'validator', 'citizen', 'service'].map((r) => Type.Literal(r)),
  { description: 'a role of the hub' },
);
export const LoginBody = Type.Object(
  {
    name: Text('the sign-in name (an email or a handle)', { minLength: 1, maxLength: 320 }),
    password: Text('the password', { minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export const RefreshBody = Type.Object(
  { refreshToken: Text('the refresh token of a session', { minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);
export const SessionAnswer = Type.Object({
  accessToken: Text('a session token: send it as Authorization: Bearer'),
  expiresAt: Text('when the session token expires (ISO time): refresh before'),
  refreshToken: Text('spent by its first use at POST /auth/refresh, which gives the next one'),
  refreshExpiresAt: Text('when the session ends (ISO time)'),
  account: Type.Optional(Type.Object({ id: Text('account id'), handle: Text('handle'), role: RoleName })),
});
export const Me = Type.Object({
  name: Text('the audit name: an account handle or a bearer token holder'),
  role: RoleName,
  account: Type.Union([Text('account id'), Type.Null()]),
  session: Type.Boolean({ description: 'signed in with a session (false: a bearer token)' }),
});
export const AuthOptions = Type.Object({
  oidc: Type.Boolean({ description: "whether the hub signs in through the hospital's OpenID Provider" }),
});
export const OidcCallbackQuery = Type.Object({}, { additionalProperties: true });
export const AccountView = Type.Object({
  id: Text('account id'),
  handle: Text('the name shown in audit, projects and the console'),
  role: RoleName,
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled'), Type.Literal('pending')], {
    description: 'pending: made by its own sign-up, waiting for an admin to make it active',
  }),
  password: Type.Boolean({ description: 'signs in with a password' }),
  oidc: Type.Boolean({ description: 'signs in through the OpenID Provider' }),
  lockedUntil: Type.Union([Text('until when its sign-in name is locked'), Type.Null()]),
  createdAt: Text('ISO time'),
  updatedAt: Text('ISO time'),
});
export const AccountList = Type.Array(AccountView);
export const AccountCreateBody = Type.Object(
  {
    handle: Text('an identifier: lower-case letters, digits, . _ -; not an email', { minLength: 1, maxLength: 63 }),
    role: RoleName,
    signInName: Type.Optional(Text('the name signed in with (default: the handle); stored only as a keyed hash')),
    password: Type.Optional(Text('at least auth.minPasswordLength characters', { maxLength: 1024 })),
  },
  { additionalProperties: false },
);
export const AccountParams = Type.Object({ id: Text('account id or handle') });
export const AccountPatchBody = Type.Object(
  {
    role: Type.Optional(RoleName),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled')])),
    unlock: Type.Optional(Type.Boolean({ description: 'end a lockout now' })),
    password: Type.Optional(Text('a new password (its holder is signed out everywhere)', { maxLength: 1024 })),
  },
  { additionalProperties: false, minProperties: 1 },
);
export const SignUpBody = Type.Object(
  {
    handle: Text('an identifier: lower-case letters, digits, . _ -; not an email', { minLength: 1, maxLength: 63 }),
    role: Type.Union([Type.Literal('researcher'), Type.Literal('developer')], {
      description: 'an applicant for projects; other roles are given by an admin',
    }),
    signInName: Type.Optional(Text('the name signed in with (default: the handle); stored only as a keyed hash')),
    password: Text('at least auth.minPasswordLength characters', { minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);
export const SignUpAnswer = Type.Object({
  handle: Text('the handle asked for'),
  role: RoleName,
  status: Type.Literal('pending', { description: 'it signs in once an admin approves it' }),
});
export type SignUp = Static<typeof SignUpBody>;
export type AccountCreate = Static<typeof AccountCreateBody>;
export type AccountPatch = Static<typeof AccountPatchBody>;

export const TokenView = Type.Object({
  name: Text("the holder's name, as the audit log shows it"),
  role: RoleName,
  sources: Type.Array(Text('a source a service token may write under')),
  createdAt: Text('ISO time'),
});
export const TokenList = Type.Array(TokenView);
export const TokenCreateBody = Type.Object(
  {
    name: Text("the holder's name: lower-case letters, digits, . _ -; never a person's name or email", {
      pattern: '^[a-z0-9][a-z0-9._-]{0,62}$',
    }),
    role: RoleName,
    sources: Type.Optional(Type.Array(Text('a source name', { maxLength: 63 }), { maxItems: 32 })),
  },
  { additionalProperties: false },
);
export type TokenCreate = Static<typeof TokenCreateBody>;
export const TokenCreated = Type.Object({
  name: Text("the holder's name"),
  role: RoleName,
  token: Text('the bearer token, shown only in this answer (the hub keeps its hash)'),
});
export const TokenParams = Type.Object({ name: Text("the holder's name", { maxLength: 63 }) });
export const TokenRevoked = Type.Object({
  name: Text("the holder's name"),
  revoked: Type.Integer({ description: 'how many of their tokens were revoked' }),
});
