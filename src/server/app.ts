import rateLimit from '@fastify/rate-limit';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Principal } from '../access/index.js';
import { mayReadRowLevel, needsToken } from '../access/index.js';
import { CohortFederation } from '../cohort/index.js';
import type { ErrorCode } from '../core/index.js';
import { HealthmeshError, isHealthmeshError } from '../core/index.js';
import type { Federation } from '../federation/index.js';
import { openFederation } from '../federation/index.js';
import type { Hub } from '../hub/index.js';
import { ModelFederation } from '../models/index.js';
import { ConsentReachFederation, PeerRecords } from '../mydata/index.js';
import type { Released } from '../privacy/index.js';
import { isReleased, scrubText } from '../privacy/index.js';
import { ProjectFederation } from '../projects/index.js';
import { SERIES_SCOPE, SeriesFederation } from '../surveillance/index.js';
import { VALIDATION_PURPOSE, ValidationFederation } from '../validation/index.js';
import { AnonymousRequests } from './anonymous-requests.js';
import { consoleAssets } from './console-assets.js';
import { validateInput } from './input-validation.js';
import { collectRoutes, openApiRoutes } from './openapi.js';
import { errorOutcome } from './operation-outcome.js';
import { allowOf, checkAllowed, checkOffered, requireDeclarations } from './route-access.js';
import { accountRoutes } from './routes/accounts.js';
import { authRoutes } from './routes/auth.js';
import { bundleRoutes } from './routes/bundle.js';
import { cohortRoutes } from './routes/cohorts.js';
import { consoleRoutes } from './routes/console.js';
import { consoleUploadRoutes } from './routes/console-upload.js';
import { exportRoutes } from './routes/export.js';
import { federationRoutes } from './routes/federation.js';
import { metadataRoutes } from './routes/metadata.js';
import { federatedTrainingRoutes } from './routes/model-federated.js';
import { modelPredictRoutes } from './routes/model-predict.js';
import { modelRoutes } from './routes/models.js';
import { mydataRoutes } from './routes/mydata.js';
import { outputRoutes } from './routes/outputs.js';
import { projectForecastRoutes } from './routes/project-forecasts.js';
import { projectModelRoutes } from './routes/project-models.js';
import { projectWorkRoutes } from './routes/project-work.js';
import { projectRoutes } from './routes/projects.js';
import { readRoutes } from './routes/read.js';
import { searchRoutes } from './routes/search.js';
import { surveillanceRoutes } from './routes/surveillance.js';
import { tokenRoutes } from './routes/tokens.js';
import { validationRoutes } from './routes/validation.js';
import { viewRoutes } from './routes/views.js';

declare module 'fastify' {
  interface FastifyReply {
    /** The handler answered with a value the release gate built (`Released`), or sent gated text. */
    gated?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
    /** What the route did, for the audit entry written when the response is sent. */
    auditAction?: { action: string; target: string; detail?: Record<string, string | number | boolean> };
    /** The route wrote its own audit entries (federation: per peer and operation). */
    auditedByRoute?: boolean;
    /** Why a request without a valid token was refused (counted, not audited one by one). */
    anonymousRefusal?: ErrorCode;
  }
}

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export interface ServerOptions {
  /** Base URL used in links (paging, export manifests); defaults to the request's own host. */
  baseUrl?: string;
  /** The largest request body read, in bytes; default `server.maxBodyBytes` of the hub's config. */
  bodyLimit?: number;
  /**
   * The hub's federation transport, with the operations other modules registered. Default: opened from the hub
   * with the built-in and the cohort operations; a hub without an identity key serves no `/federation` routes.
   */
  federation?: Federation;
  /** The cohort side of federation; pass the one whose operations `federation` registered. */
  cohorts?: CohortFederation;
  /** The surveillance side of federation (weekly series); pass the one whose operations `federation` registered. */
  series?: SeriesFederation;
  /** Citizens' consent choices carried to peers; pass the one whose operations `federation` registered. */
  consentReach?: ConsentReachFederation;
  /** Citizens' records at peers (`mydata.link`, `mydata.records`); pass the one whose operations `federation` registered. */
  peerRecords?: PeerRecords;
  /** The validation side of federation (a model scored on each hub's population); as for `cohorts`. */
  validation?: ValidationFederation;
  /** The model side of federation (GLM rounds); pass the one whose operations `federation` registered. */
  models?: ModelFederation;
}

/** Build the hub's HTTP app without listening: tests call `inject`, the CLI calls `listen`. */
export async function buildServer(hub: Hub, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: hub.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? hub.config.server.maxBodyBytes,
    // Request URLs can carry identifiers a client typed (e.g. a search by MRN): never logged per request.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
  });
  // Every route says who may call it (route-access.ts): a route without a declaration fails the build here.
  requireDeclarations(app);
  validateInput(app);
  const routes = collectRoutes(app);
  app.addContentTypeParser(['application/fhir+json', 'application/json'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (e) {
      done(
        new HealthmeshError('INGEST_INVALID_JSON', `request body is not valid JSON: ${(e as Error).message}`),
        undefined,
      );
    }
  });

  app.addHook('onRequest', async (req) => {
    // Peers sign each request instead (routes/federation.ts): the two kinds of caller never share a credential.
    // Public routes hold no data: the console's login page must load before anyone has a token.
    if (!needsToken(allowOf(req))) return;
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) {
      req.anonymousRefusal = 'AUTH_MISSING_TOKEN';
      throw new HealthmeshError('AUTH_MISSING_TOKEN', 'this hub requires a bearer token (Authorization: Bearer …)');
    }
    const principal = await verifyCredential(hub, match[1]!).catch((e: unknown) => {
      if (e instanceof HealthmeshError) req.anonymousRefusal = e.code;
      throw e;
    });
    if (!principal) {
      req.anonymousRefusal = 'AUTH_INVALID_TOKEN';
      throw new HealthmeshError('AUTH_INVALID_TOKEN', 'the bearer token is not valid for this hub');
    }
    req.principal = principal;
    checkAllowed(req, principal);
    checkOffered(req, hub.config.role);
  });

  // At most `server.rateLimitPerMinute` requests a minute per token, counted once the token is known (after the hook
  // above): a runaway script or a leaked token cannot take the hub. Requests with no principal (peers' signed
  // requests, which have their own limits, and the console's files) are not counted; the answer is 429 with
  // Retry-After.
  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: hub.config.server.rateLimitPerMinute,
    timeWindow: 60_000,
    allowList: (req) => req.principal === undefined,
    keyGenerator: (req) => `token:${req.principal?.name ?? ''}`,
    errorResponseBuilder: (_req, context) =>
      new HealthmeshError(
        'API_RATE_LIMITED',
        `this token made more than ${context.max} requests in a minute; retry in ${context.after}`,
      ),
  });

  // The release gate, made structural (docs/disclosure-control.md): on a route open to roles without row-level rights
  // (any role-declared route but `ingest`, whose answers are the caller's own writes), a principal without row-level
  // rights gets only what the gate built. A handler that answered with anything else is a defect: the caller gets a
  // 500 and no figures.
  app.addHook('preSerialization', async (_req, reply, payload) => {
    if (!isReleased(payload)) return payload;
    reply.gated = true;
    return payload.value;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 300 || reply.gated === true || !mustBeGated(req)) return payload;
    throw new HealthmeshError(
      'DISCLOSURE_UNGATED',
      `${req.method} ${req.routeOptions.url ?? 'unknown-route'} answered a role without row-level rights around the release gate`,
    );
  });

  // Every request of a principal is audited once its outcome is known, refused ones (403) included. A request
  // without a valid token is counted instead and reported to the hub's log at a bounded rate (anonymous-requests.ts).
  const anonymous = new AnonymousRequests(hub.clock, hub.logger);
  app.addHook('onClose', async () => anonymous.flush());
  app.addHook('onResponse', async (req, reply) => {
    if (req.auditedByRoute) return;
    const a = req.auditAction;
    const status = reply.statusCode;
    if (req.principal === undefined) {
      anonymous.record(req.anonymousRefusal ?? (status < 400 ? 'served' : `status-${status}`), routeOf(req));
      return;
    }
    await hub.audit.append({
      actor: req.principal?.name ?? 'anonymous',
      action: a?.action ?? 'request',
      target: a?.target ?? routeOf(req),
      outcome: status < 400 ? 'success' : status === 401 || status === 403 ? 'denied' : 'failure',
      detail: { status, ...(a?.detail ?? {}) },
    });
  });

  app.setErrorHandler(async (error: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = errorOutcome(bodyTooLarge(error, req) ?? error);
    if (status === 500) {
      const e = error as { statusCode?: number; message?: string };
      // Fastify's own client errors (body too large, bad content type) keep their 4xx status.
      if (e.statusCode && e.statusCode < 500) {
        return reply
          .code(e.statusCode)
          .type(FHIR_JSON)
          .send(errorOutcome(new HealthmeshError('API_BAD_REQUEST', String(e.message))).body);
      }
      // Database errors can quote the values they failed on: log the scrubbed text, never the raw error.
      const err = error instanceof Error ? error : new Error(String(error));
      hub.logger.error({ error: err.name, message: scrubText(err.message).slice(0, 500) }, 'request failed');
    } else if (isHealthmeshError(error) && error.code === 'STORE_NODE_UNAVAILABLE' && error.cause instanceof Error) {
      // The client's answer names no node (store/postgres); the operator's log says which one could not be reached.
      hub.logger.error(
        { error: error.code, cause: scrubText(error.cause.message).slice(0, 500) },
        'a store node is unreachable',
      );
    }
    return reply.code(status).type(FHIR_JSON).send(body);
  });
  app.setNotFoundHandler(async (req, reply) => {
    const { status, body } = errorOutcome(
      new HealthmeshError('API_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`),
    );
    return reply.code(status).type(FHIR_JSON).send(body);
  });

  const ctx = { hub, baseUrl: options.baseUrl };
  await app.register(metadataRoutes(ctx));
  await app.register(exportRoutes(ctx));
  await app.register(bundleRoutes(ctx));
  await app.register(viewRoutes(ctx));
  await app.register(modelRoutes(ctx));
  await app.register(modelPredictRoutes(ctx));
  await app.register(searchRoutes(ctx));
  await app.register(readRoutes(ctx));
  const cohorts = options.cohorts ?? new CohortFederation(hub);
  // Peers' cohorts in a project run only where this hub approved it for the tables they read, and count as the
  // project's use.
  cohorts.withProjects({
    authorizePeer: (peer, id, scope) => hub.projects.authorizePeer(peer, id, scope),
    recordUse: (project, cohortId, requester) => hub.projectUses.record(project, 'cohort', cohortId, requester),
  });
  // Peers' series for a project are counted only where this hub approved it for what the series read, for its
  // purpose, and count as the project's use.
  const series = (options.series ?? new SeriesFederation(hub)).withProjects({
    authorizePeer: (peer, id) =>
      hub.projects.authorizePeer(peer, id, { tables: [...SERIES_SCOPE.tables], columns: [...SERIES_SCOPE.columns] }),
    recordUse: (project, ref, requester) => hub.projectUses.record(project, 'forecast', ref, requester),
  });
  const consentReach = options.consentReach ?? new ConsentReachFederation(hub);
  const peerRecords = options.peerRecords ?? new PeerRecords(hub);
  const validation = options.validation ?? hubValidation(hub);
  // Peers' federated model rounds run only inside projects this hub approved for what their spec reads, for the
  // project's purpose; the rows a fit reads here are the project's use of those people's data.
  const models = (options.models ?? new ModelFederation(hub)).withProjects({
    authorizePeer: (peer, id, scope) => hub.projects.authorizePeer(peer, id, scope),
    recordUse: (id, features, people, requester) =>
      hub.projectUses.record(id, 'model-training', features, requester, people),
  });
  const federation =
    options.federation ??
    (await openHubFederation(hub, cohorts, series, { validation, consentReach, peerRecords, models }));
  await app.register(mydataRoutes({ ...ctx, federation, consentReach, peerRecords }));
  await app.register(validationRoutes({ ...ctx, federation, validation }));
  await app.register(federatedTrainingRoutes({ hub, models, federation }));
  await app.register(surveillanceRoutes({ ...ctx, series, federation }));
  await app.register(cohortRoutes({ hub, cohorts, federation }));
  if (federation)
    await app.register(federationRoutes(federation, { maxBodyBytes: hub.config.federation.maxBodyBytes }));
  await app.register(consoleAssets());
  await app.register(consoleRoutes({ hub, federation }));
  await app.register(consoleUploadRoutes({ hub }));
  await app.register(projectRoutes({ hub, federation }));
  await app.register(outputRoutes({ hub, series, federation }));
  await app.register(projectWorkRoutes({ hub, cohorts, federation }));
  await app.register(projectModelRoutes({ hub, models, federation }));
  await app.register(projectForecastRoutes({ hub, series, federation }));
  await app.register(authRoutes({ hub }));
  await app.register(accountRoutes({ hub }));
  await app.register(tokenRoutes({ hub }));
  await app.register(openApiRoutes(routes, { title: `healthmesh hub ${hub.config.name}`, version: '0.1.0' }));
  return app;
}

/**
 * The federation a served hub answers on: the built-in, cohort, model, weekly-series and project operations; `undefined` for
 * a hub without an identity key. `buildServer` opens it unless given one; a test passes it to see the registry.
 */
export async function openHubFederation(
  hub: Hub,
  cohorts: CohortFederation,
  series: SeriesFederation,
  sides: {
    validation?: ValidationFederation;
    consentReach?: ConsentReachFederation;
    peerRecords?: PeerRecords;
    models?: ModelFederation;
  } = {},
): Promise<Federation | undefined> {
  const validation = sides.validation ?? hubValidation(hub);
  const consentReach = sides.consentReach ?? new ConsentReachFederation(hub);
  const peerRecords = sides.peerRecords ?? new PeerRecords(hub);
  const models = sides.models ?? new ModelFederation(hub);
  try {
    // Cohort counts, weekly series, federated model fits, validations, project reviews, citizens' consent choices and
    // their records at peers share the signed transport.
    const operations = peerRecords.register(
      consentReach.register(validation.register(series.register(models.register(cohorts.register())))),
    );
    return await openFederation(hub, new ProjectFederation(hub).register(operations));
  } catch (e) {
    if (!(e instanceof HealthmeshError && e.code === 'FEDERATION_NO_IDENTITY')) throw e;
    hub.logger.warn({ code: e.code }, 'no identity key: this hub serves no federation routes');
    return undefined;
  }
}

/**
 * The validation side of a hub's federation: a peer's validation (and each calibration round) runs only in a
 * project this hub approved for AI validation and for the tables and variables the model's spec reads.
 */
export function hubValidation(hub: Hub): ValidationFederation {
  return new ValidationFederation(hub).withProjects({
    authorizePeer: (peer, id, scope) => hub.projects.authorizePeer(peer, id, { ...scope, purpose: VALIDATION_PURPOSE }),
  });
}

/**
 * The principal behind a bearer credential: an `hm_` token of the token registry (services, scripts), or a session
 * token the accounts module signed for a signed-in person (`AUTH_SESSION_EXPIRED` past its time); `undefined` for
 * anything else, a session token of another hub included.
 */
async function verifyCredential(hub: Hub, credential: string): Promise<Principal | undefined> {
  if (credential.startsWith('hm_')) return hub.tokens.verify(credential);
  if (credential.startsWith('hmapp_')) return hub.appGrants.verify(credential);
  return hub.accounts.sessions.verify(credential);
}

/** A request's route as the audit log and the hub log name it: method and route pattern, never the raw URL. */
function routeOf(req: FastifyRequest): string {
  return `${req.method} ${req.routeOptions.url ?? 'unknown-route'}`;
}

/** Fastify's refusal of an over-long body, as our own code naming the route's limit. */
function bodyTooLarge(error: unknown, req: FastifyRequest): HealthmeshError | undefined {
  if ((error as { code?: unknown }).code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return undefined;
  return new HealthmeshError(
    'API_BODY_TOO_LARGE',
    `the request body exceeds the limit of ${req.routeOptions.bodyLimit ?? 'this route'} bytes for ${req.method} ${req.routeOptions.url ?? 'this route'}`,
  );
}

/**
 * Whether the answer to `req` may hold only released values: a route open to bearer tokens, other than `ingest`
 * (which answers with the caller's own writes) and `self` (a citizen's own records), and a caller without row-level
 * rights. A `row-level` route admits
 * no such caller; public and peer routes gate in their own way (files without data, signed released results).
 */
function mustBeGated(req: FastifyRequest): boolean {
  const allow = allowOf(req);
  if (!needsToken(allow) || allow === 'ingest' || allow === 'self') return false;
  return !mayReadRowLevel(req.principal);
}

/** Send text (an HTML report, CSV) that the release gate built, on a route `mustBeGated` checks. */
export function sendReleased(reply: FastifyReply, text: Released<string>): FastifyReply {
  reply.gated = true;
  return reply.send(text.value);
}

export interface RouteContext {
  hub: Hub;
  baseUrl: string | undefined;
}

/** The FHIR base URL as the client sees it. */
export function fhirBase(ctx: RouteContext, req: FastifyRequest): string {
  return `${ctx.baseUrl ?? `${req.protocol}://${req.host}`}/fhir`;
}
