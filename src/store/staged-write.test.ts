import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResourceWrite, StagedBatch, StagedFiles } from './index.js';
import { DuckDbDatabase, migrate, ResourceStore, resourceStoreMigrations, StagedRowsWriter } from './index.js';

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

async function open() {
  const db = await DuckDbDatabase.open(':memory:');
  await migrate(db, resourceStoreMigrations, NOW);
  return { db, store: new ResourceStore(db) };
}

let batches = 0;
/** Stage `writes` in chunks of two records, as the ingest's workers do, and write them as one batch. */
function staged(writes: ResourceWrite[]): StagedBatch {
  const writer = new StagedRowsWriter();
  const chunks: StagedFiles[] = [];
  const n = batches++;
  const records = writes.map((w, i) => {
    writer.add(i, w.content, w.search);
    if (i % 2 === 1 || i === writes.length - 1) chunks.push(writer.write(work, `b${n}c${i}`));
    return { key: i, type: w.type, id: w.id, hash: w.hash, patientKey: w.patientKey };
  });
  const pick = (f: (c: StagedFiles) => string | undefined) => chunks.map(f).filter((x): x is string => !!x);
  return {
    source: 'test',
    records,
    files: {
      versions: pick((c) => c.versions),
      tokens: pick((c) => c.tokens),
      dates: pick((c) => c.dates),
      references: pick((c) => c.references),
      longestLine: Math.max(...chunks.map((c) => c.longestLine)),
    },
    keysFile: join(work, `b${n}.k`),
    decisionsFile: join(work, `b${n}.d`),
  };
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
    ];
    const direct = await open();
    const viaFiles = await open();
    for (const round of rounds) {
      const expected = await direct.store.write(round, NOW);
      expect(await viaFiles.store.writeStaged(staged(round), NOW)).toEqual(expected);
    }
    const a = await dump(direct.store);
    const b = await dump(viaFiles.store);
    expect(b).toEqual(a);
    expect(a.versions).toHaveLength(9);
    expect(b.tokens).toContainEqual(expect.objectContaining({ id: 'odd', code: 'x\u0001y\u0002z\nw' }));
    expect(b.tokens).toContainEqual(expect.objectContaining({ id: 'nopatient', code: '' }));
    expect(b.tokens).toContainEqual(expect.objectContaining({ id: 'nosystem', system: null }));
    await direct.db.close();
    await viaFiles.db.close();
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
    const direct = await open();
    const viaFiles = await open();
    for (const round of rounds) {
      const expected = await direct.store.write(round, NOW);
      expect(await viaFiles.store.writeStaged(staged(round), NOW)).toEqual(expected);
    }
    const a = await dump(direct.store);
    expect(await dump(viaFiles.store)).toEqual(a);
    // One head per resource, at its last version; the index follows heads only.
    expect(a.heads).toHaveLength(303);
    expect(a.heads.filter((h) => h.id === 'x')).toEqual([
      expect.objectContaining({ type: 'Condition', version: 1 }),
      expect.objectContaining({ type: 'Observation', version: 2 }),
    ]);
    expect(a.heads.filter((h) => h.version === 2)).toHaveLength(301);
    expect(a.tokens).toHaveLength(303);
    expect(a.references.filter((r) => r.id === 'x').map((r) => r.type)).toEqual(['Condition', 'Observation']);
    await direct.db.close();
    await viaFiles.db.close();
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
