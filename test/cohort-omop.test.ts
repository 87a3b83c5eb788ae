import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OmopImportSummary } from '../src/cohort/index.js';
import { importOmop, runCohort } from '../src/cohort/index.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import { tempHub } from './support/temp-hub.js';

function definition(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`./fixtures/cohorts/${name}.json`, import.meta.url), 'utf8'));
}

describeWithSharedData('cohorts over an OMOP CDM (Eunomia GiBleed, v5.3.1)', () => {
  let env: Awaited<ReturnType<typeof tempHub>>;
  let summary: OmopImportSummary;
  beforeAll(async () => {
    env = await tempHub('gibleed');
    summary = await importOmop(env.hub.db, sharedPath('omop-gibleed/csv'), {
      source: 'eunomia',
      region: env.hub.config.name,
      pseudonymiser: env.hub.pseudonymiser,
      clock: env.hub.clock,
    });
  }, 120_000);
  afterAll(async () => env.cleanup());

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
