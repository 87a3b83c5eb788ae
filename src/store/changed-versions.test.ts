import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_ENGINE } from '../../test/support/test-engine.js';
import type { ResourceWrite, SeenVersions } from './index.js';
import { migrate, ResourceStore, resourceStoreMigrations } from './index.js';

const ENGINES = [TEST_ENGINE] as const;
const NOW = new Date('2026-01-02T03:04:05Z');
const LATER = new Date('2026-01-03T00:00:00Z');

function write(type: string, id: string, patientKey: string | null, body: Record<string, unknown> = {}): ResourceWrite {
  const content = JSON.stringify({ resourceType: type, id, ...body });
  return {
    type,
    id,
    patientKey,
    source: 'test',
    content,
    hash: content,
    search: { tokens: [], dates: [], references: [] },
  };
}

/** A reader's record kept in a table of the test's own, as a module keeps one in its tables. */
const seenBy =
  (reader: string): SeenVersions =>
  (bind) =>
    `(SELECT id, version, shard_key FROM seen_rows WHERE reader = ${bind(reader)})`;

for (const engine of ENGINES) {
  describe(`ResourceStore reads for other modules on ${engine}`, () => {
    // On PostgreSQL a copy of the store's migrated template (test-engine.ts): migrating each cost 2.4 s on Citus.
    async function open() {
      const db = await openTestDatabase(engine, { store: true });
      await migrate(db, resourceStoreMigrations, NOW);
      await db.run('CREATE TABLE seen_rows (reader VARCHAR, id VARCHAR, version INTEGER, shard_key VARCHAR)');
      const store = new ResourceStore(db);
      await store.write(
        [write('Observation', 'a', 'p1'), write('Observation', 'b', 'p2'), write('Patient', 'p1', 'p1')],
        NOW,
      );
      await store.write([write('Observation', 'a', 'p1', { status: 'final' })], LATER);
      // Reader x saw a at version 1 and b; reader y saw a at version 2 and a resource since gone; reader z saw b at
      // its current version when it was in another patient's compartment (its patient changed since).
      await db.append('seen_rows', [
        ['x', 'a', 1, 'p1'],
        ['x', 'b', 1, 'p2'],
        ['y', 'a', 2, 'p1'],
        ['y', 'gone', 1, 'p1'],
        ['z', 'a', 2, 'p1'],
        ['z', 'b', 1, 'p3'],
      ]);
      return { db, store };
    }

    it('finds the current resources some reader has not seen at their current version, with what each had seen', async () => {
      const { db, store } = await open();
      const q = { type: 'Observation', seen: [seenBy('x'), seenBy('y')] };
      expect(await store.countChanged(q)).toBe(2);
      expect(await store.countChanged({ type: 'Observation', seen: [seenBy('y')], ids: ['a'] })).toBe(0);
      expect(await store.countChanged({ ...q, ids: [] })).toBe(0);
      const rows = [];
      for await (const chunk of store.streamChanged(q)) rows.push(...chunk);
      rows.sort((l, r) => l.id.localeCompare(r.id));
      expect(rows.map((r) => [r.id, r.version, r.seen, r.lastUpdated.toISOString()])).toEqual([
        ['a', 2, [1, 2], LATER.toISOString()],
        ['b', 1, [1, null], NOW.toISOString()],
      ]);
      expect(JSON.parse(rows[0]!.content)).toMatchObject({ id: 'a', status: 'final' });
      await db.close();
    });

    it('exports the changed resources as one JSON line each', async () => {
      const { db, store } = await open();
      const dir = join(mkdtempSync(join(tmpdir(), 'hm-changed-')), 'out');
      try {
        const files = await store.exportChanged({ type: 'Observation', seen: [seenBy('y')] }, dir, 1 << 20);
        const lines = files.flatMap((f) =>
          readFileSync(f, 'utf8')
            .split('\n')
            .filter((l) => l !== ''),
        );
        expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
          { i: 'b', v: 1, t: NOW.getTime(), k: 'p2', s: [null], r: { resourceType: 'Observation', id: 'b' } },
        ]);
      } finally {
        rmSync(join(dir, '..'), { recursive: true, force: true });
        await db.close();
      }
    });

    it("names the ids of a reader's record that are no longer current resources", async () => {
      const { db, store } = await open();
      expect(await store.vanishedIds('Observation', seenBy('y'))).toEqual(['gone']);
      expect(await store.vanishedIds('Observation', seenBy('x'))).toEqual([]);
      expect(await store.vanishedIds('Observation', seenBy('y'), ['a'])).toEqual([]);
      expect(await store.vanishedIds('Observation', seenBy('y'), [])).toEqual([]);
      await db.close();
    });

    it('treats a resource seen under another patient as unseen, and names it for its old rows to go', async () => {
      const { db, store } = await open();
      const q = { type: 'Observation', seen: [seenBy('z')] };
      expect(await store.countChanged(q)).toBe(1);
      const rows = [];
      for await (const chunk of store.streamChanged(q)) rows.push(...chunk);
      expect(rows.map((r) => [r.id, r.version, r.shardKey, r.seen])).toEqual([['b', 1, 'p2', [null]]]);
      expect(await store.vanishedIds('Observation', seenBy('z'))).toEqual(['b']);
      expect(await store.vanishedIds('Observation', seenBy('z'), ['a'])).toEqual([]);
      expect(await store.vanishedIds('Observation', seenBy('z'), ['b'])).toEqual(['b']);
      await db.close();
    });

    it('summarises, counts and streams current resources in a scope', async () => {
      const { db, store } = await open();
      expect(await store.currentSummary('Observation')).toEqual({ count: 2, lastUpdated: LATER, versionSum: 3 });
      expect(await store.currentSummary('Consent')).toEqual({ count: 0, lastUpdated: null, versionSum: null });
      expect(await store.count('Patient')).toBe(1);
      expect(await store.countVersions()).toBe(4);
      expect(await store.countLeftOut({ types: ['Observation'] }, (c) => `${c} <> 'p2'`)).toBe(1);
      const ids = async (...args: Parameters<ResourceStore['streamCurrent']>) => {
        const out: string[] = [];
        for await (const chunk of store.streamCurrent(...args)) out.push(...chunk.map((v) => `${v.type}/${v.id}`));
        return out;
      };
      expect(await ids({}, { order: 'id' })).toEqual(['Observation/a', 'Observation/b', 'Patient/p1']);
      expect(await ids({ types: ['Observation'], since: NOW }, { order: 'id' })).toEqual(['Observation/a']);
      expect(await ids({ until: NOW }, { order: 'id' })).toEqual(['Observation/b', 'Patient/p1']);
      expect(await ids({ patients: ['p1'] }, { order: 'id', allows: (c) => `${c} <> 'p2'` })).toEqual([
        'Observation/a',
        'Patient/p1',
      ]);
      await db.close();
    });
  });
}
