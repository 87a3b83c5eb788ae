import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { RawRecord, RecordInput } from './record-reader.js';
import { listInputFiles, readRecords } from './record-reader.js';

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
