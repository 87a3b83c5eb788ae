import { describe, expect, it } from 'vitest';
import { openTestDatabase, TEST_ENGINE } from '../../test/support/test-engine.js';
import type { Migration } from './index.js';
import { migrate } from './index.js';

const NOW = new Date('2026-01-01T00:00:00Z');

const steps: Migration[] = [
  {
    module: 'probe',
    version: 1,
    name: 'a table with a logical key',
    statements: ['CREATE TABLE probe_head (type VARCHAR NOT NULL, id VARCHAR NOT NULL, version INTEGER NOT NULL)'],
    indexes: [['probe_head', ['type', 'id']]],
  },
  { module: 'probe', version: 2, name: 'its key', statements: [], keys: [['probe_head', ['type', 'id']]] },
];

describe(`migrations on ${TEST_ENGINE}`, () => {
  it('keeps a logical key where the engine can afford it: PostgreSQL refuses a duplicate, DuckDB relies on its one writer', async () => {
    const db = await openTestDatabase();
    try {
      await migrate(db, steps, NOW);
      await db.run("INSERT INTO probe_head VALUES ('Patient', 'a', 1)");
      const duplicate = db.run("INSERT INTO probe_head VALUES ('Patient', 'a', 2)");
      if (TEST_ENGINE === 'postgres') {
        await expect(duplicate).rejects.toThrow(/duplicate key|unique/i);
        // The key replaced the plain index of step 1 on the same columns.
        const indexes = await db.all<{ indexdef: string }>(
          "SELECT indexdef FROM pg_indexes WHERE tablename = 'probe_head' ORDER BY indexname",
        );
        expect(indexes.map((i) => i.indexdef)).toEqual([expect.stringMatching(/^CREATE UNIQUE INDEX .*\(type, id\)$/)]);
      } else {
        await duplicate;
        const [n] = await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM probe_head');
        expect(n?.n).toBe(2);
      }
    } finally {
      await db.close();
    }
  });
});
