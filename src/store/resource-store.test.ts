import { describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_ENGINE } from '../../test/support/test-engine.js';
import type { ResourceWrite } from './index.js';
import { migrate, ResourceStore, resourceStoreMigrations, toResource } from './index.js';

const ENGINES = [TEST_ENGINE] as const;
const NOW = new Date('2026-01-02T03:04:05Z');

function write(id: string, body: Record<string, unknown>): ResourceWrite {
  const content = JSON.stringify({ resourceType: 'Observation', id, ...body });
  return {
    type: 'Observation',
    id,
    patientKey: 'p1',
    source: 'test',
    content,
    hash: content,
    search: { tokens: [['code', 'http://loinc.org', '1234-5']], dates: [], references: [['subject', 'Patient/p1']] },
  };
}

for (const engine of ENGINES) {
  describe(`ResourceStore on ${engine}`, () => {
    // A copy of the store's migrated template on PostgreSQL (test-engine.ts): migrating a database per test cost 2.4 s
    // on Citus. The migrations themselves are run from empty below ('applies migrations once').
    async function open() {
      const db = await openTestDatabase(engine, { store: true });
      await migrate(db, resourceStoreMigrations, NOW);
      return { db, store: new ResourceStore(db) };
    }

    it('makes no new version when identical content is written again', async () => {
      const { db, store } = await open();
      expect(await store.write([write('a', { status: 'final' })], NOW)).toEqual([{ status: 'created', version: 1 }]);
      expect(await store.write([write('a', { status: 'final' })], NOW)).toEqual([{ status: 'unchanged', version: 1 }]);
      expect(await store.history('Observation', 'a')).toHaveLength(1);
      await db.close();
    });

    it('refuses a body that is not single-line JSON, storing nothing of its batch', async () => {
      const { db, store } = await open();
      const pretty = { ...write('b', {}), content: JSON.stringify({ resourceType: 'Observation', id: 'b' }, null, 2) };
      await expect(store.write([write('a', { status: 'final' }), pretty], NOW)).rejects.toMatchObject({
        code: 'STORE_CONTENT_NOT_ONE_LINE',
      });
      expect(await store.countByType()).toEqual({});
      await db.close();
    });

    it('keeps every version and serves the newest as current', async () => {
      const { db, store } = await open();
      await store.write([write('a', { status: 'preliminary' })], NOW);
      const later = new Date(NOW.getTime() + 1000);
      expect(await store.write([write('a', { status: 'final' })], later)).toEqual([{ status: 'updated', version: 2 }]);
      const current = await store.read('Observation', 'a');
      expect(current && toResource(current)).toMatchObject({
        status: 'final',
        meta: { versionId: '2', lastUpdated: later.toISOString() },
      });
      const v1 = await store.vread('Observation', 'a', 1);
      expect(v1 && toResource(v1)).toMatchObject({ status: 'preliminary', meta: { versionId: '1' } });
      expect((await store.history('Observation', 'a')).map((v) => v.version)).toEqual([2, 1]);
      // search rows follow the current version only
      const tokens = await db.all('SELECT * FROM search_token WHERE id = $1', ['a']);
      expect(tokens).toHaveLength(1);
      await db.close();
    });

    it('writes two differing versions of one resource in one batch in order', async () => {
      const { db, store } = await open();
      const results = await store.write([write('b', { status: 'preliminary' }), write('b', { status: 'final' })], NOW);
      expect(results).toEqual([
        { status: 'created', version: 1 },
        { status: 'updated', version: 2 },
      ]);
      const heads = await db.all('SELECT version FROM resource_head WHERE id = $1', ['b']);
      expect(heads).toEqual([{ version: 2 }]);
      expect(await db.all('SELECT * FROM search_token WHERE id = $1', ['b'])).toHaveLength(1);
      await db.close();
    });

    it('commits a batch whole or not at all', async () => {
      const { db, store } = await open();
      await expect(
        db.transaction(async (tx) => {
          await store.write([write('c', { status: 'final' })], NOW, tx);
          throw new Error('crash after the write');
        }),
      ).rejects.toThrow('crash');
      expect(await store.read('Observation', 'c')).toBeUndefined();
      expect(await db.all('SELECT * FROM resource_version')).toHaveLength(0);
      expect(await db.all('SELECT * FROM search_token')).toHaveLength(0);
      await db.close();
    });

    it('applies migrations once and records them', async () => {
      const db = await openTestDatabase();
      expect((await migrate(db, resourceStoreMigrations, NOW)).map((m) => m.version)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await migrate(db, resourceStoreMigrations, NOW)).toEqual([]);
      const rows = await db.all('SELECT module, version FROM schema_migrations ORDER BY version');
      expect(rows).toEqual([
        { module: 'store', version: 1 },
        { module: 'store', version: 2 },
        { module: 'store', version: 3 },
        { module: 'store', version: 4 },
        { module: 'store', version: 5 },
        { module: 'store', version: 6 },
      ]);
      await db.close();
    });

    it('keeps every head when a version 1 store drops its key index (migration 2)', async () => {
      const db = await openTestDatabase();
      await migrate(db, resourceStoreMigrations.slice(0, 1), NOW);
      // What a version 1 store held after writing a and b, then a again.
      for (const [id, version, body] of [
        ['a', 1, { status: 'final' }],
        ['b', 1, {}],
        ['a', 2, { status: 'amended' }],
      ] as const) {
        const w = write(id, body);
        await db.run('INSERT INTO resource_version VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
          w.type,
          w.id,
          version,
          NOW,
          w.patientKey,
          w.hash,
          w.source,
          w.content,
        ]);
      }
      for (const [id, version, body] of [
        ['a', 2, { status: 'amended' }],
        ['b', 1, {}],
      ] as const) {
        await db.run('INSERT INTO resource_head VALUES ($1, $2, $3, $4, $5, $6)', [
          'Observation',
          id,
          version,
          write(id, body).hash,
          NOW,
          'p1',
        ]);
      }
      const store = new ResourceStore(db);
      const columns = 'type, id, version, hash, last_updated, patient_key';
      const before = await db.all(`SELECT ${columns} FROM resource_head ORDER BY id`);
      expect((await migrate(db, resourceStoreMigrations, NOW)).map((m) => m.version)).toEqual([2, 3, 4, 5, 6]);
      expect(await db.all(`SELECT ${columns} FROM resource_head ORDER BY id`)).toEqual(before);
      // Migration 6 gives the rows kept before it their shard key: the patient key.
      expect(await db.all('SELECT DISTINCT shard_key FROM resource_version')).toEqual([{ shard_key: 'p1' }]);
      expect(await store.writeStamp()).toBe(3); // migration 5 starts the counter at the versions already kept
      await store.write([write('b', { status: 'final' })], NOW);
      expect(await store.writeStamp()).toBe(4);
      expect((await store.read('Observation', 'b'))?.version).toBe(2);
      expect(await db.all('SELECT id, version FROM resource_head ORDER BY id')).toEqual([
        { id: 'a', version: 2 },
        { id: 'b', version: 2 },
      ]);
      await db.close();
    });

    it('keeps the indexes its engine keeps: PostgreSQL all of them, DuckDB none', async () => {
      const { db } = await open();
      const indexes = await db.all<{ name: string }>(
        engine === 'postgres'
          ? "SELECT indexname AS name FROM pg_indexes WHERE tablename LIKE 'search_%' ORDER BY 1"
          : "SELECT index_name AS name FROM duckdb_indexes() WHERE table_name LIKE 'search_%' ORDER BY 1",
      );
      expect(indexes.length).toBe(engine === 'postgres' ? 6 : 0);
      if (engine === 'postgres') {
        const keys = await db.all<{ name: string }>(
          "SELECT indexname AS name FROM pg_indexes WHERE tablename LIKE 'resource_%' AND indexdef LIKE 'CREATE UNIQUE%' ORDER BY 1",
        );
        expect(keys.map((k) => k.name)).toEqual([
          'resource_head_type_id_2_key',
          'resource_version_type_id_version_3_key',
        ]);
      }
      await db.close();
    });

    it('streams large results in chunks', async () => {
      const { db, store } = await open();
      await store.write(
        Array.from({ length: 5000 }, (_, i) => write(`s${i}`, { status: 'final' })),
        NOW,
      );
      let rows = 0;
      let chunks = 0;
      for await (const chunk of db.stream('SELECT id FROM resource_version')) {
        rows += chunk.length;
        chunks++;
      }
      expect(rows).toBe(5000);
      expect(chunks).toBeGreaterThan(1);
      await db.close();
    });
  });
}
