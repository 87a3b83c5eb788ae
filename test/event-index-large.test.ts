import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshEventIndex } from '../src/cohort/index.js';
import { tempHub } from './support/temp-hub.js';

/**
 * The event index rebuilt over analytic tables larger than a DuckDB row group (122,880 rows), as a hub of 100,000
 * people has: written one INSERT per source, DuckDB 1.5 lost the second large insert of the rebuild's transaction
 * (every encounter event), which shrank every person's observation period and so every population, and left those
 * rows behind the next rebuild's DELETE. The analytic tables are filled directly in SQL to keep this fast.
 */
describe('the event index over large analytic tables', () => {
  const PEOPLE = 60_000;
  let env: Awaited<ReturnType<typeof tempHub>>;

  beforeAll(async () => {
    env = await tempHub('event-index-large');
    const { db } = env.hub;
    await db.run(
      `INSERT INTO view_patient (_resource_id, id, gender, birth_date)
       SELECT 'p' || i, 'p' || i, 'female', '1970-01-01' FROM range(${PEOPLE}) t(i)`,
    );
    // The views carry each row's shard key (the patient key) beside it, as a refresh writes them.
    // 150,000 measurements on one day, then 180,000 encounters in 2018 and 2025: both sources above a row group.
    await db.run(
      `INSERT INTO view_observation (_resource_id, patient_key, _shard_key, code_system, code_code, effective_start, value_quantity, unit)
       SELECT 'o' || i, 'p' || (i % ${PEOPLE}), 'p' || (i % ${PEOPLE}), 'http://loinc.org', '8480-6', '2020-03-01', 120, 'mm[Hg]' FROM range(150000) t(i)`,
    );
    await db.run(
      `INSERT INTO view_encounter (_resource_id, patient_key, _shard_key, class_code, start)
       SELECT 'e' || i, 'p' || (i % ${PEOPLE}), 'p' || (i % ${PEOPLE}), 'AMB', CASE WHEN i < ${PEOPLE} THEN '2018-06-01' ELSE '2025-06-01' END
       FROM range(180000) t(i)`,
    );
  }, 120_000);
  afterAll(async () => env?.cleanup());

  it('keeps every event, every observation period and the vocabulary, rebuild after rebuild', async () => {
    const { db, clock } = env.hub;
    for (let round = 0; round < 2; round++) {
      expect(await refreshEventIndex(db, clock, true)).toBe(true);
      const byDomain = await db.all<{ domain: string; n: number }>(
        'SELECT domain, COUNT(*) AS n FROM cohort_event GROUP BY domain ORDER BY domain',
      );
      expect(
        byDomain.map((r) => [r.domain, Number(r.n)]),
        `round ${round}`,
      ).toEqual([
        ['encounter', 180_000],
        ['measurement', 150_000],
      ]);
      const [periods] = await db.all<{ n: number; whole: number }>(
        `SELECT COUNT(*) AS n,
           SUM(CASE WHEN observation_start = DATE '2018-06-01' AND observation_end = DATE '2025-06-01' THEN 1 ELSE 0 END) AS whole
         FROM cohort_person`,
      );
      expect([Number(periods!.n), Number(periods!.whole)], `round ${round}`).toEqual([PEOPLE, PEOPLE]);
      const [vocabulary] = await db.all<{ events: number }>('SELECT SUM(events) AS events FROM cohort_vocabulary');
      expect(Number(vocabulary!.events), `round ${round}`).toBe(330_000);
    }
  }, 120_000);
});
