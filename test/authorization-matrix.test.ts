import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Allow, Role } from '../src/access/index.js';
import { CohortFederation } from '../src/cohort/index.js';
import { silentLogger } from '../src/core/index.js';
import type { Ed25519Jwk, Federation, OperationHandler } from '../src/federation/index.js';
import { bodyHash, OperationRegistry, PeerDirectory, SIGNATURE_HEADER, signRequest } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { formatLinkageKey, LinkageService } from '../src/privacy/index.js';
import { buildServer, declaredRoutes, openHubFederation } from '../src/server/index.js';
import { SeriesFederation } from '../src/surveillance/index.js';
import { testHubConfig } from './support/test-engine.js';

/**
 * Issue 19: every route and every federated operation declares who may call it, and this one test tries each as
 * every principal. The tables below are the expectation, written out by hand rather than read from the code: a
 * route or operation the server has and the tables do not know fails the test, as does a declaration that differs.
 */

/** Who the table's policies admit, spelled out here so that a change to the policies in `access/` shows up. */
const ADMITS: Record<'authenticated' | 'row-level' | 'ingest' | 'self', readonly Role[]> = {
  authenticated: ['admin', 'steward', 'researcher', 'developer', 'validator', 'citizen', 'service'],
  'row-level': ['admin', 'steward'],
  ingest: ['admin', 'steward', 'service'],
  self: ['citizen'],
};
const ROLES: readonly Role[] = ['admin', 'steward', 'researcher', 'developer', 'validator', 'citizen', 'service'];
/** Nobody (no Authorization header), a token the hub never issued, and one token per role. */
const PRINCIPALS = ['nobody', 'forged-token', ...ROLES] as const;
type PrincipalName = (typeof PRINCIPALS)[number];

const PATIENT = { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1970-01-01' };
const COHORT = {
  name: 'women',
  conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
  entry: { domain: 'encounter', conceptSet: 'amb' },
};
const HUB = 'authz';

/** A request that reaches the route: its URL with parameters filled in, and a body where it takes one. */
interface Sample {
  url?: string;
  payload?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}
const ASYNC = { prefer: 'respond-async' };
const json = (v: unknown, contentType = 'application/json'): Sample => ({ payload: JSON.stringify(v), contentType });

const ROUTES: Record<string, { allow: Allow } & Sample> = {
  // Public: no data, so no credential (the console must load before anyone has a token).
  'GET /': { allow: 'public' },
  'GET /assets/*': { allow: 'public', url: '/assets/no-such-file.js' },
  'GET /openapi.json': { allow: 'public' },
  'GET /federation/identity': { allow: 'public' },
  // Sign-in is how a credential is got; each sample is refused as bad input (400) before any account is looked at.
  'POST /auth/login': { allow: 'public', ...json({ name: 'someone' }) },
  'POST /auth/refresh': { allow: 'public', ...json({}) },
  'POST /auth/sign-up': { allow: 'public', ...json({ handle: 'someone' }) },
  'GET /auth/options': { allow: 'public' },
  'GET /auth/oidc/start': { allow: 'public' },
  'GET /auth/oidc/callback': { allow: 'public', url: '/auth/oidc/callback?code=x&state=y' },
  // Signed hub-to-hub requests only; the operations are tried one by one below.
  'POST /federation/:operation': { allow: 'peer', url: '/federation/hub.ping', ...json({}) },
  // Aggregates, for every role (through the release gate for roles without row-level rights).
  'GET /fhir/metadata': { allow: 'authenticated' },
  'GET /models': { allow: 'authenticated' },
  'GET /models/:id': { allow: 'authenticated', url: '/models/no-such-model' },
  'POST /models/:id/predict': {
    allow: 'authenticated',
    url: '/models/no-such-model/predict',
    ...json({ features: {} }),
  },
  'POST /cohort/$run': { allow: 'authenticated', ...json({ definition: COHORT }) },
  // No outcome: refused as bad input (an empty hub's curve would be refused by the gate, 403).
  'POST /cohort/$survival': { allow: 'authenticated', ...json({ definition: COHORT }) },
  // Training across hubs registers a model here: the hub operator's, as training on one hub is (refused as bad input).
  // Putting a model version in or out of service is the hub operator's (an unknown model is 404).
  'PUT /models/:id/versions/:version/status': {
    allow: ['admin', 'steward'],
    url: '/models/no-such-model/versions/1/status',
    ...json({ status: 'withdrawn' }),
  },
  'POST /models/$federated-train': { allow: ['admin', 'steward'], ...json({ spec: {}, hubs: [HUB], project: 'p-x' }) },
  'POST /surveillance/$federated-series': { allow: 'authenticated', ...json({ hubs: [HUB] }) },
  'POST /surveillance/$federated-forecast': { allow: 'authenticated', ...json({ hubs: [HUB] }) },
  // Computes from the posted data only (gate.fromRequest); a malformed file is a 400 for every role.
  'POST /surveillance/$forecast-season': {
    allow: 'authenticated',
    ...json({ target_data: 'date,location,value\n2024-01-06,01,3\n' }),
  },
  'GET /surveillance/forecasts': { allow: 'authenticated' },
  'GET /surveillance/scores': { allow: 'authenticated' },
  'GET /surveillance/alerts': { allow: 'authenticated' },
  'GET /console/overview': { allow: 'authenticated' },
  'GET /console/policy': { allow: 'authenticated' },
  'GET /console/peers': { allow: 'authenticated' },
  'GET /console/catalog': { allow: 'authenticated' },
  'GET /console/catalog/:view': { allow: 'authenticated', url: '/console/catalog/patient' },
  'GET /console/concepts': { allow: 'authenticated', url: '/console/concepts?q=amb' },
  'GET /console/surveillance/observed': { allow: 'authenticated' },
  // Projects: applicants file and manage members, stewards and admins review; a project itself is visible to its
  // members and this hub's reviewers only (an unknown one answers 404, tested in test/projects.test.ts).
  'POST /projects': { allow: ['researcher', 'developer'], ...json({ title: 'incomplete' }) },
  'GET /projects': { allow: ['researcher', 'developer', 'steward', 'admin'] },
  'GET /projects/:id': { allow: ['researcher', 'developer', 'steward', 'admin'], url: '/projects/p-none' },
  'POST /projects/:id/review': {
    allow: ['steward', 'admin'],
    url: '/projects/p-none/review',
    ...json({ decision: 'deny', comment: 'no' }),
  },
  'POST /projects/:id/members': {
    allow: ['researcher', 'developer', 'admin'],
    url: '/projects/p-none/members',
    ...json({ handle: 'someone' }),
  },
  'DELETE /projects/:id/members/:handle': {
    allow: ['researcher', 'developer', 'admin'],
    url: '/projects/p-none/members/someone',
  },
  // The output airlock of project workspaces: members ask and download, this hub's stewards and admins check.
  'POST /projects/:id/outputs': {
    allow: ['researcher', 'developer'],
    url: '/projects/p-none/outputs',
    ...json({
      kind: 'table',
      title: 't',
      table: { rows: ['a'], columns: ['b'], cells: [[20]] },
      source: { analysis: 'cohort' },
    }),
  },
  'GET /projects/:id/outputs': {
    allow: ['researcher', 'developer', 'steward', 'admin'],
    url: '/projects/p-none/outputs',
  },
  'POST /projects/:id/cohort/$run': {
    allow: ['researcher', 'developer'],
    url: '/projects/p-none/cohort/$run',
    ...json({ definition: COHORT }),
  },
  'POST /projects/:id/models/$train': {
    allow: ['researcher', 'developer'],
    url: '/projects/p-none/models/$train',
    ...json({ spec: {} }),
  },
  'POST /projects/:id/views/$tabulate': {
    allow: ['researcher', 'developer'],
    url: '/projects/p-none/views/$tabulate',
    ...json({ view: 'encounter', rows: 'class_code' }),
  },
  'POST /projects/:id/forecasts/$run': {
    allow: ['researcher', 'developer'],
    url: '/projects/p-none/forecasts/$run',
    ...json({ target: 'ili' }),
  },
  'GET /outputs/awaiting-review': { allow: ['steward', 'admin'] },
  'GET /outputs/:id/content': { allow: ['steward', 'admin'], url: '/outputs/out_none/content' },
  'POST /outputs/:id/decision': {
    allow: ['steward', 'admin'],
    url: '/outputs/out_none/decision',
    ...json({ decision: 'deny', comment: 'no' }),
  },
  'GET /outputs/:id/download': {
    allow: ['researcher', 'developer', 'steward', 'admin'],
    url: '/outputs/out_none/download',
  },
  'GET /auth/me': { allow: 'authenticated' },
  'POST /auth/logout': { allow: 'authenticated' },
  // Accounts: admin only, live while the hub serves (samples that the route refuses as bad input or unknown).
  'GET /accounts': { allow: ['admin'] },
  'POST /accounts': { allow: ['admin'], ...json({ handle: 'x' }) },
  'PATCH /accounts/:id': { allow: ['admin'], url: '/accounts/no-such-account', ...json({ unlock: true }) },
  'GET /tokens': { allow: ['admin'] },
  'POST /tokens': { allow: ['admin'], ...json({ name: 'matrix-feed', role: 'service' }) },
  'DELETE /tokens/:name': { allow: ['admin'], url: '/tokens/no-such-holder' },
  // Model validation (issue 17): developers submit, validators run, both read; anyone may check a signature.
  'POST /validation/submissions': { allow: ['admin', 'developer'], ...json({ manifest: {}, model: 'AAAA' }) },
  'GET /validation/submissions': { allow: ['admin', 'steward', 'validator', 'developer'] },
  'GET /validation/submissions/:id': {
    allow: ['admin', 'steward', 'validator', 'developer'],
    url: '/validation/submissions/no-such-submission',
  },
  'POST /validation/submissions/:id/validate': {
    allow: ['admin', 'steward', 'validator'],
    url: '/validation/submissions/no-such-submission/validate',
    ...json({}),
  },
  'POST /validation/submissions/:id/approve': {
    allow: ['admin', 'steward', 'validator'],
    url: '/validation/submissions/no-such-submission/approve',
    ...json({ comment: 'ok' }),
  },
  'POST /validation/submissions/:id/recall': {
    allow: ['admin', 'steward', 'validator'],
    url: '/validation/submissions/no-such-submission/recall',
    ...json({ comment: 'drift' }),
  },
  'POST /validation/submissions/:id/predict': {
    allow: 'authenticated',
    url: '/validation/submissions/no-such-submission/predict',
    ...json({ features: {} }),
  },
  'GET /validation/submissions/:id/report': {
    allow: ['admin', 'steward', 'validator', 'developer'],
    url: '/validation/submissions/no-such-submission/report',
  },
  'GET /validation/submissions/:id/drift': {
    allow: ['admin', 'steward', 'validator', 'developer'],
    url: '/validation/submissions/no-such-submission/drift',
  },
  'POST /validation/reports/verify': { allow: 'public', ...json({ jws: 'not-a-jws' }) },
  // Writing records: admin, steward, service (first, so that the row-level reads below find the patient).
  'POST /fhir': {
    allow: 'ingest',
    ...json(
      {
        resourceType: 'Bundle',
        type: 'batch',
        entry: [{ resource: PATIENT, request: { method: 'PUT', url: 'Patient/p1' } }],
      },
      'application/fhir+json',
    ),
  },
  'POST /console/ingest': {
    allow: 'ingest',
    url: '/console/ingest?name=patients.ndjson',
    payload: Buffer.from(`${JSON.stringify(PATIENT)}\n`),
    contentType: 'application/octet-stream',
  },
  'POST /mydata/enrolment-codes': { allow: 'ingest', ...json({ patientId: 'p1' }) },
  // A citizen's own records: citizens only, each reading what is linked to their own account.
  'POST /me/enrol': { allow: 'self', ...json({ code: 'AAAA-BBBB-CCCC' }) },
  'GET /me': { allow: 'self' },
  'GET /me/timeline': { allow: 'self' },
  'GET /me/consent': { allow: 'self' },
  'GET /me/uses': { allow: 'self' },
  'GET /me/risks': { allow: 'self' },
  'GET /me/plan': { allow: 'self' },
  'POST /me/app-grants': { allow: 'self', ...json({ app: 'diary' }) },
  'GET /me/app-grants': { allow: 'self' },
  'DELETE /me/app-grants/:id': { allow: 'self', url: '/me/app-grants/grant_none' },
  'PUT /me/consent/:purpose': { allow: 'self', url: '/me/consent/research', ...json({ choice: 'deny' }) },
  'GET /me/$everything': { allow: 'self' },
  'GET /me/export.csv': { allow: 'self' },
  'DELETE /me/peer-records/:hub': { allow: 'self', url: '/me/peer-records/busan' },
  // Row-level records: admin and steward.
  'GET /fhir': { allow: 'row-level', url: '/fhir?_type=Patient' },
  'GET /fhir/:type': { allow: 'row-level', url: '/fhir/Patient' },
  'GET /fhir/:type/:id': { allow: 'row-level', url: '/fhir/Patient/p1' },
  'GET /fhir/:type/:id/_history': { allow: 'row-level', url: '/fhir/Patient/p1/_history' },
  'GET /fhir/:type/:id/_history/:vid': { allow: 'row-level', url: '/fhir/Patient/p1/_history/1' },
  'GET /fhir/$export': { allow: 'row-level', url: '/fhir/$export?_type=Patient', headers: ASYNC },
  'GET /fhir/Patient/$export': { allow: 'row-level', url: '/fhir/Patient/$export?_type=Patient', headers: ASYNC },
  'GET /fhir/$export-status/:job': { allow: 'row-level', url: '/fhir/$export-status/no-such-job' },
  'DELETE /fhir/$export-status/:job': { allow: 'row-level', url: '/fhir/$export-status/no-such-job' },
  'GET /fhir/$export-file/:job/:file': { allow: 'row-level', url: '/fhir/$export-file/no-such-job/Patient.ndjson' },
  'POST /fhir/ViewDefinition/$run': {
    allow: 'row-level',
    ...json(
      {
        resourceType: 'Parameters',
        parameter: [
          {
            name: 'viewResource',
            resource: {
              resourceType: 'ViewDefinition',
              resource: 'Patient',
              select: [{ column: [{ name: 'id', path: 'id' }] }],
            },
          },
          { name: 'resource', resource: PATIENT },
        ],
      },
      'application/fhir+json',
    ),
  },
};

/** Every federated operation the hub serves, with a body that reaches it. Only `'peer'` exists as a caller. */
const OPERATIONS: Record<string, { allow: 'peer'; body: unknown }> = {
  'hub.ping': { allow: 'peer', body: {} },
  'cohort.run': { allow: 'peer', body: { definition: COHORT } },
  'cohort.linkage': { allow: 'peer', body: { definition: COHORT, ring: {} } },
  'model.glm-moments': { allow: 'peer', body: { spec: {} } },
  'model.glm-newton': { allow: 'peer', body: { spec: {}, fill: [], beta: [] } },
  'surveillance.series': { allow: 'peer', body: {} },
  'project.file': { allow: 'peer', body: {} },
  'project.status': { allow: 'peer', body: { id: 'p-none' } },
  'project.members': { allow: 'peer', body: { id: 'p-none', members: [] } },
  'project.catalog': { allow: 'peer', body: {} },
  'project.tabulate': { allow: 'peer', body: { id: 'p-none', view: 'encounter', rows: 'class' } },
  'mydata.consent-match': { allow: 'peer', body: { exchange: 'x'.repeat(22), points: ['A'.repeat(43)] } },
  'mydata.consent-apply': { allow: 'peer', body: { exchange: 'x'.repeat(22) } },
  'mydata.link': { allow: 'peer', body: { citizen: 'c'.repeat(43), code: 'AAAA-BBBB-CCCC' } },
  'mydata.link-check': {
    allow: 'peer',
    body: { citizen: 'c'.repeat(43), code: 'AAAA-BBBB-CCCC', check: 'x'.repeat(22), points: ['A'.repeat(43)] },
  },
  'mydata.records': { allow: 'peer', body: { citizen: 'c'.repeat(43) } },
  'mydata.unlink': { allow: 'peer', body: { citizen: 'c'.repeat(43) } },
  'validation.score': { allow: 'peer', body: { project: 'p-none' } },
  'validation.calibration': { allow: 'peer', body: { project: 'p-none', session: 'none' } },
  'validation.auroc-key': { allow: 'peer', body: { project: 'p-none', session: 'none' } },
  'validation.auroc-share': { allow: 'peer', body: { project: 'p-none', session: 'none' } },
  'validation.auroc-pair': { allow: 'peer', body: { project: 'p-none', session: 'none' } },
};

/** The statuses a principal may get on a route with `allow`: refused (401 or 403) or let through. */
function expected(allow: Allow, who: PrincipalName): 401 | 403 | 'through' {
  if (allow === 'public') return 'through';
  // A bearer token is no signature: every principal of this table is refused on a peer route.
  if (allow === 'peer' || who === 'nobody' || who === 'forged-token') return 401;
  const admitted = typeof allow === 'string' ? ADMITS[allow] : allow;
  return admitted.includes(who) ? 'through' : 403;
}

const codeOf = (res: LightMyRequestResponse): string | undefined =>
  (res.json() as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]?.code;

/**
 * Fastify's own count of the app's routes (`printRoutes` lines end in their methods, HEAD being Fastify's own), a
 * source independent of the declaration hook.
 */
function fastifyRouteCount(app: FastifyInstance): number {
  return [...app.printRoutes({ commonPrefix: false }).matchAll(/\(([A-Z, ]+)\)$/gm)]
    .flatMap((m) => m[1]!.split(', '))
    .filter((method) => method !== 'HEAD').length;
}

describe('who may call each route and each federated operation, tried as every principal', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-authz-'));
  const tokens = new Map<PrincipalName, string>();
  const peer = generateKeyPairSync('ed25519');
  let hub: Hub;
  let app: FastifyInstance;
  let federation: Federation;

  beforeAll(async () => {
    const dir = join(root, 'hub');
    const { paths, adminToken } = await initHub(dir, {
      name: HUB,
      config: await testHubConfig(),
      logger: silentLogger(),
    });
    // A linkage key, so that the hub serves `cohort.linkage` too.
    const service = LinkageService.init(join(root, 'linkage-service'));
    writeFileSync(paths.linkageKey, formatLinkageKey(service.issue(HUB, new Date())), { mode: 0o600 });
    // One peer whose key the test holds; nothing listens at its URL (the console's peer check finds it down).
    PeerDirectory.open(paths.peers).add({
      name: 'peer-a',
      url: 'http://127.0.0.1:9',
      publicKey: peer.publicKey.export({ format: 'jwk' }) as unknown as Ed25519Jwk,
    });
    hub = await openHub(dir, { logger: silentLogger() });
    tokens.set('admin', adminToken);
    tokens.set('forged-token', `hm_${randomBytes(32).toString('base64url')}`);
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      tokens.set(role, await hub.tokens.create(`a-${role}`, role));
    }
    const cohorts = new CohortFederation(hub);
    const series = new SeriesFederation(hub);
    const opened = await openHubFederation(hub, cohorts, series);
    if (opened === undefined) throw new Error('the test hub has no identity key');
    federation = opened;
    app = await buildServer(hub, { federation, cohorts, series });
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('knows every route the server registered, each declared as the table says', () => {
    const declared = declaredRoutes(app);
    const unknown = declared.filter((r) => !(`${r.method} ${r.url}` in ROUTES)).map((r) => `${r.method} ${r.url}`);
    expect(unknown, 'routes the table does not know: add each with who may call it').toEqual([]);
    const gone = Object.keys(ROUTES).filter((k) => !declared.some((r) => `${r.method} ${r.url}` === k));
    expect(gone, 'routes in the table the server no longer has').toEqual([]);
    for (const r of declared) expect(r.allow, `${r.method} ${r.url}`).toEqual(ROUTES[`${r.method} ${r.url}`]!.allow);
    // Every route Fastify holds went through the declaration hook.
    expect(declared.length).toBe(fastifyRouteCount(app));
  });

  describe.each(Object.entries(ROUTES))('%s', (route, sample) => {
    const [method, pattern] = route.split(' ') as [string, string];
    it(`is refused or let through for each of ${PRINCIPALS.join(', ')} as declared (${String(sample.allow)})`, async () => {
      for (const who of PRINCIPALS) {
        const token = tokens.get(who);
        const res = await app.inject({
          method: method as 'GET' | 'POST' | 'PATCH' | 'DELETE',
          url: sample.url ?? pattern,
          headers: {
            ...sample.headers,
            ...(token !== undefined && { authorization: `Bearer ${token}` }),
            ...(sample.contentType !== undefined && { 'content-type': sample.contentType }),
          },
          ...(sample.payload !== undefined && { payload: sample.payload }),
        });
        const want = expected(sample.allow, who);
        const what = `${route} as ${who}: ${res.statusCode} ${res.body.slice(0, 200)}`;
        if (want === 'through') {
          expect([401, 403], what).not.toContain(res.statusCode);
          continue;
        }
        expect(res.statusCode, what).toBe(want);
        // A refusal is an OperationOutcome naming why, and carries no figure of the hub's.
        expect(codeOf(res), what).toBe(
          want === 403
            ? 'AUTH_FORBIDDEN'
            : sample.allow === 'peer'
              ? 'FEDERATION_MISSING_SIGNATURE'
              : who === 'forged-token'
                ? 'AUTH_INVALID_TOKEN'
                : 'AUTH_MISSING_TOKEN',
        );
        expect(res.body, what).not.toMatch(/\d/);
      }
    });
  });

  it('knows every federated operation the hub serves, each declared as the table says', async () => {
    expect(federation.operations.declarations()).toEqual(
      Object.entries(OPERATIONS)
        .map(([name, o]) => ({ name, allow: o.allow }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    );
    // The operations the hub lists to the world are the ones the registry declares.
    const identity = (await app.inject({ url: '/federation/identity' })).json() as { operations: string[] };
    expect(identity.operations).toEqual(Object.keys(OPERATIONS).sort());
  });

  describe.each(Object.entries(OPERATIONS))('federated operation %s', (operation, { body }) => {
    const path = `/federation/${operation}`;
    const text = JSON.stringify(body);

    it('refuses a caller without a signature, bearer token or not, with 401', async () => {
      for (const who of PRINCIPALS) {
        const token = tokens.get(who);
        const res = await app.inject({
          method: 'POST',
          url: path,
          headers: {
            'content-type': 'application/json',
            ...(token !== undefined && { authorization: `Bearer ${token}` }),
          },
          payload: text,
        });
        expect(res.statusCode, `${operation} as ${who}`).toBe(401);
        expect(codeOf(res)).toBe('FEDERATION_MISSING_SIGNATURE');
      }
    });

    it('refuses a hub outside the peers file, and lets a signed peer through', async () => {
      const sign = async (iss: string, key: typeof peer.privateKey) =>
        signRequest(
          {
            iss,
            aud: HUB,
            method: 'POST',
            path,
            bodySha256: bodyHash(text),
            ts: hub.clock.now().getTime(),
            nonce: randomBytes(16).toString('base64url'),
          },
          key,
        );
      const send = async (signature: string) =>
        app.inject({
          method: 'POST',
          url: path,
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
          payload: text,
        });
      const stranger = await send(await sign('stranger', generateKeyPairSync('ed25519').privateKey));
      expect(stranger.statusCode).toBe(401);
      expect(codeOf(stranger)).toBe('FEDERATION_UNKNOWN_SIGNER');
      const signed = await send(await sign('peer-a', peer.privateKey));
      expect([401, 403], `${operation}: ${signed.statusCode} ${signed.body.slice(0, 200)}`).not.toContain(
        signed.statusCode,
      );
    });
  });

  it('fails to build a server with a route that declares no caller, naming it', async () => {
    const other = await buildServer(hub, { federation });
    try {
      expect(() => other.get('/undeclared', async () => ({}))).toThrow(/GET \/undeclared declares no caller/);
      expect(() => other.post('/misdeclared', { config: { allow: 'nobody' as never } }, async () => ({}))).toThrow(
        /POST \/misdeclared declares no caller/,
      );
      // A route module (a plugin, as buildServer registers each) without a declaration fails to load.
      const loading = (async () => {
        await other.register(async (plugin) => {
          plugin.delete('/in-a-plugin', async () => ({}));
        });
      })();
      await expect(loading).rejects.toThrow(/DELETE \/in-a-plugin declares no caller/);
    } finally {
      await other.close().catch(() => undefined);
    }
  });

  it('refuses to register a federated operation without a declaration', () => {
    const handler: OperationHandler = async () => hub.gate.text({});
    const register = new OperationRegistry().register.bind(new OperationRegistry()) as (
      name: string,
      allow: unknown,
      handler: unknown,
    ) => unknown;
    expect(() => register('test.undeclared', handler, undefined)).toThrow(/test.undeclared declares no caller/);
    expect(() => register('test.anyone', 'anyone', handler)).toThrow(/test.anyone declares no caller/);
    expect(() => register('test.peer', 'peer', handler)).not.toThrow();
  });
});
