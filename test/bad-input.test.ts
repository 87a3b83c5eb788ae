import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import type { Reject } from '../src/ingest/index.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

let hub: Hub;
let dir: string;
let cleanup: () => Promise<void>;
let n = 0;

beforeAll(async () => {
  ({ hub, dir, cleanup } = await tempHub('bad-input'));
});
afterAll(async () => cleanup());

const patient = (id: string) => ({ resourceType: 'Patient', id, gender: 'female', birthDate: '1970-03-04' });
const obs = (id: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8302-2' }] },
  ...extra,
});

/** Ingest the given file content between two good records; return the rejects and the good records' fate. */
async function ingestBetweenGood(middle: string | Buffer, ext = 'ndjson') {
  const tag = `case${++n}`;
  const file = join(dir, `${tag}.${ext}`);
  const before = Buffer.from(`${JSON.stringify(obs(`${tag}-before`))}\n`);
  const after = Buffer.from(`\n${JSON.stringify(obs(`${tag}-after`))}\n`);
  writeFileSync(file, Buffer.concat([before, Buffer.isBuffer(middle) ? middle : Buffer.from(middle), after]));
  const opts = ingestOptions(hub);
  const summary = await hub.ingest.ingestPaths([file], opts);
  const rejects = summary.rejectsFile
    ? readFileSync(summary.rejectsFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Reject)
    : [];
  return { summary, rejects, file };
}

function expectOneReject(
  r: { summary: { totals: { created: number; rejected: number } }; rejects: Reject[]; file: string },
  code: ErrorCode,
) {
  expect(r.rejects).toHaveLength(1);
  expect(r.rejects[0]).toMatchObject({ code, file: r.file, line: 2 });
  expect(r.rejects[0]!.message.length).toBeGreaterThan(10);
  expect(r.summary.totals.rejected).toBe(1);
  expect(r.summary.totals.created).toBe(2); // both neighbours kept
}

describe('a corpus of bad input: each gives its clear reject and loses nothing else', () => {
  it('truncated JSON', async () => {
    expectOneReject(await ingestBetweenGood('{"resourceType":"Observation","status":"fin'), 'INGEST_INVALID_JSON');
  });

  it('unknown resourceType', async () => {
    const r = await ingestBetweenGood(JSON.stringify({ resourceType: 'Patientt', id: 'x' }));
    expectOneReject(r, 'FHIR_UNKNOWN_RESOURCE_TYPE');
  });

  it('missing required element', async () => {
    const r = await ingestBetweenGood(JSON.stringify({ resourceType: 'Observation', id: 'x', code: { text: 'x' } }));
    expectOneReject(r, 'FHIR_REQUIRED');
    expect(r.rejects[0]).toMatchObject({ resourceType: 'Observation', id: 'x', path: 'Observation.status' });
  });

  it('wrong primitive type', async () => {
    const r = await ingestBetweenGood(JSON.stringify({ ...patient('p'), active: 'yes' }));
    expectOneReject(r, 'FHIR_PRIMITIVE');
    expect(r.rejects[0]?.path).toBe('Patient.active');
  });

  it('invalid date', async () => {
    const r = await ingestBetweenGood(JSON.stringify(obs('x', { effectiveDateTime: '2021-02-30' })));
    expectOneReject(r, 'FHIR_PRIMITIVE');
    expect(r.rejects[0]?.path).toBe('Observation.effectiveDateTime');
  });

  it('a 10 MB string', async () => {
    const r = await ingestBetweenGood(JSON.stringify(obs('x', { valueString: 'a'.repeat(10 * 1024 * 1024) })));
    expectOneReject(r, 'FHIR_PRIMITIVE');
    expect(r.rejects[0]?.path).toBe('Observation.valueString');
  });

  it('a line of 100 MB', async () => {
    const r = await ingestBetweenGood(
      `{"resourceType":"Observation","valueString":"${'b'.repeat(100 * 1024 * 1024)}"}`,
    );
    expectOneReject(r, 'INGEST_RECORD_TOO_LARGE');
  });

  it('binary garbage', async () => {
    expectOneReject(await ingestBetweenGood(Buffer.from([0x00, 0xff, 0xfe, 0x9c, 0x81, 0x00])), 'INGEST_BINARY_INPUT');
  });

  it('a record that is JSON but not a resource', async () => {
    expectOneReject(await ingestBetweenGood('[1,2,3]'), 'INGEST_NOT_A_RESOURCE');
  });

  it('BOM and CRLF line ends are accepted', async () => {
    const file = join(dir, 'crlf.ndjson');
    writeFileSync(file, `\uFEFF${JSON.stringify(obs('crlf-1'))}\r\n${JSON.stringify(obs('crlf-2'))}\r\n`);
    const summary = await hub.ingest.ingestPaths([file], ingestOptions(hub));
    expect(summary.totals).toMatchObject({ created: 2, rejected: 0 });
  });

  it('an empty file', async () => {
    const file = join(dir, 'empty.ndjson');
    writeFileSync(file, '');
    const summary = await hub.ingest.ingestPaths([file], ingestOptions(hub));
    expect(summary.totals.rejected).toBe(1);
    const [reject] = readFileSync(summary.rejectsFile!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Reject);
    expect(reject).toMatchObject({ code: 'INGEST_EMPTY_FILE', file });
  });
});

describe('bundles', () => {
  const bundle = (type: string, entries: Record<string, unknown>[]) => ({
    resourceType: 'Bundle',
    type,
    entry: entries.map((resource, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource,
      request: { method: 'POST', url: resource.resourceType },
    })),
  });

  async function ingestBundle(name: string, b: unknown) {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(b));
    const summary = await hub.ingest.ingestPaths([file], ingestOptions(hub));
    const rejects = summary.rejectsFile
      ? readFileSync(summary.rejectsFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Reject)
      : [];
    return { summary, rejects };
  }

  it('rolls back a whole transaction when one entry references nothing', async () => {
    const b = bundle('transaction', [
      patient('tx-p'),
      obs('tx-o', { subject: { reference: 'urn:uuid:00000000-0000-4000-8000-000000000000' } }),
      obs('tx-bad', { subject: { reference: 'urn:uuid:99999999-0000-4000-8000-000000000000' } }),
    ]);
    const { summary, rejects } = await ingestBundle('tx-dangling.json', b);
    expect(summary.totals.created).toBe(0);
    expect(rejects.map((r) => r.code).sort()).toEqual([
      'INGEST_TRANSACTION_FAILED',
      'INGEST_TRANSACTION_FAILED',
      'INGEST_UNRESOLVED_REFERENCE',
    ]);
    expect(rejects.find((r) => r.code === 'INGEST_UNRESOLVED_REFERENCE')).toMatchObject({
      entry: 2,
      path: 'Observation.subject',
    });
  });

  it('rejects a relative reference to a resource that is neither in the bundle nor stored', async () => {
    const { summary, rejects } = await ingestBundle(
      'batch-dangling.json',
      bundle('batch', [obs('b-ok'), obs('b-bad', { subject: { reference: 'Patient/nobody' } })]),
    );
    expect(summary.totals).toMatchObject({ created: 1, rejected: 1 });
    expect(rejects[0]).toMatchObject({ code: 'INGEST_UNRESOLVED_REFERENCE', entry: 1 });
  });

  it('rejects the same id twice in one bundle with different content, keeps the first', async () => {
    const { summary, rejects } = await ingestBundle(
      'batch-dup.json',
      bundle('batch', [obs('dup', { valueString: 'one' }), obs('dup', { valueString: 'two' })]),
    );
    expect(summary.totals).toMatchObject({ created: 1, rejected: 1 });
    expect(rejects[0]).toMatchObject({ code: 'INGEST_DUPLICATE_ENTRY', entry: 1 });
  });

  it('stores an identical repeat in one bundle once and counts it unchanged', async () => {
    const { summary } = await ingestBundle(
      'batch-repeat.json',
      bundle('batch', [obs('rep', { valueString: 'same' }), obs('rep', { valueString: 'same' })]),
    );
    expect(summary.totals).toMatchObject({ created: 1, unchanged: 1, rejected: 0 });
  });

  it('fails a transaction with a duplicate id as a whole', async () => {
    const { summary } = await ingestBundle(
      'tx-dup.json',
      bundle('transaction', [obs('tdup', { valueString: 'one' }), obs('tdup', { valueString: 'two' })]),
    );
    expect(summary.totals.created).toBe(0);
    expect(summary.totals.rejected).toBe(2);
  });

  it('stores collection entries independently and resolves their references', async () => {
    const { summary } = await ingestBundle(
      'collection.json',
      bundle('collection', [
        patient('c-p'),
        obs('c-o', { subject: { reference: 'Patient/c-p' } }),
        { resourceType: 'Nope' },
      ]),
    );
    expect(summary.totals).toMatchObject({ created: 2, rejected: 1 });
  });

  it("stores two sources' Patient/123 as two patients", async () => {
    const file = join(dir, 'same-id.ndjson');
    writeFileSync(file, `${JSON.stringify(patient('123'))}\n`);
    const a = await hub.ingest.ingestPaths([file], ingestOptions(hub, { source: 'hospital-a' }));
    const b = await hub.ingest.ingestPaths([file], ingestOptions(hub, { source: 'hospital-b' }));
    const again = await hub.ingest.ingestPaths([file], ingestOptions(hub, { source: 'hospital-a' }));
    expect([a.totals.created, b.totals.created, again.totals.unchanged]).toEqual([1, 1, 1]);
  });
});
