import { afterEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../core/index.js';
import type { Database } from '../store/index.js';
import { DuckDbDatabase, migrate } from '../store/index.js';
import { TokenRegistry, tokenMigrations } from './index.js';

const NOW = new Date('2026-01-02T03:04:05Z');

/**
 * The store, except that the token lookup's read is held until `release()`: so a revocation can run while a lookup
 * is in flight, the interleaving a serving hub meets when its admin socket revokes a token under traffic.
 */
function holdingLookups(db: Database): { db: Database; held: Promise<void>; release: () => void } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let arrived: () => void = () => undefined;
  const held = new Promise<void>((r) => {
    arrived = r;
  });
  const wrapped = new Proxy(db, {
    get(target, key, receiver) {
      if (key !== 'all') return Reflect.get(target, key, receiver);
      return async (sql: string, params?: readonly unknown[]) => {
        const rows = await target.all(sql, params as Parameters<Database['all']>[1]);
        if (sql.includes('WHERE token_hash')) {
          arrived();
          await gate;
        }
        return rows;
      };
    },
  });
  return { db: wrapped, held, release };
}

describe('TokenRegistry', () => {
  const opened: Database[] = [];
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
  });

  it('refuses a revoked token at once, also when a lookup read it just before the revocation', async () => {
    const db = await DuckDbDatabase.open(':memory:');
    opened.push(db);
    await migrate(db, tokenMigrations, NOW);
    const plain = new TokenRegistry(db, fixedClock(NOW));
    const token = await plain.create('kim', 'steward');

    const gated = holdingLookups(db);
    const registry = new TokenRegistry(gated.db, fixedClock(NOW));
    const inFlight = registry.verify(token); // reads the row, then waits at the gate
    await gated.held;
    expect(await registry.revoke('kim')).toBe(1);
    gated.release();
    // The lookup that began before the revocation answers as it read; nothing after it may.
    expect(await inFlight).toMatchObject({ name: 'kim', role: 'steward' });
    expect(await registry.verify(token)).toBeUndefined();
  });

  it('forgets a cached token when it is revoked', async () => {
    const db = await DuckDbDatabase.open(':memory:');
    opened.push(db);
    await migrate(db, tokenMigrations, NOW);
    const registry = new TokenRegistry(db, fixedClock(NOW));
    const token = await registry.create('lee', 'researcher');
    expect(await registry.verify(token)).toMatchObject({ name: 'lee' });
    expect(await registry.revoke('lee')).toBe(1);
    expect(await registry.verify(token)).toBeUndefined();
  });
});
