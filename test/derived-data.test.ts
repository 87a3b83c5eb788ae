import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { CohortFederation, runCohort } from '../src/cohort/index.js';
import { isHealthmeshError, silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { ALL_MIGRATIONS, HUB_MODULES, openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { DuckDbDatabase } from '../src/store/index.js';
import { captureIo } from './support/cli-capture.js';
import { tempHub } from './support/temp-hub.js';

/** Everyone with a fasting glucose: one person per write path below. */
const GLUCOSE_COHORT = {
  name: 'fasting glucose measured',
  conceptSets: { fpg: { concepts: [{ system: 'http://loinc.org', code: '1558-6' }] } },
  entry: { domain: 'measurement', conceptSet: 'fpg' },
};

function patientAndGlucose(patient: string, ref: (id: string) => string) {
  return [
    { resourceType: 'Patient', id: patient, gender: 'female', birthDate: '1960-05-01' },
    {
      resourceType: 'Observation',
      id: `glucose-${patient}`,
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '1558-6' }] },
      subject: { reference: ref(patient) },
      effectiveDateTime: '2024-03-01',
      valueQuantity: { value: 101, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    },
  ];
}
const ndjson = (patient: string) =>
  patientAndGlucose(patient, (id) => `Patient/${id}`)
    .map((r) => JSON.stringify(r))
    .join('\n');

/** The store's write stamp and what each derived table reflects, read from the file without opening a hub. */
async function stampsOnDisk(store: string): Promise<{ store: number; derived: Record<string, number> }> {
  const db = await DuckDbDatabase.open(store);
  try {
    const [v] = await db.all<{ n: unknown }>('SELECT COUNT(*) AS n FROM resource_version');
    const rows = await db.all<{ step: string; write_stamp: unknown }>('SELECT step, write_stamp FROM derived_state');
    return { store: Number(v?.n), derived: Object.fromEntries(rows.map((r) => [r.step, Number(r.write_stamp)])) };
  } finally {
    await db.close();
  }
}

/** Every derived table's bookkeeping: a request that rebuilt anything would change one of these. */
async function derivedSnapshot(hub: Hub): Promise<unknown> {
  return {
    state: await hub.db.all('SELECT step, write_stamp, refreshed_at FROM derived_state ORDER BY step'),
    views: await hub.db.all('SELECT view, row_count, refreshed_at FROM view_table ORDER BY view'),
    index: await hub.db.all('SELECT origin, source_stamp, built_at FROM cohort_index_state ORDER BY origin'),
    consent: await hub.db.all('SELECT source_stamp, built_at FROM consent_decision_state'),
  };
}

const glucosePersons = async (hub: Hub) => (await runCohort(hub.db, GLUCOSE_COHORT, hub.clock)).persons;

describe('derived data kept current on write', () => {
  let env: Awaited<ReturnType<typeof tempHub>>;
  let hub: Hub;
  let app: FastifyInstance;
  beforeAll(async () => {
    env = await tempHub('derived');
    await env.hub.close();
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await env.cleanup();
  });

  it('runs the migrations of every module when a hub opens', async () => {
    const db = await DuckDbDatabase.open(join(env.dir, 'store.duckdb'));
    try {
      const rows = await db.all<{ module: string; version: number }>('SELECT module, version FROM schema_migrations');
      const applied = new Set(rows.map((r) => `${r.module}:${r.version}`));
      expect(ALL_MIGRATIONS.map((m) => `${m.module}:${m.version}`).filter((k) => !applied.has(k))).toEqual([]);
      expect([...new Set(rows.map((r) => r.module))].sort()).toEqual(
        [
          'access',
          'accounts',
          'cohort',
          'federation',
          'hub',
          'models',
          'mydata',
          'outputs',
          'privacy',
          'projects',
          'store',
          'surveillance',
          'validation',
          'views',
        ].sort(),
      );
      // Every module with tables is in the registry: none makes its tables on first use.
      expect(HUB_MODULES.filter((m) => m.migrations.length > 0).map((m) => m.name)).toEqual([
        'hub',
        'store',
        'access',
        'privacy',
        'accounts',
        'views',
        'federation',
        'cohort',
        'models',
        'validation',
        'surveillance',
        'projects',
        'outputs',
        'mydata',
      ]);
    } finally {
      await db.close();
    }
  });

  it('brings the derived tables up to date at the end of `healthmesh ingest`, before any reader runs', async () => {
    const file = join(env.dir, 'cli.ndjson');
    writeFileSync(file, ndjson('p-cli'));
    const c = captureIo();
    expect(await main(['ingest', '--dir', env.dir, '--source', 'lab', '--json', file], c.io)).toBe(0);
    const summary = JSON.parse(c.out) as { derived: { writeStamp: number; steps: Record<string, number> } };
    expect(summary.derived.steps.views).toBe(2);
    // Read from the file with no hub opened (opening one would bring it current): the write itself did.
    const stamps = await stampsOnDisk(join(env.dir, 'store.duckdb'));
    expect(stamps.derived).toEqual({ consent: stamps.store, views: stamps.store, 'cohort-index': stamps.store });
    expect(summary.derived.writeStamp).toBe(stamps.store);

    hub = await openHub(env.dir, { logger: silentLogger() });
    const before = await derivedSnapshot(hub);
    expect(await glucosePersons(hub)).toBe(1);
    expect(await derivedSnapshot(hub)).toEqual(before);
  });

  it('does the same after POST /fhir and a console upload', async () => {
    app = await buildServer(hub);
    const auth = { authorization: `Bearer ${env.adminToken}` };
    const uuid = randomUUID();
    const [patient, observation] = patientAndGlucose('p-api', () => `urn:uuid:${uuid}`);
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: `urn:uuid:${uuid}`, resource: patient, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: `urn:uuid:${randomUUID()}`, resource: observation, request: { method: 'POST', url: 'Observation' } },
      ],
    };
    const posted = await app.inject({ method: 'POST', url: '/fhir?source=lab', headers: auth, payload: bundle });
    expect(posted.statusCode, posted.body).toBe(200);
    expect(await hub.derived.staleSteps()).toEqual([]);
    expect(await glucosePersons(hub)).toBe(2);

    const uploaded = await app.inject({
      method: 'POST',
      url: '/console/ingest?name=upload.ndjson&source=lab',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      payload: Buffer.from(ndjson('p-upload')),
    });
    expect(uploaded.statusCode).toBe(200);
    expect(await hub.derived.staleSteps()).toEqual([]);
    expect(await glucosePersons(hub)).toBe(3);
  });

  it("answers a peer's cohort request without writing any derived table", async () => {
    const run = new CohortFederation(hub).register().handler('cohort.run');
    const before = await derivedSnapshot(hub);
    await run({ peer: 'gyeonggi', operation: 'cohort.run', body: { definition: GLUCOSE_COHORT } });
    expect(await derivedSnapshot(hub)).toEqual(before);
  });

  it("refuses a peer's cohort request when derived data lags the store, rebuilding nothing", async () => {
    // A commit whose refresh never ran (a crash between the two), written beneath the pipeline.
    const [patient] = await hub.db.all<{ patient_key: string }>(
      "SELECT patient_key FROM resource_version WHERE type = 'Patient' LIMIT 1",
    );
    const content = JSON.stringify({
      ...patientAndGlucose('p-crash', () => `Patient/${String(patient?.patient_key)}`)[1],
      id: 'glucose-crash',
    });
    await hub.store.write(
      [
        {
          type: 'Observation',
          id: 'glucose-crash',
          hash: 'crash',
          patientKey: patient!.patient_key,
          source: 'lab',
          content,
          search: { tokens: [], dates: [], references: [] },
        },
      ],
      hub.clock.now(),
    );
    expect(await hub.derived.staleSteps()).toEqual(['consent', 'views', 'cohort-index']);
    const before = await derivedSnapshot(hub);
    const run = new CohortFederation(hub).register().handler('cohort.run');
    await expect(
      run({ peer: 'gyeonggi', operation: 'cohort.run', body: { definition: GLUCOSE_COHORT } }),
    ).rejects.toSatisfy((e: unknown) => isHealthmeshError(e) && e.code === 'HUB_DERIVED_STALE');
    expect(await derivedSnapshot(hub)).toEqual(before);
    // The event index still reflects the last completed write.
    expect(await glucosePersons(hub)).toBe(3);

    // Reopening repairs: the hub brings derived data current before it serves.
    await app.close();
    await hub.close();
    hub = await openHub(env.dir, { logger: silentLogger() });
    app = await buildServer(hub);
    expect(await hub.derived.staleSteps()).toEqual([]);
    const [flattened] = await hub.db.all<{ n: unknown }>(
      "SELECT COUNT(*) AS n FROM view_observation WHERE id = 'glucose-crash'",
    );
    expect(Number(flattened?.n)).toBe(1);
  });
});
