import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_ENGINE } from '../../test/support/test-engine.js';
import { fixedClock } from '../core/index.js';
import type { Database } from '../store/index.js';
import { migrate } from '../store/index.js';
import type { ReleaseCell, ReleaseRequest } from './index.js';
import { PopulationSketch, ReleaseLog, releaseCount, releaseLogMigrations, releaseTerms } from './index.js';

const ENGINES = [TEST_ENGINE] as const;
const NOW = new Date('2026-03-01T00:00:00Z');
const policy = { threshold: 10, rounding: 5, minCellSize: 10 };

const people = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `patient-${from + i}`);

function request(terms: string[], population: string[], extra: Partial<ReleaseRequest> = {}): ReleaseRequest {
  return {
    requester: 'alice',
    family: 'cohort.count',
    terms,
    cells: { total: { count: population.length, released: releaseCount(population.length, policy) } },
    population,
    ...extra,
  };
}

describe('PopulationSketch', () => {
  it('decodes the exact size of a small symmetric difference and gives up on a large one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 0, max: 9 }),
        (n, gone, added) => {
          const cells = PopulationSketch.cellsFor(10);
          const a = PopulationSketch.of(people(0, n + gone), cells);
          const b = PopulationSketch.of(people(gone, n + gone + added), cells);
          expect(a.differenceSize(b)).toBe(gone + added);
        },
      ),
      { numRuns: 100 },
    );
    const cells = PopulationSketch.cellsFor(10);
    expect(
      PopulationSketch.of(people(0, 500), cells).differenceSize(PopulationSketch.of(people(200, 700), cells)),
    ).toBeUndefined();
  });

  it('reads back what it wrote', () => {
    const a = PopulationSketch.of(people(0, 300), 20);
    const b = PopulationSketch.parse(a.serialise());
    expect(b?.size).toBe(300);
    expect(b?.differenceSize(PopulationSketch.of(people(1, 300), 20))).toBe(1);
  });
});

describe('releaseTerms', () => {
  it('gives one term per part, the same however keys are ordered, and a new term for a changed rule', () => {
    const age = { kind: 'age', min: 40 };
    const a = releaseTerms([{ concept: 'T2D', first: true }, age]);
    const b = releaseTerms([
      { first: true, concept: 'T2D' },
      { min: 40, kind: 'age' },
    ]);
    expect(a).toEqual(b);
    const changed = releaseTerms([
      { concept: 'T2D', first: true },
      { kind: 'age', min: 41 },
    ]);
    expect(changed[0]).toBe(a[0]);
    expect(changed[1]).not.toBe(a[1]);
  });
});

for (const engine of ENGINES) {
  describe(`ReleaseLog on ${engine}`, () => {
    let db: Database | undefined;
    afterEach(async () => {
      await db?.close();
      db = undefined;
    });

    async function open() {
      db = await openTestDatabase();
      await migrate(db, releaseLogMigrations, NOW);
      const audited: { outcome: string; detail: Record<string, unknown> }[] = [];
      const log = new ReleaseLog(db, fixedClock(NOW), policy, async (e) => {
        audited.push(e);
      });
      return { log, audited };
    }

    async function refusal(p: Promise<unknown>): Promise<string> {
      try {
        await p;
      } catch (e) {
        return (e as { code: string }).code;
      }
      return 'admitted';
    }

    it('refuses the same definition with one more rule when it drops fewer people than the threshold', async () => {
      const { log, audited } = await open();
      expect(await log.admit(request(['entry:T2D', 'age>=40'], people(0, 503)))).toBe(1);
      // One more rule removes 3 people: 503 → 500 would publish 505 and 500, and 503 − 500 reveals the 3.
      const code = await refusal(log.admit(request(['entry:T2D', 'age>=40', 'not:insulin'], people(3, 503))));
      expect(code).toBe('DISCLOSURE_DIFFERENCING');
      expect(audited).toHaveLength(1);
      expect(audited[0]).toMatchObject({
        outcome: 'denied',
        detail: { code: 'DISCLOSURE_DIFFERENCING', relatedTo: 1 },
      });
    });

    it('refuses a differently worded query whose population differs by fewer than the threshold', async () => {
      const { log } = await open();
      await log.admit(request(['entry:T2D'], people(0, 400)));
      const code = await refusal(log.admit(request(['entry:E11', 'region:gwangju', 'age>=18'], people(0, 393))));
      expect(code).toBe('DISCLOSURE_DIFFERENCING');
    });

    it('refuses a related query where one published cell moves by less than the threshold', async () => {
      const { log } = await open();
      const cells = (f: number, m: number) => ({
        F: { count: f, released: releaseCount(f, policy) },
        M: { count: m, released: releaseCount(m, policy) },
      });
      await log.admit({ requester: 'a', family: 'by-sex', terms: ['entry:CKD'], cells: cells(120, 200) });
      // The extra rule removes 40 men but only 2 women: the total moves a lot, the F cell by 2.
      const code = await refusal(
        log.admit({ requester: 'a', family: 'by-sex', terms: ['entry:CKD', 'egfr<30'], cells: cells(118, 160) }),
      );
      expect(code).toBe('DISCLOSURE_DIFFERENCING');
    });

    it('answers an unchanged definition again with the earlier result when a few people came since', async () => {
      const { log, audited } = await open();
      const first = await log.admitResult(request(['entry:T2D'], people(0, 400)), { persons: 400 });
      expect(first).toEqual({ seq: 1, result: { persons: 400 } });
      // Three new people: a fresh answer (403) beside the published 400 would reveal them.
      const again = await log.admitResult(request(['entry:T2D'], people(0, 403)), { persons: 405 });
      expect(again).toEqual({ seq: 1, result: { persons: 400 }, reusedFrom: NOW });
      expect(audited).toHaveLength(0);
      // A changed definition is still refused: reuse is for the same question only.
      const code = await refusal(log.admitResult(request(['entry:T2D', 'age>=40'], people(0, 397)), { persons: 395 }));
      expect(code).toBe('DISCLOSURE_DIFFERENCING');
      // Once the population has moved by the threshold, the fresh answer is released and kept.
      const moved = await log.admitResult(request(['entry:T2D'], people(0, 412)), { persons: 410 });
      expect(moved).toEqual({ seq: 2, result: { persons: 410 } });
      // A release without a kept result (plain `admit`) is never answered again: it is refused as before.
      await log.admit(request(['entry:CKD'], people(0, 300)));
      expect(await refusal(log.admitResult(request(['entry:CKD'], people(0, 302)), { persons: 300 }))).toBe(
        'DISCLOSURE_DIFFERENCING',
      );
    });

    it('admits an exact repeat, a clearly different population, and an unrelated family', async () => {
      const { log } = await open();
      await log.admit(request(['entry:T2D'], people(0, 400)));
      expect(await log.admit(request(['entry:T2D'], people(0, 400)))).toBe(2);
      expect(await log.admit(request(['entry:T2D', 'age>=65'], people(0, 150)))).toBe(3);
      expect(await log.admit(request(['entry:T2D', 'age>=40'], people(0, 397), { family: 'other' }))).toBe(4);
    });

    it('compares cells only when no population is given', async () => {
      const { log } = await open();
      const cell = (n: number) => ({ total: { count: n, released: releaseCount(n, policy) } });
      await log.admit({ requester: 'a', family: 'f', terms: ['x'], cells: cell(100) });
      expect(await refusal(log.admit({ requester: 'a', family: 'f', terms: ['x', 'y'], cells: cell(95) }))).toBe(
        'DISCLOSURE_DIFFERENCING',
      );
      expect(await log.admit({ requester: 'a', family: 'f', terms: ['x', 'y'], cells: cell(85) })).toBe(2);
    });

    it('withholds a part whose contributors differ from an earlier release by fewer than the threshold', async () => {
      const { log, audited } = await open();
      // A measurement's contributors: the people of the cohort with a value.
      const lab = (population: string[]) => ({
        label: 'lab',
        family: 'cohort.measurement/loinc|2345-7',
        terms: ['entry:T2D'],
        cells: { n: { count: population.length, released: releaseCount(population.length, policy) } },
        population,
      });
      const build = (withheld: ReadonlySet<string>) => ({ lab: withheld.has('lab') ? 'withheld' : 'mean' });
      // Cohorts aged 30–54 and 30–58: 40 and 52 people, so the cohorts are far enough apart; their lab
      // contributors are 23 and 24 people, one apart.
      const a = await log.admitParts(request(['entry:T2D', 'age:30-54'], people(0, 40)), [lab(people(0, 23))], build);
      expect(a).toMatchObject({ seq: 1, result: { lab: 'mean' }, withheld: [] });
      const b = await log.admitParts(
        request(['entry:T2D', 'age:30-58'], people(0, 52)),
        [lab([...people(0, 23), 'patient-45'])],
        build,
      );
      expect(b).toMatchObject({ result: { lab: 'withheld' }, withheld: ['lab'] });
      expect(audited).toHaveLength(1);
      expect(audited[0]).toMatchObject({ detail: { code: 'DISCLOSURE_DIFFERENCING', part: 'lab', relatedTo: 2 } });
      // The withheld part was not recorded: only the two cohorts and the first lab release are in the log.
      const rows = await db!.all<{ family: string }>('SELECT family FROM disclosure_release ORDER BY seq');
      expect(rows.map((r) => r.family)).toEqual(['cohort.count', 'cohort.measurement/loinc|2345-7', 'cohort.count']);
      // Contributors that moved by the threshold or more are released and recorded.
      const c = await log.admitParts(request(['entry:T2D', 'age:30-70'], people(0, 80)), [lab(people(0, 40))], build);
      expect(c).toMatchObject({ result: { lab: 'mean' }, withheld: [] });
      // A refused whole records none of its parts, nor does an earlier release answered again.
      const changed = request(['entry:T2D', 'age:30-70', 'female'], people(0, 77));
      expect(await refusal(log.admitParts(changed, [lab(people(0, 60))], build))).toBe('DISCLOSURE_DIFFERENCING');
      const again = await log.admitParts(
        request(['entry:T2D', 'age:30-70'], people(0, 77)),
        [lab(people(0, 60))],
        build,
      );
      expect(again).toMatchObject({ seq: 4, reused: { lab: 'mean' }, reusedFrom: NOW });
      expect(await db!.all('SELECT seq FROM disclosure_release')).toHaveLength(5);
    });

    it('holds back a group of cells a late record moved by less than the threshold, and releases the rest', async () => {
      const { log } = await open();
      const weeks = (counts: Record<string, [number, number]>) => {
        const cells: Record<string, ReleaseCell> = {};
        for (const [week, [ili, confirmed]] of Object.entries(counts)) {
          cells[`${week}|ili`] = { count: ili, released: releaseCount(ili, policy) };
          cells[`${week}|confirmed`] = { count: confirmed, released: releaseCount(confirmed, policy) };
        }
        return { requester: 'peer:a', family: 'series', terms: ['ili'], cells };
      };
      const week = (label: string) => label.slice(0, label.indexOf('|'));
      const first = await log.admitHolding(weeks({ w1: [30, 20], w2: [40, 12] }), week);
      expect(first.held).toEqual([]);
      // Three late visits in w1 (two confirmed), a new week w3: w1 goes out as it did, the rest as they are.
      const second = await log.admitHolding(weeks({ w1: [33, 22], w2: [40, 12], w3: [52, 30] }), week);
      expect(second.held).toEqual(['w1']);
      expect(second.cells['w1|ili']).toEqual({ count: 30, released: 30 });
      expect(second.cells['w1|confirmed']).toEqual({ count: 20, released: 20 });
      expect(second.cells['w3|ili']).toEqual({ count: 52, released: 50 });
      // Plain admit would have refused the same request.
      expect(await refusal(log.admit(weeks({ w1: [33, 22], w2: [40, 12], w3: [52, 30] })))).toBe(
        'DISCLOSURE_DIFFERENCING',
      );
      // Once w1 has moved by the threshold from what was published, it moves on.
      const third = await log.admitHolding(weeks({ w1: [41, 31], w2: [40, 12], w3: [52, 30] }), week);
      expect(third.held).toEqual([]);
      expect(third.cells['w1|ili']).toEqual({ count: 41, released: 40 });
      // A group no earlier release published in full cannot be held at anything: refused, as admit would.
      const cells = { 'w2|ili': { count: 43, released: 45 }, 'w9|ili': { count: 20, released: 20 } };
      const unheld = { requester: 'peer:a', family: 'series', terms: ['ili'], cells };
      expect(await refusal(log.admitHolding(unheld, () => 'one group'))).toBe('DISCLOSURE_DIFFERENCING');
    });
  });
}
