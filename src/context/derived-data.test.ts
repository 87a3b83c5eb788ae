import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock, isHealthmeshError, silentLogger } from '../core/index.js';
import type { Database } from '../store/index.js';
import { DuckDbDatabase, migrate } from '../store/index.js';
import { DerivedData, derivedStateMigrations } from './derived-data.js';

const NOW = new Date('2025-01-01T00:00:00Z');

describe('the after-commit pipeline', () => {
  let db: Database | undefined;
  afterEach(async () => db?.close());

  /** A pipeline over a fake store whose write stamp the test moves, with one step that records its scopes. */
  async function pipeline() {
    db = await DuckDbDatabase.open(':memory:');
    await migrate(db, derivedStateMigrations, NOW);
    const store = { stamp: 0 };
    const derived = new DerivedData(db, fixedClock(NOW), silentLogger(), async () => store.stamp);
    const scopes: (readonly string[] | undefined)[] = [];
    derived.register({
      name: 'step',
      fingerprint: 'v1',
      run: async (scope) => {
        scopes.push(scope.ids);
        return 1;
      },
    });
    return { store, derived, scopes };
  }

  const stale = (e: unknown) => isHealthmeshError(e) && e.code === 'HUB_DERIVED_STALE';

  it('records the store stamp after a write, and readers refuse once the store moves without it', async () => {
    const { store, derived, scopes } = await pipeline();
    const { derived: pass } = await derived.afterWrite(
      async () => {
        store.stamp = 2;
      },
      () => ({ ids: ['a', 'b'] }),
    );
    expect(pass.writeStamp).toBe(2);
    expect(scopes).toEqual([['a', 'b']]);
    await derived.assertCurrent();
    store.stamp = 3; // a commit beneath the pipeline: a crash between commit and refresh
    await expect(derived.assertCurrent()).rejects.toSatisfy(stale);
    expect(await derived.bringCurrent()).toMatchObject({ writeStamp: 3 });
    expect(scopes.at(-1)).toBeUndefined(); // a catch-up refreshes everything
    await derived.assertCurrent();
  });

  it('does not mark a stamp current while another write is still committing, nor refuse readers meanwhile', async () => {
    const { store, derived } = await pipeline();
    let finishSecond: () => void = () => undefined;
    const second = derived.afterWrite(
      () =>
        new Promise<void>((resolve) => {
          store.stamp = 5; // committed its first batch, still running
          finishSecond = resolve;
        }),
      () => ({ ids: ['late'] }),
    );
    const first = await derived.afterWrite(
      async () => {
        store.stamp = 6;
      },
      () => ({ ids: ['early'] }),
    );
    // The stamp holds the second write's commit, whose ids were not in this pass: not recorded.
    expect(first.derived.writeStamp).toBeNull();
    await derived.assertCurrent(); // a write is in flight: readers see the previous consistent state
    finishSecond();
    expect((await second).derived.writeStamp).toBe(6);
    await derived.assertCurrent();
  });

  it('serves readers while the pass after a write is still running', async () => {
    db = await DuckDbDatabase.open(':memory:');
    await migrate(db, derivedStateMigrations, NOW);
    const store = { stamp: 0 };
    const derived = new DerivedData(db, fixedClock(NOW), silentLogger(), async () => store.stamp);
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const running = new Promise<void>((r) => {
      started = r;
    });
    derived.register({
      name: 'slow',
      fingerprint: 'v1',
      run: async () => {
        started();
        await new Promise<void>((r) => {
          release = r;
        });
        return 1;
      },
    });
    const write = derived.afterWrite(async () => {
      store.stamp = 1;
    });
    await running; // the write has ended; its pass is flattening
    await derived.assertCurrent(); // not refused: the pass will record the stamp
    release();
    expect((await write).derived.writeStamp).toBe(1);
    store.stamp = 2; // a commit no pass will see (a crash between commit and refresh)
    await expect(derived.assertCurrent()).rejects.toSatisfy(stale);
  });

  it('refreshes everything after a failed write, and reports the write’s own error', async () => {
    const { store, derived, scopes } = await pipeline();
    await expect(
      derived.afterWrite(async () => {
        store.stamp = 1;
        throw new Error('batch 2 failed');
      }),
    ).rejects.toThrow('batch 2 failed');
    expect(scopes).toEqual([undefined]);
    await derived.assertCurrent();
  });
});
