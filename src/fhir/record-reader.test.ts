import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { RawRecord, RecordInput } from './record-reader.js';
import { listInputFiles, readNdjsonBlocks, readNdjsonLines, readRecords } from './record-reader.js';

async function collect(file: RecordInput, maxRecordBytes = 1024 * 1024): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of readRecords(file, { maxRecordBytes })) out.push(r);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'hm-reader-'));
const codeOf = (r: RawRecord) => ('error' in r ? r.error.code : 'ok');

describe('readRecords', () => {
  it('splits NDJSON lines, accepting CRLF, a BOM and blank lines', async () => {
    const f = join(dir, 'a.ndjson');
    writeFileSync(f, '\uFEFF{"resourceType":"Patient"}\r\n\r\n{"resourceType":"Observation"}\r\n');
    const recs = await collect(f);
    expect(recs.map(codeOf)).toEqual(['ok', 'ok']);
    expect(recs.map((r) => r.line)).toEqual([1, 3]);
  });

  it('reads an in-memory input, gzipped or not, as it reads a file of that name', async () => {
    const text = '{"resourceType":"Patient"}\n{"resourceType":"Obs\n{"resourceType":"Encounter"}\n';
    for (const bytes of [Buffer.from(text), gzipSync(text)]) {
      const recs = await collect({ name: 'upload:x.ndjson', bytes });
      expect(recs.map(codeOf)).toEqual(['ok', 'INGEST_INVALID_JSON', 'ok']);
      expect(recs.map((r) => `${r.file}:${r.line}`)).toEqual([
        'upload:x.ndjson:1',
        'upload:x.ndjson:2',
        'upload:x.ndjson:3',
      ]);
    }
    const doc = await collect({
      name: 'upload:b.json',
      bytes: Buffer.from('{"resourceType":"Bundle","type":"batch"}'),
    });
    expect(doc.map(codeOf)).toEqual(['ok']);
  });

  it('rejects a truncated line and keeps the lines around it', async () => {
    const f = join(dir, 'b.ndjson');
    writeFileSync(f, '{"resourceType":"Patient"}\n{"resourceType":"Obs\n{"resourceType":"Encounter"}\n');
    expect((await collect(f)).map(codeOf)).toEqual(['ok', 'INGEST_INVALID_JSON', 'ok']);
  });

  it('skips an oversized line without holding it and keeps the next one', async () => {
    const f = join(dir, 'c.ndjson');
    writeFileSync(f, `{"resourceType":"Patient","x":"${'y'.repeat(5000)}"}\n{"resourceType":"Encounter"}\n`);
    const recs = await collect(f, 1024);
    expect(recs.map(codeOf)).toEqual(['INGEST_RECORD_TOO_LARGE', 'ok']);
    expect(recs[0]?.line).toBe(1);
  });

  it('reports binary garbage and an empty file', async () => {
    const bin = join(dir, 'd.ndjson');
    writeFileSync(bin, Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x0a, ...Buffer.from('{"resourceType":"Patient"}\n')]));
    expect((await collect(bin)).map(codeOf)).toEqual(['INGEST_BINARY_INPUT', 'ok']);
    const empty = join(dir, 'e.json');
    writeFileSync(empty, '');
    expect((await collect(empty)).map(codeOf)).toEqual(['INGEST_EMPTY_FILE']);
  });

  it('reads gzipped files and whole JSON documents', async () => {
    const f = join(dir, 'f.json.gz');
    writeFileSync(f, gzipSync(JSON.stringify({ resourceType: 'Bundle', type: 'collection' }, null, 2)));
    const recs = await collect(f);
    expect(recs).toHaveLength(1);
    expect((recs[0] as { value: { type: string } }).value.type).toBe('collection');
  });

  it('reads files with odd names by content: gzip by magic bytes, one document or NDJSON', async () => {
    const odd = join(dir, 'g.json".gz');
    writeFileSync(odd, gzipSync(JSON.stringify({ resourceType: 'Patient' }, null, 2)));
    expect((await collect(odd)).map(codeOf)).toEqual(['ok']);
    const lines = join(dir, 'h.txt');
    writeFileSync(lines, '{"resourceType":"Patient"}\n{"resourceType":"Encounter"}\n');
    expect((await collect(lines)).map((r) => r.line)).toEqual([1, 2]);
    const notes = join(dir, 'i.md');
    writeFileSync(notes, '# not FHIR\n');
    expect((await collect(notes)).map(codeOf)).toEqual(['INGEST_INVALID_JSON']);
  });

  it('lists every non-hidden file of folders recursively, in order', async () => {
    writeFileSync(join(dir, '.hidden'), 'x');
    const files = await listInputFiles([dir]);
    expect(files.map((f) => f.slice(dir.length + 1))).toEqual([
      'a.ndjson',
      'b.ndjson',
      'c.ndjson',
      'd.ndjson',
      'e.json',
      'f.json.gz',
      'g.json".gz',
      'h.txt',
      'i.md',
    ]);
  });
});

describe('readNdjsonBlocks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hm-blocks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  type Item = { line?: number; text?: string; code?: string };
  /** What the line reader gives, one item per line or error. */
  const byLines = async (file: string, maxRecordBytes: number) => {
    const out: Item[] = [];
    for await (const r of readNdjsonLines(file, { maxRecordBytes })) {
      if ('buffer' in r) out.push({ line: r.line, text: r.buffer.toString('latin1') });
      else if ('error' in r) out.push({ ...(r.line !== undefined && { line: r.line }), code: r.error.code });
    }
    return out;
  };
  /** The same from blocks, checking each block's own invariants on the way. */
  const byBlocks = async (file: string, maxRecordBytes: number, blockBytes: number, maxLines = 1 << 20) => {
    const out: Item[] = [];
    let total = 0;
    for await (const b of readNdjsonBlocks(file, { maxRecordBytes, blockBytes, maxLines })) {
      if ('starts' in b) {
        expect(b.lines.length).toBeGreaterThan(0);
        expect(b.lines.length).toBeLessThanOrEqual(maxLines);
        const bytes = Buffer.from(b.buffer);
        let sum = 0;
        b.lines.forEach((line, i) => {
          out.push({ line, text: bytes.toString('latin1', b.starts[i], b.ends[i]) });
          sum += b.ends[i]! - b.starts[i]!;
        });
        expect(b.bytes).toBe(sum);
        total += sum;
      } else if ('error' in b) out.push({ ...(b.line !== undefined && { line: b.line }), code: b.error.code });
    }
    return { out, total };
  };

  it('gives the lines, numbers and errors the line reader gives, in order, whatever the block size', async () => {
    const long = `{"resourceType":"Observation","note":"${'x'.repeat(300)}"}`;
    const text = [
      '\uFEFF{"resourceType":"Patient","id":"bom"}',
      '',
      '   ',
      '{"resourceType":"Observation","id":"crlf"}\r',
      long,
      '{"resourceType":"Observation","id":"after-long"}',
      '\r',
      long,
      long,
      '{"a":1}',
      '{"resourceType":"Observation","id":"last-without-newline"}',
    ].join('\n');
    const file = join(dir, 'tricky.ndjson');
    writeFileSync(file, text);
    for (const max of [200, 1000]) {
      const expected = await byLines(file, max);
      expect(expected.filter((i) => i.code === 'INGEST_RECORD_TOO_LARGE')).toHaveLength(max === 200 ? 3 : 0);
      for (const blockBytes of [7, 16, 64, 100, 333, 4096]) {
        const { out } = await byBlocks(file, max, blockBytes);
        expect(out, `max ${max}, blocks of ${blockBytes}`).toEqual(expected);
      }
    }
    // At most so many lines per block, the rest in the next.
    const { out } = await byBlocks(file, 1000, 4096, 2);
    expect(out).toEqual(await byLines(file, 1000));
  });

  it('reports an empty file, a file of blank lines and an over-long last line as the line reader does', async () => {
    for (const [name, text] of [
      ['empty.ndjson', ''],
      ['blank.ndjson', '\n  \n\r\n'],
      ['long-last.ndjson', `{"a":1}\n${'y'.repeat(500)}`],
    ] as const) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const expected = await byLines(file, 100);
      expect(expected.length).toBeGreaterThan(0);
      for (const blockBytes of [8, 64, 1024]) expect((await byBlocks(file, 100, blockBytes)).out).toEqual(expected);
    }
  });

  it('reads a large file into blocks near the asked size, every byte of every line once', async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) =>
      JSON.stringify({ resourceType: 'Observation', id: `o${i}` }),
    );
    const file = join(dir, 'many.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    let blocks = 0;
    for await (const b of readNdjsonBlocks(file, {
      maxRecordBytes: 1 << 20,
      blockBytes: 64 << 10,
      maxLines: 1 << 20,
    })) {
      if ('starts' in b) {
        blocks++;
        expect(b.buffer.byteLength).toBe(64 << 10);
      }
    }
    const { out, total } = await byBlocks(file, 1 << 20, 64 << 10);
    expect(out.map((i) => i.text)).toEqual(lines);
    expect(total).toBe(lines.reduce((n, l) => n + l.length, 0));
    // Whole 64 KiB reads, each carrying the cut line on: no more blocks than one per read of the file.
    expect(blocks).toBeGreaterThanOrEqual(Math.floor((total + lines.length) / (64 << 10)));
    expect(blocks).toBeLessThanOrEqual(Math.ceil((total + lines.length) / ((64 << 10) - 100)));
  });
});
