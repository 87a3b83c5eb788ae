import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importOmop } from '../src/cohort/index.js';
import type { ResourceWrite, StagedBatch, StagedFiles } from '../src/store/index.js';
import { StagedRowsWriter } from '../src/store/index.js';
import { tempHub } from './support/temp-hub.js';

/**
 * Writes above a DuckDB row group (122,880 rows) through the whole path after ingest's workers: the store's staged
 * write (versions, heads and three search tables in one transaction), the views refresh's parallel path (two
 * analytic tables and `view_source` per load) and the event index, all from one after-commit pipeline, then again
 * with every resource changed. DuckDB 1.5 lost large inserts that followed others in one transaction (see
 * test/event-index-large.test.ts); this checks every count after the first write and after the second.
 */
describe('writes above a row group, from the staged store write to the event index', () => {
  const N = 125_000;
  const PEOPLE = 1_000;
  let env: Awaited<ReturnType<typeof tempHub>>;
  const work = mkdtempSync(join(tmpdir(), 'hm-row-group-'));

  beforeAll(async () => {
    env = await tempHub('row-group-writes');
  }, 60_000);
  afterAll(async () => {
    await env?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  /** N Observations staged in 10,000-record chunks, as the ingest's workers stage them; `round` changes every body. */
  function stagedObservations(round: number): StagedBatch {
    const writer = new StagedRowsWriter();
    const chunks: StagedFiles[] = [];
    for (let i = 0; i < N; i++) {
      const patient = `p${i % PEOPLE}`;
      const content = JSON.stringify({
        resourceType: 'Observation',
        id: `o${i}`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
        subject: { reference: `Patient/${patient}` },
        effectiveDateTime: '2020-03-01',
        valueQuantity: { value: 100 + round, unit: 'mm[Hg]' },
      });
      const write: Omit<ResourceWrite, 'source'> = {
        type: 'Observation',
        id: `o${i}`,
        patientKey: patient,
        content,
        hash: `h${round}-${i}`,
        search: {
          tokens: [['code', 'http://loinc.org', '8480-6']],
          dates: [['date', 0, 86_399_999]],
          references: [['subject', `Patient/${patient}`]],
        },
      };
      writer.add(i, write);
      if (i % 10_000 === 9_999 || i === N - 1) chunks.push(writer.write(work, `r${round}c${i}`));
    }
    const pick = (f: (c: StagedFiles) => string | undefined) => chunks.map(f).filter((x): x is string => !!x);
    return {
      source: 'test',
      fromKey: 0,
      toKey: N - 1,
      count: N,
      files: {
        records: pick((c) => c.records),
        versions: pick((c) => c.versions),
        tokens: pick((c) => c.tokens),
        dates: pick((c) => c.dates),
        references: pick((c) => c.references),
        longestLine: Math.max(...chunks.map((c) => c.longestLine)),
      },
    };
  }

  async function counts() {
    const { db } = env.hub;
    const one = async (sql: string) => Number((await db.all<{ n: number }>(sql))[0]?.n);
    return {
      versions: await one('SELECT COUNT(*) AS n FROM resource_version'),
      heads: await one('SELECT COUNT(*) AS n FROM resource_head'),
      tokens: await one('SELECT COUNT(*) AS n FROM search_token'),
      dates: await one('SELECT COUNT(*) AS n FROM search_date'),
      references: await one('SELECT COUNT(*) AS n FROM search_reference'),
      observationRows: await one('SELECT COUNT(*) AS n FROM view_observation'),
      distinctObservations: await one('SELECT COUNT(DISTINCT _resource_id) AS n FROM view_observation'),
      valueSum: await one('SELECT SUM(value_quantity) AS n FROM view_observation'),
      sources: await one(`SELECT COUNT(*) AS n FROM view_source WHERE view = 'observation'`),
      sourceVersions: await one(`SELECT SUM(version) AS n FROM view_source WHERE view = 'observation'`),
      events: await one(`SELECT COUNT(*) AS n FROM cohort_event WHERE domain = 'measurement'`),
    };
  }

  it('keeps every version, head, index row, analytic row and event, write after write', async () => {
    const { hub } = env;
    for (const round of [1, 2]) {
      const batch = stagedObservations(round);
      const { result, derived } = await hub.derived.afterWrite(() => hub.store.writeStaged(batch, hub.clock.now()));
      expect(result, `round ${round}`).toEqual([
        { type: 'Observation', status: round === 1 ? 'created' : 'updated', count: N },
      ]);
      expect(derived.steps.views, `round ${round}`).toBe(N);
      expect(await counts(), `round ${round}`).toEqual({
        versions: round * N,
        heads: N,
        tokens: N,
        dates: N,
        references: N,
        observationRows: N,
        distinctObservations: N,
        valueSum: (100 + round) * N,
        sources: N,
        sourceVersions: round * N,
        events: N,
      });
    }
    // A pass over an unchanged store changes nothing.
    await hub.derived.bringCurrent({ force: true });
    expect((await counts()).observationRows).toBe(N);
    expect((await counts()).events).toBe(N);
  }, 120_000);

  it('imports an OMOP CDM whose event tables are above a row group, import after import', async () => {
    const { hub } = env;
    const M = 125_000;
    const dir = join(work, 'omop');
    mkdirSync(dir);
    const csv = (name: string, header: string, rows: number, row: (i: number) => string) => {
      const lines = [header];
      for (let i = 0; i < rows; i++) lines.push(row(i));
      writeFileSync(join(dir, `${name}.csv`), `${lines.join('\n')}\n`);
    };
    csv('person', 'person_id,gender_concept_id,year_of_birth', PEOPLE, (i) => `${i},8532,1970`);
    csv(
      'observation_period',
      'person_id,observation_period_start_date,observation_period_end_date',
      PEOPLE,
      (i) => `${i},2010-01-01,2020-12-31`,
    );
    csv('concept', 'concept_id,vocabulary_id,concept_code', 2, (i) =>
      i === 0 ? '3004249,LOINC,8480-6' : '201826,SNOMED,44054006',
    );
    // Each event table above a row group, and each loaded twice (OMOP concept and vocabulary code): four large
    // inserts into the event index in one transaction, then the vocabulary read back from them.
    csv(
      'measurement',
      'person_id,measurement_concept_id,measurement_date,value_as_number,unit_source_value',
      M,
      (i) => `${i % PEOPLE},3004249,2015-03-01,120,mm[Hg]`,
    );
    csv(
      'condition_occurrence',
      'person_id,condition_concept_id,condition_start_date',
      M,
      (i) => `${i % PEOPLE},201826,2016-04-01`,
    );
    const origin = 'omop:row-group';
    for (const round of [1, 2]) {
      const summary = await importOmop(hub.db, dir, {
        source: 'row-group',
        region: 'test',
        pseudonymiser: hub.pseudonymiser,
        clock: hub.clock,
      });
      expect(summary.events, `round ${round}`).toEqual({ measurement: M, condition: M });
      const byDomain = await hub.db.all<{ domain: string; system: string; n: number }>(
        'SELECT domain, system, COUNT(*) AS n FROM cohort_event WHERE origin = $1 GROUP BY 1, 2 ORDER BY 1, 2',
        [origin],
      );
      expect(
        byDomain.map((r) => [r.domain, r.system, Number(r.n)]),
        `round ${round}`,
      ).toEqual([
        ['condition', 'http://snomed.info/sct', M],
        ['condition', 'https://fhir-terminology.ohdsi.org', M],
        ['measurement', 'http://loinc.org', M],
        ['measurement', 'https://fhir-terminology.ohdsi.org', M],
      ]);
      const [vocabulary] = await hub.db.all<{ events: number }>(
        'SELECT SUM(events) AS events FROM cohort_vocabulary WHERE origin = $1',
        [origin],
      );
      expect(Number(vocabulary?.events), `round ${round}`).toBe(4 * M);
      const [persons] = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM cohort_person WHERE origin = $1', [
        origin,
      ]);
      expect(Number(persons?.n), `round ${round}`).toBe(PEOPLE);
    }
  }, 120_000);
});
