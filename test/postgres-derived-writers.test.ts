import { afterEach, describe, expect, it } from 'vitest';
import { DerivedData } from '../src/context/index.js';
import { fixedClock, isHealthmeshError, silentLogger } from '../src/core/index.js';
import { ALL_MIGRATIONS } from '../src/hub/index.js';
import { migrate, PostgresDatabase } from '../src/store/index.js';
import { createTestDatabase } from './support/test-engine.js';

/**
 * Two processes on one PostgreSQL store, each with its own pool and its own after-commit pipeline (as two `serve`
 * processes, or `serve` and a CLI ingest): one's write in flight is visible to the other.
 */
const NOW = new Date('2026-01-01T00:00:00Z');
const stale = (e: unknown) => isHealthmeshError(e) && e.code === 'HUB_DERIVED_STALE';

describe('derived data with writers in two processes (PostgreSQL)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function twoProcesses() {
    const { url, drop } = await createTestDatabase();
    cleanup.push(drop);
    const open = async () => {
      const db = await PostgresDatabase.open(url);
      cleanup.push(() => db.close());
      return { db };
    };
    const one = await open();
    const two = await open();
    await migrate(one.db, ALL_MIGRATIONS, NOW);
    // The store's write stamp, shared as the real one is: a row both processes read.
    await one.db.run('CREATE TABLE probe_stamp (n BIGINT NOT NULL)');
    await one.db.run('INSERT INTO probe_stamp VALUES (0)');
    const pipeline = (db: PostgresDatabase) => {
      const derived = new DerivedData(db, fixedClock(NOW), silentLogger(), async () => {
        const [r] = await db.all<{ n: number }>('SELECT n FROM probe_stamp');
        return Number(r?.n);
      });
      derived.register({ name: 'step', fingerprint: 'v1', run: async () => 1 });
      return derived;
    };
    return { one: { ...one, derived: pipeline(one.db) }, two: { ...two, derived: pipeline(two.db) } };
  }

  it("serves readers in one process while the other's write is in flight, and records no stamp it may not hold", async () => {
    const { one, two } = await twoProcesses();
    await one.derived.bringCurrent({ force: true });
    let finish: () => void = () => undefined;
    let committed: () => void = () => undefined;
    const inFlight = new Promise<void>((r) => {
      committed = r;
    });
    const write = one.derived.afterWrite(async () => {
      await one.db.run('UPDATE probe_stamp SET n = 1'); // a committed batch, the write still running
      committed();
      await new Promise<void>((r) => {
        finish = r;
      });
    });
    await inFlight;
    expect(await two.db.writesElsewhere()).toBe(1);
    expect(await one.db.writesElsewhere()).toBe(0);
    await two.derived.assertCurrent(); // not refused: the writer will bring the tables up
    const pass = await two.derived.bringCurrent();
    expect(pass?.writeStamp).toBeNull(); // ran, but may not mark stamp 1 current: the other's pass has not run
    finish();
    expect((await write).derived.writeStamp).toBe(1);
    expect(await two.db.writesElsewhere()).toBe(0);
    await two.derived.assertCurrent();
  });

  it('marks concurrent writes without taking the connections their transactions need', async () => {
    const { url, drop } = await createTestDatabase();
    cleanup.push(drop);
    const db = await PostgresDatabase.open(url, { maxConnections: 1 });
    cleanup.push(() => db.close());
    const other = await PostgresDatabase.open(url, { maxConnections: 1 });
    cleanup.push(() => other.close());
    const markers = await Promise.all([db.markWriting(), db.markWriting(), db.markWriting()]);
    // With one pooled connection, a marker per connection would leave none for this transaction.
    await db.transaction((tx) => tx.run('CREATE TABLE probe_concurrent (n INTEGER)'));
    expect(await other.writesElsewhere()).toBe(1); // one session marks all of this process's writes
    expect(await db.writesElsewhere()).toBe(0);
    for (const m of markers) await m.release();
    expect(await other.writesElsewhere()).toBe(0);
  });

  it('refuses readers once a writer died between its commit and its refresh', async () => {
    const { one, two } = await twoProcesses();
    await two.derived.bringCurrent({ force: true });
    const marker = await one.db.markWriting();
    await one.db.run('UPDATE probe_stamp SET n = 7');
    await two.derived.assertCurrent();
    // The writer's process dies: the server drops its connection, and the marker with it.
    await two.db.run(
      `SELECT pg_terminate_backend(pid) FROM pg_locks
        WHERE locktype = 'advisory' AND mode = 'ShareLock' AND pid <> pg_backend_pid()
          AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    await expect.poll(() => two.db.writesElsewhere()).toBe(0);
    await expect(two.derived.assertCurrent()).rejects.toSatisfy(stale);
    expect((await two.derived.bringCurrent())?.writeStamp).toBe(7);
    await two.derived.assertCurrent();
    await marker.release(); // on a dead connection: discarded, no error
  });
});
