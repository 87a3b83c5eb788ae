import { describe, expect, it } from 'vitest';
import { fixedClock } from '../core/index.js';
import type { ResourceWrite } from '../store/index.js';
import { DuckDbDatabase, migrate, ResourceStore, resourceStoreMigrations } from '../store/index.js';
import { AnalyticTables } from './analytic-tables.js';
import { BUILT_IN_VIEWS } from './builtin-views.js';

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

async function storeWith(): Promise<{ db: DuckDbDatabase; store: ResourceStore }> {
  const db = await DuckDbDatabase.open(':memory:');
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
});
