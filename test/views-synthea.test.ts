import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { BUILT_IN_VIEWS, CompiledView } from '../src/views/index.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import { testHubConfig } from './support/test-engine.js';

type Json = Record<string, unknown>;

function capture() {
  let out = '';
  let err = '';
  return {
    io: { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } },
    get out() {
      return out;
    },
    get err() {
      return err;
    },
  };
}

/** Every distinct (type, id) of the 100 bundles, straight from the files: the independent side of the check. */
function rawResources(): Json[] {
  const dir = sharedPath('synthea-fhir-r4/bundles-gz/');
  const byKey = new Map<string, Json>();
  for (const f of readdirSync(dir).sort()) {
    const bundle = JSON.parse(gunzipSync(readFileSync(join(dir, f))).toString('utf8')) as {
      entry: { resource: Json }[];
    };
    for (const e of bundle.entry) byKey.set(`${String(e.resource.resourceType)}/${String(e.resource.id)}`, e.resource);
  }
  return [...byKey.values()];
}

/** Rows each table must hold, counted from the raw JSON without the view engine. */
function expectedRows(resources: readonly Json[]): Record<string, number> {
  const count = (type: string, rowsOf: (r: Json) => number = () => 1) =>
    resources.filter((r) => r.resourceType === type).reduce((n, r) => n + rowsOf(r), 0);
  return {
    patient: count('Patient'),
    condition: count('Condition'),
    // The observation itself plus one row per component.
    observation: count('Observation', (r) => 1 + (Array.isArray(r.component) ? r.component.length : 0)),
    encounter: count('Encounter'),
    medication_request: count('MedicationRequest'),
    immunization: count('Immunization'),
    procedure: count('Procedure'),
    consent: count('Consent'),
    lifelog: count('Observation', (r) => (r.device !== undefined ? 1 : 0)),
  };
}

describeWithSharedData('analytic tables over the 100 Synthea bundles', () => {
  let dir: string;
  let hub: Hub;
  let app: FastifyInstance;
  let adminToken: string;
  let raw: Json[];
  let ingestOut: string;

  const runView = (token: string, parameter: Json[]) =>
    app.inject({
      method: 'POST',
      url: '/fhir/ViewDefinition/$run',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      payload: { resourceType: 'Parameters', parameter },
    });

  beforeAll(async () => {
    dir = join(mkdtempSync(join(tmpdir(), 'hm-views-')), 'hub');
    ({ adminToken } = await initHub(dir, { name: 'gwangju', config: await testHubConfig(), logger: silentLogger() }));
    const c = capture();
    // Through the CLI, as an operator would: the ingest command refreshes the tables itself.
    expect(
      await main(['ingest', '--dir', dir, '--source', 'synthea', sharedPath('synthea-fhir-r4/bundles-gz')], c.io),
    ).toBe(0);
    ingestOut = c.out;
    hub = await openHub(dir, { logger: silentLogger() });
    app = await buildServer(hub);
    raw = rawResources();
  }, 600_000);
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('fills every built-in table on ingest, with row counts equal to counts from the raw resources', async () => {
    expect(ingestOut).toMatch(/analytic tables refreshed: 22892 resources flattened/);
    const expected = expectedRows(raw);
    const actual: Record<string, number> = {};
    for (const v of BUILT_IN_VIEWS) {
      const [row] = await hub.db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM view_${v.name}`);
      actual[v.name] = Number(row?.n);
    }
    expect(actual).toEqual(expected);
    expect(actual.observation).toBeGreaterThan(14_093); // components add rows
  });

  it('keys every clinical row to a patient row and tags it with the hub as region', async () => {
    for (const table of ['view_condition', 'view_observation', 'view_encounter', 'view_procedure']) {
      const [orphans] = await hub.db.all<{ n: number }>(
        `SELECT COUNT(*) AS n FROM ${table} t WHERE t.patient_key IS NULL OR t.patient_key NOT IN (SELECT id FROM view_patient)`,
      );
      expect(orphans?.n, table).toBe(0);
    }
    const regions = await hub.db.all<{ region: string }>('SELECT DISTINCT region FROM view_observation');
    expect(regions).toEqual([{ region: 'gwangju' }]);
    const [bp] = await hub.db.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM view_observation WHERE code_system = 'http://loinc.org' AND code_code = '8480-6'
         AND unit = 'mm[Hg]' AND value_quantity > 0 AND component_index IS NOT NULL`,
    );
    expect(bp?.n).toBeGreaterThan(0);
  });

  it('flattens nothing when the same files are ingested again', async () => {
    const again = await hub.tables.refresh();
    expect(again.resources).toBe(0);
    expect(again.views.every((v) => !v.rebuilt && v.flattened === 0)).toBe(true);
  });

  it('agrees with the fhirpath package on every Synthea resource for every built-in view', () => {
    for (const b of BUILT_IN_VIEWS) {
      const compiled = CompiledView.compile(b.definition, { constants: { region: 'x' } });
      const naive = CompiledView.compile(b.definition, { constants: { region: 'x' }, engine: 'fhirpath' });
      expect(compiled.stats.fhirpath, `${b.name} expressions outside the compiled subset`).toBe(0);
      for (const r of raw) expect(compiled.rows(r), `${b.name} ${String(r.id)}`).toEqual(naive.rows(r));
    }
  }, 120_000);

  it('refreshes the tables within an API transaction request, leaving nothing for a later refresh', async () => {
    const before = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM view_lifelog');
    const patient = { resourceType: 'Patient', id: 'wearer-1', gender: 'female', birthDate: '1990-04-02' };
    const steps = {
      resourceType: 'Observation',
      id: 'steps-1',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '55423-8', display: 'Number of steps' }] },
      subject: { reference: 'urn:uuid:0b7c3a52-8f1e-4c55-9a43-1c2d3e4f5a6b' },
      device: { display: 'wrist-worn activity tracker' },
      effectivePeriod: { start: '2024-03-01T00:00:00+09:00', end: '2024-03-01T23:59:59+09:00' },
      valueQuantity: { value: 8412, unit: 'steps/day', system: 'http://unitsofmeasure.org', code: '/d' },
    };
    const res = await app.inject({
      method: 'POST',
      url: '/fhir',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/fhir+json' },
      payload: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: 'urn:uuid:0b7c3a52-8f1e-4c55-9a43-1c2d3e4f5a6b',
            resource: patient,
            request: { method: 'POST', url: 'Patient' },
          },
          { resource: steps, request: { method: 'POST', url: 'Observation' } },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const after = await hub.db.all<{
      value_quantity: number;
      unit: string;
      patient_key: string;
      effective_start: string;
    }>('SELECT value_quantity, unit, patient_key, effective_start FROM view_lifelog');
    expect(after.length).toBe(Number(before[0]?.n) + 1);
    const row = after.find((r) => r.value_quantity === 8412)!;
    expect(row).toMatchObject({ unit: '/d', effective_start: '2024-03-01T00:00:00+09:00' });
    const [owner] = await hub.db.all<{ gender: string; birth_date: string }>(
      'SELECT gender, birth_date FROM view_patient WHERE id = $1',
      [row.patient_key],
    );
    expect(owner).toEqual({ gender: 'female', birth_date: '1990-04' });
    const [tables] = await hub.db.all<{ n: number }>("SELECT row_count AS n FROM view_table WHERE view = 'patient'");
    expect(tables?.n).toBe(101);
    expect((await hub.tables.refresh()).resources).toBe(0);
  });

  it('runs an ad-hoc view with $run for the admin, as CSV or JSON', async () => {
    const view = {
      resourceType: 'ViewDefinition',
      resource: 'Patient',
      select: [
        {
          column: [
            { name: 'id', path: 'getResourceKey()' },
            { name: 'gender', path: 'gender' },
          ],
        },
      ],
    };
    const csv = await runView(adminToken, [
      { name: 'viewResource', resource: view },
      { name: '_format', valueCode: 'csv' },
    ]);
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body.trim().split('\n');
    expect(lines[0]).toBe('id,gender');
    const [patients] = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM view_patient');
    expect(lines).toHaveLength(Number(patients?.n) + 1);
    const json = await runView(adminToken, [
      { name: 'viewReference', valueReference: { reference: 'ViewDefinition/condition' } },
      { name: '_limit', valueInteger: 5 },
    ]);
    expect(json.statusCode).toBe(200);
    const rows = JSON.parse(json.body) as Json[];
    expect(rows).toHaveLength(5);
    expect(rows[0]).toHaveProperty('code_system', 'http://snomed.info/sct');
  });

  it('refuses $run to a token whose role may not see row-level data, and names a bad view', async () => {
    const researcher = await hub.tokens.create('analyst', 'researcher');
    const params = [{ name: 'viewReference', valueReference: { reference: 'ViewDefinition/patient' } }];
    const refused = await runView(researcher, params);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('AUTH_FORBIDDEN');
    const steward = await hub.tokens.create('curator', 'steward');
    const allowed = await runView(steward, params);
    expect(allowed.statusCode).toBe(200);
    const bad = await runView(adminToken, [
      {
        name: 'viewResource',
        resource: { resource: 'Patient', select: [{ forEach: '@@', column: [{ name: 'a', path: 'id' }] }] },
      },
    ]);
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('VIEW_INVALID_PATH');
    expect(bad.body).toContain('select[0].forEach');
  });
});
