import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../../test/support/test-engine.js';
import type { ResourceWrite, StagedBatch, StagedFiles, StagedWriteCounts, WriteResult } from './index.js';
import { migrate, ResourceStore, resourceStoreMigrations, StagedRowsWriter } from './index.js';

const NOW = new Date('2026-01-02T03:04:05Z');
const work = mkdtempSync(join(tmpdir(), 'hm-staged-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function write(id: string, body: Record<string, unknown>, code = '1234-5'): ResourceWrite {
  const content = JSON.stringify({ resourceType: 'Observation', id, ...body });
  return {
    type: 'Observation',
    id,
    patientKey: id === 'nopatient' ? null : 'p1',
    source: 'test',
    content,
    hash: content,
    search: {
      tokens: [['code', id === 'nosystem' ? null : 'http://loinc.org', code]],
      dates: [['date', -1000, 86_399_999]],
      references: [['subject', 'Patient/p1']],
    },
  };
}

/** On PostgreSQL a copy of the store's migrated template (test-engine.ts): migrating each cost 2.4 s on Citus. */
async function open() {
  const db = await openTestDatabase(undefined, { store: true });
  await migrate(db, resourceStoreMigrations, NOW);
  return { db, store: new ResourceStore(db) };
}

let batches = 0;
/** Stage `writes` in chunks of two records, as the ingest's workers do, and write them as one batch. */
function staged(writes: ResourceWrite[]): StagedBatch {
  const writer = new StagedRowsWriter();
  const chunks: StagedFiles[] = [];
  const n = batches++;
  writes.forEach((w, i) => {
    writer.add(i, w);
    if (i % 2 === 1 || i === writes.length - 1) chunks.push(writer.write(work, `b${n}c${i}`));
  });
  const pick = (f: (c: StagedFiles) => string | undefined) => chunks.map(f).filter((x): x is string => !!x);
  return {
    source: 'test',
    fromKey: 0,
    toKey: writes.length - 1,
    count: writes.length,
    files: {
      records: pick((c) => c.records),
      versions: pick((c) => c.versions),
      tokens: pick((c) => c.tokens),
      dates: pick((c) => c.dates),
      references: pick((c) => c.references),
      longestLine: Math.max(...chunks.map((c) => c.longestLine)),
    },
  };
}

/** `write`'s per-record results as the counts `writeStaged` returns. */
function counted(writes: ResourceWrite[], results: WriteResult[]): StagedWriteCounts {
  const counts = new Map<string, number>();
  results.forEach((r, i) => {
    const k = `${writes[i]!.type}\u0000${r.status}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  });
  return [...counts]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, count]) => {
      const [type, status] = k.split('\u0000') as [string, WriteResult['status']];
      return { type, status, count };
    });
}

async function dump(store: ResourceStore) {
  const q = (sql: string) => store.db.all(sql);
  return {
    versions: await q('SELECT * FROM resource_version ORDER BY type, id, version'),
    heads: await q('SELECT * FROM resource_head ORDER BY type, id'),
    tokens: await q('SELECT * FROM search_token ORDER BY type, id, param, code'),
    dates: await q('SELECT * FROM search_date ORDER BY type, id, param'),
    references: await q('SELECT * FROM search_reference ORDER BY type, id, param'),
  };
}

/** Each round written by `write` into one store and staged into another; the per-round counts must agree. */
async function writeBothWays(rounds: ResourceWrite[][]) {
  const direct = await open();
  const viaFiles = await open();
  try {
    for (const round of rounds) {
      const expected = counted(round, await direct.store.write(round, NOW));
      expect(await viaFiles.store.writeStaged(staged(round), NOW)).toEqual(expected);
    }
    return { direct: await dump(direct.store), viaFiles: await dump(viaFiles.store) };
  } finally {
    await direct.db.close();
    await viaFiles.db.close();
  }
}

describe('ResourceStore.writeStaged', () => {
  it('stores what write stores: versions, heads, index rows, unchanged repeats and awkward values', async () => {
    const rounds: ResourceWrite[][] = [
      [
        write('a', { status: 'preliminary' }),
        write('a', { status: 'final' }), // two versions in one batch: only the last keeps index rows
        write('odd', { note: [{ text: 'line one\nline two\r\n' }] }, 'x\u0001y\u0002z\nw'),
        write('b', {}),
        write('nosystem', {}),
        write('nopatient', { valueString: '' }, ''),
        // Multi-byte text longer than a staging buffer's first allocation: the buffer grows mid-chunk.
        write('long', { valueString: '\uD658\uC790 \u00e9 \u{1F600}'.repeat(12_000) }, '\uCF54\uB4DC'),
      ],
      [write('a', { status: 'final' }), write('b', { status: 'amended' }), write('c', {})],
      // Repeats within one batch, new and existing: same body twice is one version; a repeat of the head, none.
      [
        write('d', {}),
        write('d', {}),
        write('d', { status: 'final' }),
        write('d', { status: 'final' }),
        write('c', {}),
        write('c', {}),
        write('b', { status: 'amended' }),
        write('b', { status: 'final' }),
      ],
    ];
    const { direct: a, viaFiles: b } = await writeBothWays(rounds);
    expect(b).toEqual(a);
    expect(a.versions).toHaveLength(12);
    expect(a.heads.filter((h) => ['b', 'c', 'd'].includes(String(h.id))).map((h) => [h.id, h.version])).toEqual([
      ['b', 3],
      ['c', 1],
      ['d', 2],
    ]);
    expect(b.tokens).toContainEqual(expect.objectContaining({ id: 'odd', code: 'x\u0001y\u0002z\nw' }));
    expect(b.tokens).toContainEqual(expect.objectContaining({ id: 'nopatient', code: '' }));
    expect(b.tokens).toContainEqual(expect.objectContaining({ id: 'nosystem', system: null }));
  });

  it('replaces only the moved heads and index rows, also where two types share an id', async () => {
    const condition = (id: string, body: Record<string, unknown>): ResourceWrite => {
      const w = write(id, body);
      const content = w.content.replace('"Observation"', '"Condition"');
      return { ...w, type: 'Condition', content, hash: content };
    };
    const many = (status: string) => Array.from({ length: 300 }, (_, i) => write(`m${i}`, { status }));
    const rounds: ResourceWrite[][] = [
      [write('x', { status: 'preliminary' }), condition('x', {}), ...many('preliminary')],
      [write('x', { status: 'final' }), ...many('final'), write('new', {})],
    ];
    const { direct: a, viaFiles: b } = await writeBothWays(rounds);
    expect(b).toEqual(a);
    // One head per resource, at its last version; the index follows heads only.
    expect(a.heads).toHaveLength(303);
    expect(a.heads.filter((h) => h.id === 'x')).toEqual([
      expect.objectContaining({ type: 'Condition', version: 1 }),
      expect.objectContaining({ type: 'Observation', version: 2 }),
    ]);
    expect(a.heads.filter((h) => h.version === 2)).toHaveLength(301);
    expect(a.tokens).toHaveLength(303);
    expect(a.references.filter((r) => r.id === 'x').map((r) => r.type)).toEqual(['Condition', 'Observation']);
  });

  it('writes only the records of its key range when a chunk is split between two batches', async () => {
    const writes = [
      write('a', {}),
      write('b', {}),
      write('a', { status: 'final' }),
      write('c', {}),
      write('b', {}),
      write('a', { status: 'amended' }),
    ];
    const whole = staged(writes); // chunks of keys 0-1, 2-3, 4-5
    const first = { ...whole, fromKey: 0, toKey: 2, count: 3 };
    const second = { ...whole, fromKey: 3, toKey: 5, count: 3 };
    const direct = await open();
    const viaFiles = await open();
    for (const [batch, part] of [
      [first, writes.slice(0, 3)],
      [second, writes.slice(3)],
    ] as const) {
      const expected = counted(part, await direct.store.write(part, NOW));
      expect(await viaFiles.store.writeStaged(batch, NOW)).toEqual(expected);
    }
    expect(await dump(viaFiles.store)).toEqual(await dump(direct.store));
    expect((await viaFiles.store.read('Observation', 'a'))?.version).toBe(3);
    await direct.db.close();
    await viaFiles.db.close();
  });

  it('refuses a batch whose staged records are fewer than it counts', async () => {
    const { db, store } = await open();
    const batch = staged([write('a', {}), write('b', {}), write('c', {})]);
    await expect(store.writeStaged({ ...batch, count: 4 }, NOW)).rejects.toMatchObject({
      code: 'STORE_STAGING_INCOMPLETE',
    });
    expect(await db.all('SELECT * FROM resource_version')).toEqual([]);
    await db.close();
  });

  it("reports the engine's own error when a staged file cannot be read, and rolls back", async () => {
    const { db, store } = await open();
    const batch = staged([write('a', {}), write('b', {})]);
    const missing = { ...batch, files: { ...batch.files, versions: [join(work, 'no-such-file.versions')] } };
    await expect(store.writeStaged(missing, NOW)).rejects.toThrow(/no-such-file/);
    expect(await db.all('SELECT * FROM resource_head')).toEqual([]);
    await db.close();
  });

  it('rolls the whole batch back when a staged file lacks a record', async () => {
    const { db, store } = await open();
    const batch = staged([write('a', {}), write('b', {}), write('c', {})]);
    const broken = { ...batch, files: { ...batch.files, versions: batch.files.versions.slice(1) } };
    await expect(store.writeStaged(broken, NOW)).rejects.toMatchObject({ code: 'STORE_STAGING_INCOMPLETE' });
    expect(await db.all('SELECT * FROM resource_version')).toEqual([]);
    expect(await db.all('SELECT * FROM resource_head')).toEqual([]);
    await db.close();
  });
});
