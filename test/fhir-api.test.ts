import type { FastifyInstance } from 'fastify';
import { Client } from 'fhir-kit-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { exportFinished } from './support/export-status.js';
import { tempHub } from './support/temp-hub.js';

// biome-ignore lint/suspicious/noExplicitAny: FHIR JSON read back in assertions
type Json = Record<string, any>;

const OBSERVATIONS = 120;

function fixtureBundle(): Json {
  const patient = {
    resourceType: 'Patient',
    id: 'pat-1',
    gender: 'female',
    birthDate: '1961-07-21',
    name: [{ family: 'Kim', given: ['Jiwoo'] }],
  };
  const encounter = {
    resourceType: 'Encounter',
    id: 'enc-1',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    subject: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
    period: { start: '2020-03-01T09:00:00+09:00', end: '2020-03-01T09:30:00+09:00' },
  };
  const observations = Array.from({ length: OBSERVATIONS }, (_, i) => ({
    resourceType: 'Observation',
    id: `obs-${i}`,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: i % 2 === 0 ? '4548-4' : '2339-0' }] },
    subject: { reference: 'urn:uuid:11111111-1111-4111-8111-111111111111' },
    encounter: { reference: 'urn:uuid:22222222-2222-4222-8222-222222222222' },
    effectiveDateTime: `20${String(10 + (i % 12)).padStart(2, '0')}-06-15T10:00:00Z`,
    valueQuantity: { value: 5 + i / 100, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
  }));
  const entries = [
    { fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111', resource: patient },
    { fullUrl: 'urn:uuid:22222222-2222-4222-8222-222222222222', resource: encounter },
    ...observations.map((o, i) => ({
      fullUrl: `urn:uuid:33333333-3333-4333-8333-${String(i).padStart(12, '0')}`,
      resource: o,
    })),
  ];
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map((e) => ({ ...e, request: { method: 'POST', url: e.resource.resourceType } })),
  };
}

describe('FHIR REST API driven by fhir-kit-client over real HTTP', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let app: FastifyInstance;
  let base: string;
  let token: string;
  let client: Client;
  let patientId: string;

  beforeAll(async () => {
    let adminToken: string;
    ({ hub, cleanup, adminToken } = await tempHub('api'));
    token = adminToken;
    app = await buildServer(hub);
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    base = `${address}/fhir`;
    client = new Client({ baseUrl: base, bearerToken: token });
  });
  afterAll(async () => {
    await app.close();
    await cleanup();
  });

  it('serves a CapabilityStatement listing what works', async () => {
    const cs = (await client.capabilityStatement()) as Json;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    const obs = cs.rest[0].resource.find((r: Json) => r.type === 'Observation');
    expect(obs.searchParam.map((p: Json) => p.name)).toEqual(
      expect.arrayContaining(['code', 'date', 'patient', 'subject', '_id', '_lastUpdated']),
    );
    expect(cs.rest[0].interaction.map((i: Json) => i.code)).toEqual(
      expect.arrayContaining(['transaction', 'batch', 'search-system']),
    );
  });

  it('commits a transaction and answers with a transaction-response', async () => {
    const response = (await client.transaction({ body: fixtureBundle() as never })) as Json;
    expect(response.type).toBe('transaction-response');
    expect(response.entry).toHaveLength(OBSERVATIONS + 2);
    for (const e of response.entry) expect(e.response.status).toBe('201 Created');
    patientId = response.entry[0].response.location.split('/')[1];
    expect(patientId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads a resource, pseudonymised, with its version meta', async () => {
    const patient = (await client.read({ resourceType: 'Patient', id: patientId })) as Json;
    expect(patient).toMatchObject({
      resourceType: 'Patient',
      id: patientId,
      gender: 'female',
      birthDate: '1961-07',
      meta: { versionId: '1' },
    });
    expect(patient.name).toBeUndefined();
  });

  it('pages through a search with next links', async () => {
    const seen = new Set<string>();
    let page = (await client.search({
      resourceType: 'Observation',
      searchParams: { patient: patientId, _count: 50 },
    })) as Json;
    expect(page.total).toBe(OBSERVATIONS);
    let pages = 0;
    while (page) {
      pages++;
      for (const e of page.entry ?? []) seen.add(e.resource.id);
      page = (await client.nextPage({ bundle: page as never })) as Json;
    }
    expect(pages).toBe(3);
    expect(seen.size).toBe(OBSERVATIONS);
  });

  it('searches by token, date prefixes, subject and _id', async () => {
    const search = async (params: Record<string, string | number>) =>
      ((await client.search({ resourceType: 'Observation', searchParams: { _count: 0, ...params } })) as Json).total;
    expect(await search({ code: 'http://loinc.org|4548-4' })).toBe(OBSERVATIONS / 2);
    expect(await search({ code: '2339-0' })).toBe(OBSERVATIONS / 2);
    expect(await search({ code: 'http://snomed.info/sct|4548-4' })).toBe(0);
    // years 2010..2021 cycle over 120 observations: 10 per year
    expect(await search({ date: 'ge2020' })).toBe(20);
    expect(await search({ date: 'lt2011' })).toBe(10);
    expect(await search({ date: '2015' })).toBe(10);
    expect(await search({ date: 'gt2015-06-15' })).toBe(60);
    expect(await search({ date: 'le2015-06-15T10:00:00Z' })).toBe(60);
    expect(await search({ subject: `Patient/${patientId}` })).toBe(OBSERVATIONS);
    const enc = (await client.search({ resourceType: 'Encounter', searchParams: { date: '2020-03' } })) as Json;
    expect(enc.total).toBe(1);
    const one = (await client.search({
      resourceType: 'Encounter',
      searchParams: { _id: enc.entry[0].resource.id },
    })) as Json;
    expect(one.total).toBe(1);
    const system = (await client.systemSearch({ searchParams: { _type: 'Patient,Encounter' } })) as Json;
    expect(system.total).toBe(2);
    const lastUpdated = (await client.search({
      resourceType: 'Patient',
      searchParams: { _lastUpdated: 'ge2000-01-01' },
    })) as Json;
    expect(lastUpdated.total).toBe(1);
  });

  it('keeps history: a changed resource gets version 2, vread returns both', async () => {
    const bundle = fixtureBundle();
    bundle.type = 'batch';
    bundle.entry[0].resource.gender = 'other';
    const response = (await client.batch({ body: bundle as never })) as Json;
    expect(response.entry[0].response.status).toBe('200 OK');
    expect(response.entry[1].response.status).toBe('200 OK');
    expect(response.entry[0].response.location).toBe(`Patient/${patientId}/_history/2`);
    const history = (await client.history({ resourceType: 'Patient', id: patientId })) as Json;
    expect(history.entry.map((e: Json) => e.resource.gender)).toEqual(['other', 'female']);
    const v1 = (await client.vread({ resourceType: 'Patient', id: patientId, version: '1' })) as Json;
    expect(v1.gender).toBe('female');
  });

  it('answers every entry of a batch, an identical repeat included', async () => {
    const extra = { resourceType: 'Observation', id: 'repeat', status: 'final', code: { text: 'x' } };
    const body = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [extra, extra, { resourceType: 'Observation', id: 'broken' }].map((resource) => ({
        resource,
        request: { method: 'POST', url: 'Observation' },
      })),
    };
    const response = (await client.batch({ body: body as never })) as Json;
    expect(response.entry.map((e: Json) => e.response.status)).toEqual(['201 Created', '200 OK', '400']);
    expect(response.entry[1].response.location).toBe(response.entry[0].response.location);
    expect(response.entry[2].response.outcome.issue[0].details.coding[0].code).toBe('FHIR_REQUIRED');
  });

  it('answers a transaction with a bad entry by 400 and stores nothing of it', async () => {
    const bundle = fixtureBundle();
    bundle.entry[0].resource.id = 'pat-2';
    bundle.entry[5].resource.status = 'not-a-status';
    const res = await fetch(base, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(bundle),
    });
    expect(res.status).toBe(400);
    const outcome = (await res.json()) as Json;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].details.coding[0].code).toBe('FHIR_PRIMITIVE');
    expect(outcome.issue[0].expression[0]).toBe('Observation.status');
    expect(((await client.search({ resourceType: 'Patient', searchParams: { _count: 0 } })) as Json).total).toBe(1);
  });

  it('refuses requests without a valid bearer token with 401 and an OperationOutcome', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }] as Record<string, string>[]) {
      const res = await fetch(`${base}/metadata`, { headers });
      expect(res.status).toBe(401);
      expect(((await res.json()) as Json).resourceType).toBe('OperationOutcome');
    }
  });

  it('answers errors with OperationOutcomes and the right status', async () => {
    const get = async (path: string) => {
      const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as Json;
      expect(body.resourceType).toBe('OperationOutcome');
      return [res.status, body.issue[0].details.coding[0].code];
    };
    expect(await get('/Patient/does-not-exist')).toEqual([404, 'API_NOT_FOUND']);
    expect(await get('/Nonsense/1')).toEqual([404, 'API_NOT_FOUND']);
    expect(await get('/Observation?colour=blue')).toEqual([400, 'API_BAD_REQUEST']);
    expect(await get('/Observation?date=yesterday')).toEqual([400, 'API_BAD_REQUEST']);
    // Dates that would roll over into another date (2016-02-14, 2023-03-02) are refused, naming the parameter.
    for (const date of ['2015-13-45', '2023-02-30', 'ge2021-04-31', '2021-04-21T25:00:00Z']) {
      const res = await fetch(`${base}/Observation?date=${date}`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as Json;
      expect([res.status, body.issue[0].details.coding[0].code, body.issue[0].expression]).toEqual([
        400,
        'API_BAD_REQUEST',
        ['date'],
      ]);
    }
    expect(await get('/Observation?_lastUpdated=2023-02-30')).toEqual([400, 'API_BAD_REQUEST']);
    expect(await get(`/Patient/${patientId}/_history/99`)).toEqual([404, 'API_NOT_FOUND']);
  });

  it('runs a Bulk Data $export round trip: kick-off, polling, NDJSON download', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const noPrefer = await fetch(`${base}/$export`, { headers: auth });
    expect(noPrefer.status).toBe(400);
    for (const level of ['', '/Patient']) {
      const kick = await fetch(`${base}${level}/$export?_type=Patient,Observation`, {
        headers: { ...auth, prefer: 'respond-async', accept: 'application/fhir+json' },
      });
      expect(kick.status).toBe(202);
      const status = kick.headers.get('content-location')!;
      const res = await exportFinished(status, auth);
      expect(res.status).toBe(200);
      const manifest = (await res.json()) as Json;
      expect(manifest.requiresAccessToken).toBe(true);
      const counts: Record<string, number> = {};
      for (const out of manifest.output) {
        expect((await fetch(out.url)).status).toBe(401);
        const file = await fetch(out.url, { headers: auth });
        expect(file.headers.get('content-type')).toContain('application/fhir+ndjson');
        const lines = (await file.text())
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Json);
        for (const l of lines) expect(l.resourceType).toBe(out.type);
        counts[out.type] = lines.length;
        expect(out.count).toBe(lines.length);
      }
      // the batch test above stored one Observation without a subject: system level only
      expect(counts).toEqual({ Observation: level === '' ? OBSERVATIONS + 1 : OBSERVATIONS, Patient: 1 });
      expect((await fetch(status, { method: 'DELETE', headers: auth })).status).toBe(202);
      expect((await fetch(status, { headers: auth })).status).toBe(404);
    }
  });

  it('audits every request in a chain that verifies', async () => {
    const entries = await hub.audit.recent(1000);
    const actions = new Set(entries.map((e) => e.action));
    for (const a of ['read', 'vread', 'history', 'search', 'transaction', 'export', 'metadata'])
      expect(actions).toContain(a);
    // The 401s above (no or a bad token) are counted for the hub log, not audited one row each.
    expect(entries.some((e) => e.actor === 'anonymous')).toBe(false);
    const verified = await hub.audit.verify();
    expect(verified.ok).toBe(true);
    // the audit of this test's last request may land after its response: never fewer entries than read above
    expect(verified.entries).toBeGreaterThanOrEqual(entries.length);
  });
});
