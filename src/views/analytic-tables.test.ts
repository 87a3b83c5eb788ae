import { describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/test-engine.js';
import { fixedClock } from '../core/index.js';
import type { Database, ResourceWrite, SqlValue } from '../store/index.js';
import { migrate, ResourceStore, resourceStoreMigrations } from '../store/index.js';
import { AnalyticTables } from './analytic-tables.js';
import type { BuiltInViewName } from './builtin-views.js';
import { analyticTable, BUILT_IN_VIEWS } from './builtin-views.js';
import { loadBoundaries } from './staged-refresh.js';

const clock = fixedClock(new Date('2025-01-01T00:00:00Z'));

function write(type: string, id: string, body: Record<string, unknown>): ResourceWrite {
  const content = JSON.stringify({ resourceType: type, id, ...body });
  return {
    type,
    id,
    patientKey: null,
    source: 's',
    content,
    hash: content,
    search: { tokens: [], dates: [], references: [] },
  };
}

/** On PostgreSQL a copy of the store's migrated template (test-engine.ts): migrating each cost 2.4 s on Citus. */
async function storeWith(): Promise<{ db: Database; store: ResourceStore }> {
  const db = await openTestDatabase(undefined, { store: true });
  await migrate(db, resourceStoreMigrations, clock.now());
  return { db, store: new ResourceStore(db) };
}

const conditionOnly = BUILT_IN_VIEWS.filter((v) => v.name === 'condition');

describe('analytic tables', () => {
  it('replaces the rows of a changed resource and leaves the others alone', async () => {
    const { db, store } = await storeWith();
    const code = (c: string) => ({ code: { coding: [{ system: 'http://snomed.info/sct', code: c }] } });
    await store.write([write('Condition', 'c1', code('111')), write('Condition', 'c2', code('222'))], clock.now());
    const tables = await AnalyticTables.open(db, { region: 'busan', clock, views: conditionOnly });
    const first = await tables.refresh();
    expect(first.views[0]).toMatchObject({ flattened: 2, rows: 2, rebuilt: true });

    await store.write([write('Condition', 'c1', code('333'))], clock.now());
    const second = await tables.refresh();
    expect(second.views[0]).toMatchObject({ flattened: 1, rows: 2, rebuilt: false });
    const rows = await db.all('SELECT id, code_code, region FROM view_condition ORDER BY id');
    expect(rows).toEqual([
      { id: 'c1', code_code: '333', region: 'busan' },
      { id: 'c2', code_code: '222', region: 'busan' },
    ]);
    await db.close();
  });

  // Each way a refresh can find the change: every resource checked, the ingest's ids, the parallel path.
  for (const mode of ['all', 'ids', 'parallel'] as const) {
    it(`moves a resource's rows with its subject, none left under the old patient (refresh: ${mode})`, async () => {
      const { db, store } = await storeWith();
      const condition = (id: string, subject: string | null, code: string): ResourceWrite => {
        const body = {
          ...(subject !== null && { subject: { reference: subject } }),
          code: { coding: [{ system: 'http://snomed.info/sct', code }] },
        };
        const key = subject?.startsWith('Patient/') ? subject.slice('Patient/'.length) : null;
        return { ...write('Condition', id, body), patientKey: key };
      };
      await store.write(
        [condition('c1', 'Patient/p1', '111'), condition('c2', 'Patient/p1', '222'), condition('c3', null, '333')],
        clock.now(),
      );
      const tables = await AnalyticTables.open(db, {
        region: 'busan',
        clock,
        views: conditionOnly,
        parallelFrom: mode === 'parallel' ? 0 : Number.POSITIVE_INFINITY,
      });
      await tables.refresh();
      // c1 moves to another patient, c2 to no patient (a Group), c3 from none to a patient.
      await store.write(
        [
          condition('c1', 'Patient/p2', '111'),
          condition('c2', 'Group/g1', '222'),
          condition('c3', 'Patient/p3', '333'),
        ],
        clock.now(),
      );
      const summary = await tables.refresh(mode === 'ids' ? { ids: ['c1', 'c2', 'c3'] } : {});
      expect(summary.views[0], mode).toMatchObject({ flattened: 3, rows: 3, rebuilt: false });
      expect(
        await db.all('SELECT id, patient_key, _shard_key, code_code FROM view_condition ORDER BY id'),
        mode,
      ).toEqual([
        { id: 'c1', patient_key: 'p2', _shard_key: 'p2', code_code: '111' },
        { id: 'c2', patient_key: null, _shard_key: '', code_code: '222' },
        { id: 'c3', patient_key: 'p3', _shard_key: 'p3', code_code: '333' },
      ]);
      expect(await db.all('SELECT id, version, shard_key FROM view_source ORDER BY id'), mode).toEqual([
        { id: 'c1', version: 2, shard_key: 'p2' },
        { id: 'c2', version: 2, shard_key: '' },
        { id: 'c3', version: 2, shard_key: 'p3' },
      ]);
      // Nothing is left stale: the next refresh finds nothing to do.
      expect((await tables.refresh()).resources, mode).toBe(0);
      await db.close();
    });
  }

  it('stamps only the tables a refresh changed, so readers of the stamps rebuild only then', async () => {
    const { db, store } = await storeWith();
    const ticking = fixedClock(new Date('2025-01-01T00:00:00Z'));
    const code = (c: string) => ({ code: { coding: [{ system: 'http://snomed.info/sct', code: c }] } });
    await store.write([write('Condition', 'c1', code('111'))], ticking.now());
    const views = BUILT_IN_VIEWS.filter((v) => v.name === 'condition' || v.name === 'patient');
    const tables = await AnalyticTables.open(db, { region: 'busan', clock: ticking, views });
    await tables.refresh();
    const stamps = async () =>
      Object.fromEntries((await tables.list()).map((t) => [t.view, t.refreshedAt?.toISOString()]));
    const built = await stamps();
    ticking.advance(60_000);
    const idle = await tables.refresh();
    expect(idle.views.map((v) => [v.view, v.flattened, v.rows])).toEqual([
      ['patient', 0, 0],
      ['condition', 0, 1],
    ]);
    expect(await stamps()).toEqual(built);
    ticking.advance(60_000);
    await store.write([write('Condition', 'c2', code('222'))], ticking.now());
    await tables.refresh();
    expect(await stamps()).toEqual({ ...built, condition: '2025-01-01T00:02:00.000Z' });
    // What other modules compare (the event index): every built table by view name, with its stamp and rows.
    expect((await AnalyticTables.refreshed(db)).map((t) => [t.view, t.refreshedAt.toISOString(), t.rows])).toEqual([
      ['condition', '2025-01-01T00:02:00.000Z', 2],
      ['patient', built.patient, 0],
    ]);
    await db.close();
  });

  it('names the table of every built-in view for the SQL of other modules', () => {
    // A Record over the name type: a view added to the union but not here (or the reverse) fails to compile.
    const names: Record<BuiltInViewName, true> = {
      patient: true,
      condition: true,
      observation: true,
      encounter: true,
      medication_request: true,
      immunization: true,
      procedure: true,
      consent: true,
      lifelog: true,
    };
    expect(Object.keys(names).sort()).toEqual(BUILT_IN_VIEWS.map((v) => v.name).sort());
    expect(analyticTable('observation')).toBe('view_observation');
  });

  it('rebuilds to the same rows from the resource store, and when the view definition changes', async () => {
    const { db, store } = await storeWith();
    await store.write([write('Condition', 'c1', { clinicalStatus: { coding: [{ code: 'active' }] } })], clock.now());
    const tables = await AnalyticTables.open(db, { region: 'busan', clock, views: conditionOnly });
    await tables.refresh();
    const before = await db.all('SELECT * FROM view_condition');
    const rebuilt = await tables.refresh({ rebuild: true });
    expect(rebuilt.views[0]?.rebuilt).toBe(true);
    expect(await db.all('SELECT * FROM view_condition')).toEqual(before);
    // Another region is another definition: the table is rebuilt with it, not patched.
    const other = await AnalyticTables.open(db, { region: 'gyeonggi', clock, views: conditionOnly });
    const moved = await other.refresh();
    expect(moved.views[0]).toMatchObject({ rebuilt: true, flattened: 1 });
    expect(await db.all('SELECT region FROM view_condition')).toEqual([{ region: 'gyeonggi' }]);
    await db.close();
  });

  it('keeps an empty table of the same layout on a rebuild, and makes one holding rows anew', async () => {
    const { db, store } = await storeWith();
    // The tables a refresh makes, seen in the statements it runs (its own and its transactions').
    const made: string[] = [];
    const watched = (d: Database): Database =>
      new Proxy(d, {
        get(target, key) {
          if (key === 'run') {
            return (sql: string, params?: readonly SqlValue[]) => {
              const table = /^CREATE TABLE "(view_\w+)"/.exec(sql)?.[1];
              if (table !== undefined) made.push(table);
              return target.run(sql, params);
            };
          }
          if (key === 'transaction') {
            return <T>(fn: (tx: Database) => Promise<T>) => target.transaction((tx) => fn(watched(tx)));
          }
          const value: unknown = Reflect.get(target, key, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    const refresh = async (region: string) =>
      (await AnalyticTables.open(watched(db), { region, clock, views: conditionOnly })).refresh();
    expect((await refresh('busan')).views[0]).toMatchObject({ rebuilt: true, rows: 0 });
    expect(made).toEqual(['view_condition']);
    // Another region is another definition of the same layout: the empty table is kept, and filled as the new one.
    expect((await refresh('gyeonggi')).views[0]).toMatchObject({ rebuilt: true, rows: 0 });
    expect(made).toEqual(['view_condition']);
    await store.write([write('Condition', 'c1', {})], clock.now());
    expect((await refresh('gyeonggi')).views[0]).toMatchObject({ rebuilt: false, flattened: 1, rows: 1 });
    expect(await db.all('SELECT id, region FROM view_condition')).toEqual([{ id: 'c1', region: 'gyeonggi' }]);
    // A table holding rows is made anew, whatever its layout.
    expect((await refresh('busan')).views[0]).toMatchObject({ rebuilt: true, flattened: 1, rows: 1 });
    expect(made).toEqual(['view_condition', 'view_condition']);
    expect(await db.all('SELECT id, region FROM view_condition')).toEqual([{ id: 'c1', region: 'busan' }]);
    // A changed layout (another column) is made anew even when the table is empty.
    const other = { ...conditionOnly[0]!, name: 'wide' };
    const wider = {
      ...other,
      definition: {
        ...other.definition,
        select: [...(other.definition.select as unknown[]), { column: [{ name: 'extra', path: 'id' }] }],
      },
    };
    const narrow = await AnalyticTables.open(watched(db), { region: 'busan', clock, views: [other] });
    await narrow.refresh();
    await db.run('DELETE FROM view_wide');
    await (await AnalyticTables.open(watched(db), { region: 'busan', clock, views: [wider] })).refresh();
    expect(made).toEqual(['view_condition', 'view_condition', 'view_wide', 'view_wide']);
    expect((await db.all('SELECT extra FROM view_wide')).map((r) => r.extra)).toEqual(['c1']);
    await db.close();
  });

  it('flattens only the named ids when an ingest says what it wrote', async () => {
    const { db, store } = await storeWith();
    await store.write([write('Condition', 'c1', {}), write('Condition', 'c2', {})], clock.now());
    const tables = await AnalyticTables.open(db, { region: 'busan', clock, views: conditionOnly });
    await tables.refresh();
    await store.write([write('Condition', 'c3', {}), write('Condition', 'c4', {})], clock.now());
    const partial = await tables.refresh({ ids: ['c3'] });
    expect(partial.resources).toBe(1);
    const rest = await tables.refresh();
    expect(rest.resources).toBe(1);
    expect(rest.views[0]?.rows).toBe(4);
    await db.close();
  });

  it('gives the same rows through worker threads and staged files as in the main thread', async () => {
    const { db, store } = await storeWith();
    // Values the staging text must carry exactly: its own control characters, line breaks, empty strings,
    // decimals, booleans, nulls and several rows per resource.
    const awkward = 'a\u0001b\u0002c\nd\r\ne "quoted", #hash';
    const writes = [
      write('Observation', 'o1', {
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: awkward }], text: '' },
        valueQuantity: { value: 0.1 + 0.2, unit: '/min' },
        component: [
          { code: { coding: [{ code: 'x' }] }, valueBoolean: false },
          { code: { coding: [{ code: 'y' }] }, valueQuantity: { value: 1e-7 } },
        ],
      }),
      write('Observation', 'o2', { status: 'final', code: { text: 'n\u00e4me \u{1F600}' }, valueBoolean: true }),
      write('Observation', 'o3', { status: 'amended', code: { coding: [{ code: '' }] } }),
      // Longer than a worker's first output buffer, in multi-byte characters: the buffer grows.
      write('Observation', 'o4', { status: 'final', code: { text: '\uC548\uB155 \u00fc'.repeat(20_000) } }),
      write('Immunization', 'i1', { status: 'completed', primarySource: true, vaccineCode: { text: awkward } }),
    ];
    await store.write(writes, clock.now());
    const views = BUILT_IN_VIEWS.filter((v) => ['observation', 'immunization', 'lifelog'].includes(v.name));
    // Sorted here: ORDER BY ALL is DuckDB's alone.
    const sorted = async () =>
      Promise.all(
        views.map(async (v) =>
          (await db.all(`SELECT * FROM view_${v.name}`)).sort((a, b) =>
            JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0,
          ),
        ),
      );
    const inThread = await AnalyticTables.open(db, { region: 'busan', clock, views, parallelFrom: Infinity });
    const first = await inThread.refresh();
    const expected = await sorted();
    expect(expected[0]?.length).toBeGreaterThan(3);

    const parallel = await AnalyticTables.open(db, { region: 'busan', clock, views, parallelFrom: 0 });
    const rebuilt = await parallel.refresh({ rebuild: true });
    expect(rebuilt.views.map((v) => [v.view, v.rows, v.flattened])).toEqual(
      first.views.map((v) => [v.view, v.rows, v.flattened]),
    );
    expect(await sorted()).toEqual(expected);

    // An incremental refresh on the parallel path replaces the changed resource's rows only.
    await store.write(
      [write('Observation', 'o3', { status: 'final', code: { coding: [{ code: 'z' }] } })],
      clock.now(),
    );
    const changed = await parallel.refresh();
    expect(changed.resources).toBe(1);
    expect(await db.all(`SELECT id, status, code_code FROM view_observation WHERE id = 'o3'`)).toEqual([
      { id: 'o3', status: 'final', code_code: 'z' },
    ]);
    expect((await parallel.refresh()).resources).toBe(0);
    await db.close();
  });

  it('rebuilds one changed view of a type on the parallel path and leaves its sibling as it was', async () => {
    const { db, store } = await storeWith();
    await store.write(
      [
        write('Observation', 'o1', { status: 'final', code: { coding: [{ code: 'a' }] } }),
        write('Observation', 'o2', { status: 'amended', code: { coding: [{ code: 'b' }] } }),
      ],
      clock.now(),
    );
    const observation = BUILT_IN_VIEWS.find((v) => v.name === 'observation')!;
    const lifelog = BUILT_IN_VIEWS.find((v) => v.name === 'lifelog')!;
    const sources = () => db.all('SELECT view, id, version FROM view_source ORDER BY view, id');
    await (await AnalyticTables.open(db, { region: 'busan', clock, views: [observation, lifelog] })).refresh();
    const before = await sources();
    expect(before).toHaveLength(4);
    // A changed definition (another description) makes lifelog's table stale; observation's is current.
    const changed = { ...lifelog, definition: { ...lifelog.definition, description: 'changed' } };
    const tables = await AnalyticTables.open(db, {
      region: 'busan',
      clock,
      views: [observation, changed],
      parallelFrom: 0,
    });
    const summary = await tables.refresh();
    expect(summary.views.map((v) => [v.view, v.rebuilt, v.flattened])).toEqual([
      ['observation', false, 0],
      ['lifelog', true, 2],
    ]);
    expect(await sources()).toEqual(before);
    expect(await db.all('SELECT id, status FROM view_observation ORDER BY id')).toEqual([
      { id: 'o1', status: 'final' },
      { id: 'o2', status: 'amended' },
    ]);
    expect((await tables.refresh()).resources).toBe(0);
    await db.close();
  });

  it('cuts a large type into equal loads of at least a row group, with no small remainder', () => {
    expect(loadBoundaries(4_400)).toEqual([4_400]);
    expect(loadBoundaries(200_000)).toEqual([200_000]);
    for (const count of [135_000, 269_999, 270_000, 620_092, 1_000_003]) {
      const ends = loadBoundaries(count);
      expect(ends.at(-1)).toBe(count);
      const sizes = ends.map((end, j) => end - (ends[j - 1] ?? 0));
      expect(Math.min(...sizes)).toBeGreaterThanOrEqual(135_000);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('reports an evaluation error from a worker with its code and the resource it failed on', async () => {
    const { db, store } = await storeWith();
    await store.write([write('Condition', 'c1', { onsetString: 'not a number' })], clock.now());
    const badView = {
      name: 'bad',
      definition: {
        resourceType: 'ViewDefinition',
        name: 'bad',
        status: 'active',
        resource: 'Condition',
        constant: [{ name: 'region', valueString: '' }],
        select: [{ column: [{ name: 'onset', path: 'onset.ofType(string)', type: 'integer' }] }],
      },
    };
    const tables = await AnalyticTables.open(db, { region: 'busan', clock, views: [badView], parallelFrom: 0 });
    const failure = await tables.refresh().catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'VIEW_EVALUATION', message: expect.stringContaining('Condition/c1') });
    await db.close();
  });
});
