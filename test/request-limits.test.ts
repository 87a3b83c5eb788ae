import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { MAX_PATH_NESTING } from '../src/views/index.js';
import { tempHub } from './support/temp-hub.js';

// biome-ignore lint/suspicious/noExplicitAny: OperationOutcome JSON read back in assertions
type Json = Record<string, any>;

let hub: Hub;
let app: FastifyInstance;
let token: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ hub, adminToken: token, cleanup } = await tempHub('limits'));
  app = await buildServer(hub);
});
afterAll(async () => {
  await app.close();
  await cleanup();
});

/** Status, first error code and first issue's expression of a refused request. */
async function refusal(url: string, payload: unknown): Promise<[number, string, string[] | undefined]> {
  const res = await app.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${token}` },
    payload: payload as Json,
  });
  const body = res.json<Json>();
  return [res.statusCode, body.issue?.[0]?.details.coding[0].code, body.issue?.[0]?.expression];
}

const view = (path: string) => ({
  resourceType: 'Parameters',
  parameter: [
    {
      name: 'viewResource',
      resource: { resourceType: 'ViewDefinition', resource: 'Patient', select: [{ column: [{ name: 'a', path }] }] },
    },
  ],
});

describe('FHIRPath nesting in $run', () => {
  it.each([
    ['parentheses', `${'('.repeat(5000)}id${')'.repeat(5000)}`],
    ['function arguments', `${'iif(true, '.repeat(3000)}id${', id)'.repeat(3000)}`],
    ['unary signs', `${'-'.repeat(20000)}1`],
    ['a chain of operators', Array.from({ length: 50000 }, () => '1').join(' + ')],
  ])('refuses %s nested too deep with a view error, not a stack overflow', async (_what, path) => {
    expect(await refusal('/fhir/ViewDefinition/$run', view(path))).toEqual([
      400,
      'VIEW_INVALID_PATH',
      ['select[0].column[0].path'],
    ]);
  });

  it('still runs a path nested to the limit', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/fhir/ViewDefinition/$run',
      headers: { authorization: `Bearer ${token}` },
      payload: view(`${'('.repeat(MAX_PATH_NESTING - 1)}id${')'.repeat(MAX_PATH_NESTING - 1)}`),
    });
    expect(res.statusCode).toBe(200);
  });
});

const cohort = (extra: Json) => ({
  definition: {
    name: 'big',
    conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
    entry: { domain: 'encounter', conceptSet: 'amb' },
    ...extra,
  },
});

describe('cohort integers beyond a safe range', () => {
  it.each([
    ['priorObservationDays', { priorObservationDays: 1e20 }],
    ['exit.days', { exit: { type: 'fixedOffset', days: 1e20 } }],
    [
      'inclusion[0].events.window.start',
      { inclusion: [{ name: 'w', events: { domain: 'encounter', conceptSet: 'amb', window: { start: -1e20 } } }] },
    ],
    [
      'inclusion[0].events.count.min',
      {
        inclusion: [
          { name: 'c', events: { domain: 'encounter', conceptSet: 'amb', window: {}, count: { min: 2 ** 53 } } },
        ],
      },
    ],
    ['inclusion[0].age.max', { inclusion: [{ name: 'a', age: { max: 1e20 } }] }],
  ])('refuses %s with the field named', async (field, extra) => {
    const [status, code, expression] = await refusal('/cohort/$run', cohort(extra));
    expect([status, code]).toEqual([400, 'COHORT_INVALID_DEFINITION']);
    expect(expression?.[0]).toContain(field);
  });
});

const observations = (n: number) => ({
  resourceType: 'Bundle',
  type: 'batch',
  entry: Array.from({ length: n }, (_, i) => ({
    resource: {
      resourceType: 'Observation',
      id: `limit-${n}-${i}`,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] },
    },
    request: { method: 'PUT', url: `Observation/limit-${n}-${i}` },
  })),
});

describe('bundle entry count', () => {
  it('refuses a batch over the default limit before storing any of it', async () => {
    const max = hub.config.ingest.maxBundleEntries;
    expect(max).toBe(10_000);
    expect(await refusal('/fhir', observations(max + 1))).toEqual([413, 'INGEST_BUNDLE_TOO_LARGE', ['Bundle.entry']]);
    const [stored] = await hub.db.all<{ n: number }>(
      "SELECT COUNT(*) AS n FROM resource_head WHERE type = 'Observation'",
    );
    expect(Number(stored?.n)).toBe(0);
  });

  it('takes ingest.maxBundleEntries from the config, and a bundle at the limit', async () => {
    const small = await tempHub('limits-small', {
      ingest: { batchSize: 20_000, maxRecordBytes: 1 << 20, maxBundleEntries: 3 },
    });
    const smallApp = await buildServer(small.hub);
    try {
      const post = (n: number) =>
        smallApp.inject({
          method: 'POST',
          url: '/fhir',
          headers: { authorization: `Bearer ${small.adminToken}` },
          payload: observations(n),
        });
      expect((await post(3)).statusCode).toBe(200);
      const over = await post(4);
      expect([over.statusCode, over.json<Json>().issue[0].details.coding[0].code]).toEqual([
        413,
        'INGEST_BUNDLE_TOO_LARGE',
      ]);
    } finally {
      await smallApp.close();
      await small.cleanup();
    }
  });
});

describe('request body size', () => {
  it('refuses a body over server.maxBodyBytes with 413', async () => {
    const small = await tempHub('limits-body', {
      server: { ...defaultConfig('x').server, port: 0, maxBodyBytes: 4096 },
    });
    const smallApp = await buildServer(small.hub);
    try {
      const res = await smallApp.inject({
        method: 'POST',
        url: '/fhir',
        headers: { authorization: `Bearer ${small.adminToken}`, 'content-type': 'application/fhir+json' },
        payload: JSON.stringify({ ...observations(1), pad: 'x'.repeat(5000) }),
      });
      expect([res.statusCode, res.json<Json>().issue[0].details.coding[0].code]).toEqual([413, 'API_BODY_TOO_LARGE']);
    } finally {
      await smallApp.close();
      await small.cleanup();
    }
  });
});

describe('request rate per token', () => {
  it('answers 429 with Retry-After past server.rateLimitPerMinute, to that token only', async () => {
    const limited = await tempHub('limits-rate', { server: { ...defaultConfig('x').server, rateLimitPerMinute: 5 } });
    const limitedApp = await buildServer(limited.hub);
    try {
      const other = await limited.hub.tokens.create('other-steward', 'steward');
      const get = (t: string) =>
        limitedApp.inject({ method: 'GET', url: '/fhir/metadata', headers: { authorization: `Bearer ${t}` } });
      for (let i = 0; i < 5; i++) expect((await get(limited.adminToken)).statusCode).toBe(200);
      const refused = await get(limited.adminToken);
      expect([refused.statusCode, refused.json<Json>().issue[0].details.coding[0].code]).toEqual([
        429,
        'API_RATE_LIMITED',
      ]);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await get(other)).statusCode).toBe(200);
    } finally {
      await limitedApp.close();
      await limited.cleanup();
    }
  });
});
