import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { statsOperation } from '../src/cli/commands/stats.js';
import type { OmopImportSummary } from '../src/cohort/index.js';
import { importOmop, runCohort } from '../src/cohort/index.js';
import { buildHubFeatures, parseTrainingSpec, trainFromSpec } from '../src/models/index.js';
import { applicantCatalog } from '../src/projects/index.js';
import { buildServer } from '../src/server/index.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import { tempHub } from './support/temp-hub.js';

function definition(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/cohorts/${name}.json`, import.meta.url), 'utf8'));
}

const OMOP = 'https://fhir-terminology.ohdsi.org';
const INDEX = '2005-06-15';

/** GI bleeding within ten years of mid-2005, from OMOP conditions, drugs and measurements (Eunomia GiBleed). */
const SPEC = {
  model: 'gibleed-10y',
  name: 'GI bleeding within 10 years',
  conceptSets: {
    gi_bleed: { concepts: [{ system: OMOP, code: '192671', descendants: true }] },
    nsaids: {
      concepts: [
        { system: OMOP, code: '1118084', descendants: true },
        { system: OMOP, code: '1124300', descendants: true },
      ],
    },
    osteoarthritis: { concepts: [{ system: OMOP, code: '80180', descendants: true }] },
    bp_measured: { concepts: [{ system: OMOP, code: '3006322' }] },
  },
  population: { indexDate: INDEX },
  outcome: { name: 'gi_bleed_10y', domain: 'condition', conceptSet: 'gi_bleed', horizonDays: 3650 },
  features: [
    { name: 'age', kind: 'age' },
    { name: 'male', kind: 'sex', value: 'male' },
    {
      name: 'nsaid_fills',
      kind: 'count',
      domain: 'medication',
      conceptSet: 'nsaids',
      window: { start: -3650, end: 0 },
    },
    { name: 'oa', kind: 'count', domain: 'condition', conceptSet: 'osteoarthritis', window: { start: -36500, end: 0 } },
    {
      name: 'measured',
      kind: 'count',
      domain: 'measurement',
      conceptSet: 'bp_measured',
      window: { start: -3650, end: 0 },
    },
  ],
  // Everyone in GiBleed is measured each visit: a small ridge keeps the fit finite.
  learner: { kind: 'logistic', l2: 1 },
  card: { title: 'GI bleeding (GiBleed)', intendedUse: 'test', limitations: ['synthetic data'] },
};

function csvRows(name: string): Record<string, string>[] {
  return parse(gunzipSync(readFileSync(sharedPath(`omop-gibleed/csv/${name}.csv.gz`))), { columns: true });
}

describeWithSharedData('cohorts over an OMOP CDM (Eunomia GiBleed, v5.3.1)', () => {
  let env: Awaited<ReturnType<typeof tempHub>>;
  let summary: OmopImportSummary;
  let app: FastifyInstance;
  // One load for the file: it takes ~20 s on a shared 2-core machine (printed below).
  beforeAll(async () => {
    env = await tempHub('gibleed');
    const started = performance.now();
    summary = await importOmop(env.hub.db, sharedPath('omop-gibleed/csv'), {
      source: 'eunomia',
      region: env.hub.config.name,
      pseudonymiser: env.hub.pseudonymiser,
      clock: env.hub.clock,
    });
    console.log(`GiBleed load: ${Math.round(performance.now() - started)} ms`);
    app = await buildServer(env.hub);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await env.cleanup();
  });

  it('loads the whole CDM: every person, the clinical tables and the concept ancestry', () => {
    expect(summary.persons).toBe(2694);
    expect(summary.cdmVersion).toMatch(/5\.3/);
    expect(summary.events.condition).toBe(65_332);
    expect(summary.events.medication).toBe(67_707);
    expect(summary.events.measurement).toBe(44_053);
    expect(summary.conceptAncestors).toBe(65_690);
  });

  it.each([
    ['gibleed', 479],
    ['gibleed-snomed', 479],
    ['celecoxib', 1844],
    ['diclofenac', 850],
    ['nsaids', 2694],
  ])('counts the %s cohort exactly as Eunomia publishes it (%i persons)', async (name, persons) => {
    const run = await runCohort(env.hub.db, definition(name), env.hub.clock);
    expect(run.persons).toBe(persons);
    expect(run.entries).toBe(persons);
    expect(run.attrition[0]?.persons).toBe(persons);
    const [stored] = await env.hub.db.all<{ n: bigint }>(
      'SELECT COUNT(DISTINCT patient_key) AS n FROM cohort_result WHERE cohort_id = $1',
      [run.cohortId],
    );
    expect(Number(stored?.n)).toBe(persons);
  });

  it('is counted by stats: persons and every clinical table as loaded', async () => {
    const stats = await statsOperation.run(env.hub, {}, { actor: 'cli', onProgress: () => undefined });
    expect(stats.resources).toBe(0);
    expect(stats.omop).toEqual([
      {
        source: 'eunomia',
        persons: summary.persons,
        tables: expect.objectContaining({
          condition_occurrence: summary.events.condition,
          drug_exposure: summary.events.medication,
          measurement: summary.events.measurement,
          procedure_occurrence: summary.events.procedure,
          visit_occurrence: summary.events.encounter,
        }),
      },
    ]);
    expect(stats.omop[0]?.persons).toBe(2694);
    expect(stats.omop[0]?.tables.condition_occurrence).toBe(65_332);
  });

  it('is listed in the catalog with released rows and coverage years, and on the console overview', async () => {
    const catalog = (await applicantCatalog(env.hub)).value.tables;
    const conditions = catalog.find((t) => t.view === 'omop:eunomia:condition_occurrence');
    expect(conditions?.rows).toBe(env.hub.gate.count(65_332).value); // rounded by the gate for applicants
    expect(conditions?.coverage?.from).toMatch(/^19\d\d$/);
    expect(conditions?.coverage?.to).toMatch(/^20[01]\d$/);
    expect(catalog.find((t) => t.view === 'omop:eunomia:person')?.rows).toBe(env.hub.gate.count(2694).value);

    const headers = { authorization: `Bearer ${env.adminToken}` };
    const exact = (await app.inject({ url: '/console/catalog', headers })).json() as {
      tables: { view: string; rows: number }[];
    };
    expect(exact.tables.find((t) => t.view === 'omop:eunomia:drug_exposure')?.rows).toBe(summary.events.medication);
    const overview = (await app.inject({ url: '/console/overview', headers })).json() as {
      counts: { type: string; resources: number }[];
    };
    expect(overview.counts).toContainEqual({ type: 'OMOP eunomia person', resources: 2694 });
    expect(overview.counts).toContainEqual({ type: 'OMOP eunomia measurement', resources: 44_053 });
  });

  it('ages people from their full birth date (day_of_birth)', async () => {
    const spec = parseTrainingSpec(SPEC).features;
    const rows = await buildHubFeatures(env.hub, spec, { trainingDates: true });
    const birth = new Map(
      csvRows('person').map((p) => [
        env.hub.pseudonymiser.patientKey('eunomia', p.person_id ?? ''),
        [Number(p.year_of_birth), Number(p.month_of_birth), Number(p.day_of_birth)] as const,
      ]),
    );
    let sameMonthLaterDay = 0;
    rows.patientKeys.forEach((key, i) => {
      const [y, m, d] = birth.get(key) ?? [Number.NaN, 0, 0];
      // INDEX is 2005-06-15: years + months / 12 + days / 365.25, as the age feature defines it.
      expect(rows.age[i]).toBeCloseTo(2005 - y + (6 - m) / 12 + (15 - d) / 365.25, 9);
      if (m === 6 && d > 15) sameMonthLaterDay++;
    });
    // People whose birthday falls later in the index month: a month-only age would be a year too old for them.
    expect(sameMonthLaterDay).toBeGreaterThan(0);

    const adults = await buildHubFeatures(env.hub, {
      ...spec,
      population: { indexDate: INDEX, age: { min: 40, max: 40 } },
    });
    const expected = rows.patientKeys.filter((key) => {
      const [y, m, d] = birth.get(key) ?? [Number.NaN, 0, 0];
      return 2005 - y - (m > 6 || (m === 6 && d > 15) ? 1 : 0) === 40;
    });
    expect([...adults.patientKeys].sort()).toEqual([...new Set(expected)].sort());
  });

  it('trains a risk model from a feature spec over OMOP conditions, drugs and measurements', async () => {
    const result = await trainFromSpec(env.hub, parseTrainingSpec(SPEC), 'test');
    const y = Array.from(result.rows.matrix.outcome ?? []);
    expect(result.rows.matrix.rows).toBeGreaterThan(1000);
    expect(y.reduce((a, b) => a + b, 0)).toBeGreaterThan(50);
    expect(result.registered.id).toBe('gibleed-10y');
    expect(result.heldOut.overall.auroc).toBeGreaterThan(0.5);
  }, 60_000);
});

describeWithSharedData('an OMOP CDM v5.4 (OHDSI ETL-Synthea, 28 persons)', () => {
  it('loads whole, and a re-import replaces rather than duplicates', async () => {
    const env = await tempHub('synthea54');
    try {
      const options = { source: 'nj', region: 'busan', pseudonymiser: env.hub.pseudonymiser, clock: env.hub.clock };
      const first = await importOmop(env.hub.db, sharedPath('omop-synthea27nj/csv'), options);
      expect(first.cdmVersion).toBe('5.4');
      expect(first.persons).toBe(28);
      const count = async () =>
        Number(
          (await env.hub.db.all<{ n: bigint }>("SELECT COUNT(*) AS n FROM cohort_event WHERE origin = 'omop:nj'"))[0]
            ?.n,
        );
      const events = await count();
      expect(events).toBeGreaterThan(1000);
      await importOmop(env.hub.db, sharedPath('omop-synthea27nj/csv'), options);
      expect(await count()).toBe(events);
      const [persons] = await env.hub.db.all<{ n: bigint }>('SELECT COUNT(*) AS n FROM cohort_person');
      expect(Number(persons?.n)).toBe(28);
    } finally {
      await env.cleanup();
    }
  }, 120_000);
});
