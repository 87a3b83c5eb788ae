import { Ajv } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub/index.js';
import { ConsolePolicy, ObservedSeries, PeerHealth, UploadResult } from '../src/server/api-schemas.js';
import { buildServer } from '../src/server/index.js';
import { tempHub } from './support/temp-hub.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON read back in assertions
type Json = Record<string, any>;

/**
 * Every declared route of the app, counted from Fastify's own route tree (not from the hook that builds the
 * document): `printRoutes` lines end in the route's methods, `(GET, HEAD, DELETE)`. HEAD is Fastify's own.
 */
function declaredOperationCount(app: FastifyInstance): number {
  return [...app.printRoutes({ commonPrefix: false }).matchAll(/\(([A-Z, ]+)\)$/gm)]
    .flatMap((m) => m[1]!.split(', '))
    .filter((method) => method !== 'HEAD').length;
}

const ILI_VISIT = [
  { resource: { resourceType: 'Patient', id: 'p1', gender: 'female' }, request: { method: 'PUT', url: 'Patient/p1' } },
  {
    resource: {
      resourceType: 'Encounter',
      id: 'ili-1',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: { reference: 'Patient/p1' },
      period: { start: '2024-01-10T09:00:00Z', end: '2024-01-10T09:20:00Z' },
    },
    request: { method: 'PUT', url: 'Encounter/ili-1' },
  },
  {
    resource: {
      resourceType: 'Condition',
      id: 'ili-dx-1',
      subject: { reference: 'Patient/p1' },
      encounter: { reference: 'Encounter/ili-1' },
      code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'J11.1' }] },
      onsetDateTime: '2024-01-10',
    },
    request: { method: 'PUT', url: 'Condition/ili-dx-1' },
  },
];

describe('the API described by /openapi.json and validated by its schemas, on a served hub', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let app: FastifyInstance;
  let base: string;
  let token: string;

  beforeAll(async () => {
    ({ hub, cleanup, adminToken: token } = await tempHub('openapi'));
    app = await buildServer(hub);
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await app.close();
    await cleanup();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Json };
  };
  /** Status, error code and field of a refusal (the OperationOutcome's first issue). */
  const refusal = async (method: string, path: string, body?: unknown) => {
    const { status, body: o } = await call(method, path, body);
    const issue = o.issue?.[0];
    return { status, code: issue?.details?.coding?.[0]?.code, field: issue?.expression?.[0], text: issue?.diagnostics };
  };

  it('serves an OpenAPI 3 document without a token', async () => {
    const res = await fetch(`${base}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Json;
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.paths['/openapi.json'].get.security).toEqual([]);
    expect(doc.paths['/fhir/{type}/{id}'].get.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/federation/{operation}'].post.security).toEqual([{ peerSignature: [] }]);
  });

  it('lists every registered route, and only those', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Json;
    const documented = Object.entries(doc.paths as Record<string, Json>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => ({
        method: m.toUpperCase(),
        url: path.replace(/\{\*\}$/, '*').replace(/\{(\w+)\}/g, ':$1'),
      })),
    );
    for (const r of documented)
      expect(app.hasRoute(r as { method: 'GET'; url: string }), `${r.method} ${r.url}`).toBe(true);
    // Each documented route exists, and there are as many as the router holds: none is missing.
    expect(documented).toHaveLength(declaredOperationCount(app));
    expect(documented.length).toBeGreaterThan(30);
  });

  it('publishes the schemas the routes validate with', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as Json;
    const versionParam = doc.paths['/models/{id}'].get.parameters.find((p: Json) => p.name === 'version');
    expect(versionParam).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1 } });
    const cohort = doc.paths['/cohort/$run'].post.requestBody.content['application/json'].schema;
    expect(cohort.required).toEqual(['definition']);
    expect(doc.paths['/fhir'].post.requestBody.content['application/fhir+json'].schema.properties.resourceType).toEqual(
      {
        const: 'Bundle',
        type: 'string',
      },
    );
  });

  it('refuses a bad query parameter with 400 API_BAD_REQUEST naming it', async () => {
    expect(await refusal('GET', '/models/any?version=two')).toMatchObject({
      status: 400,
      code: 'API_BAD_REQUEST',
      field: 'version',
      text: expect.stringContaining('"version"'),
    });
    expect(await refusal('GET', '/fhir/Observation?_count=many')).toMatchObject({
      status: 400,
      code: 'API_BAD_REQUEST',
      field: '_count',
    });
    expect(await refusal('GET', '/surveillance/forecasts?reference_date=soon')).toMatchObject({
      status: 400,
      field: 'reference_date',
      text: expect.stringContaining('YYYY-MM-DD'),
    });
    expect(await refusal('GET', '/console/concepts?q=x')).toMatchObject({ status: 400, field: 'q' });
    expect(await refusal('GET', '/console/concepts')).toMatchObject({ status: 400, field: 'q' });
  });

  it('refuses a bad JSON body with 400 API_BAD_REQUEST naming the field, as an OperationOutcome on /fhir too', async () => {
    expect(await refusal('POST', '/cohort/$run', { hubs: ['gwangju'] })).toMatchObject({
      status: 400,
      code: 'API_BAD_REQUEST',
      field: 'definition',
    });
    // A body is taken as sent: a number is not turned into a hub name.
    expect(await refusal('POST', '/cohort/$run', { definition: {}, hubs: [1] })).toMatchObject({
      status: 400,
      field: 'hubs[0]',
    });
    expect(await refusal('POST', '/models/any/predict', { features: {}, colour: 'blue' })).toMatchObject({
      status: 400,
      field: 'colour',
    });
    expect(
      await refusal('POST', '/surveillance/$federated-forecast', { hubs: ['gwangju'], target: 'measles' }),
    ).toMatchObject({ status: 400, field: 'target' });
    const fhir = await call('POST', '/fhir', { resourceType: 'Patient', type: 'batch' });
    expect(fhir.status).toBe(400);
    expect(fhir.body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ code: 'invalid', expression: ['resourceType'], details: { coding: [{ code: 'API_BAD_REQUEST' }] } }],
    });
  });

  it("answers the console's routes in the shapes their schemas (and the console's types) declare", async () => {
    const ajv = new Ajv({ strictTypes: false });
    const check = (schema: object, body: unknown) => {
      const validate = ajv.compile(schema);
      expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
    };
    check(ConsolePolicy, (await call('GET', '/console/policy')).body);
    check(PeerHealth, (await call('GET', '/console/peers')).body);
    // One influenza-like-illness visit, so the hub has a weekly series to show.
    const visit = { resourceType: 'Bundle', type: 'batch', entry: ILI_VISIT };
    expect((await call('POST', '/fhir', visit)).status).toBe(200);
    check(ObservedSeries, (await call('GET', '/console/surveillance/observed')).body);
    const upload = await fetch(`${base}/console/ingest?name=two.ndjson`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: `${JSON.stringify({ resourceType: 'Patient', id: 'p2', gender: 'female' })}\n{"resourceType": "Nope"}\n`,
    });
    expect(upload.status).toBe(200);
    const result = (await upload.json()) as Json;
    check(UploadResult, result);
    expect(result.totals).toMatchObject({ created: 1, rejected: 1 });
  });
});
