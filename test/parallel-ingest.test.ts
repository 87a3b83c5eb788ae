import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/core/index.js';
import type { OpenOptions } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { separateCopiedStore, testHubConfig } from './support/test-engine.js';

const work = mkdtempSync(join(tmpdir(), 'hm-parallel-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function corpus(): string {
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const base = i % 2500; // the last 500 lines repeat ids: odd ones unchanged, even ones a new version
    lines.push(
      JSON.stringify({
        resourceType: 'Observation',
        id: `o${base}`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: base % 7 === 0 ? '2339-0' : '8302-2' }] },
        subject: { reference: `Patient/p${base % 40}` },
        effectiveDateTime: `2020-01-${String((base % 28) + 1).padStart(2, '0')}`,
        valueQuantity: { value: i >= 2500 && i % 2 === 0 ? base + 0.5 : base, unit: 'cm' },
        note: [{ text: `call 010-1234-${String(base).padStart(4, '0')}` }],
      }),
    );
    if (i % 500 === 0) lines.push('{"resourceType":"Observation","status":'); // truncated
    if (i % 700 === 0) lines.push(JSON.stringify({ resourceType: 'Patient', id: `bad${i}`, birthDate: '1990-13-01' }));
    if (i % 900 === 0) lines.push(`{"resourceType":"Observation","valueString":"${'x'.repeat(3000)}"}`); // over the limit below
  }
  for (let p = 0; p < 40; p++) lines.push(JSON.stringify({ resourceType: 'Patient', id: `p${p}`, gender: 'female' }));
  lines.push(
    JSON.stringify({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'Patient', id: 'in-bundle' } },
        // Refers to a Patient staged just above, in a batch not yet written when the bundle is read.
        {
          resource: {
            resourceType: 'Observation',
            id: 'in-bundle-obs',
            status: 'final',
            code: { text: 'x' },
            subject: { reference: 'Patient/p5' },
          },
        },
      ],
    }),
  );
  return `${lines.join('\n')}\n`;
}

async function ingestWith(dir: string, options: OpenOptions, file: string) {
  const hub = await openHub(dir, { logger: silentLogger(), ...options });
  try {
    const summary = await hub.ingest.ingestPaths([file], {
      source: 'lab',
      actor: 'test',
      rejectsPath: join(dir, 'rejects.ndjson'),
      batchSize: 700,
      maxRecordBytes: 2048,
    });
    const stored = await hub.db.all(
      'SELECT type, id, version, hash, patient_key, content FROM resource_version ORDER BY type, id, version',
    );
    const search = await hub.db.all('SELECT * FROM search_token ORDER BY type, id, param, code');
    const dates = await hub.db.all('SELECT * FROM search_date ORDER BY type, id, param, low, high');
    const references = await hub.db.all('SELECT * FROM search_reference ORDER BY type, id, param, target');
    const heads = await hub.db.all('SELECT type, id, version, hash, patient_key FROM resource_head ORDER BY type, id');
    const staging = existsSync(hub.paths.stagingDir) ? readdirSync(hub.paths.stagingDir, { recursive: true }) : null;
    return {
      summary,
      stored,
      search,
      dates,
      references,
      heads,
      staging,
      rejects: readFileSync(join(dir, 'rejects.ndjson'), 'utf8'),
    };
  } finally {
    await hub.close();
  }
}

describe('the parallel NDJSON path', () => {
  it('stores exactly what the single-threaded path stores, with the same rejects in the same order', async () => {
    const base = join(work, 'hub');
    await initHub(base, { name: 'parallel', config: await testHubConfig(), logger: silentLogger() });
    const single = join(work, 'single');
    const parallel = join(work, 'parallel');
    cpSync(base, single, { recursive: true });
    cpSync(base, parallel, { recursive: true });
    await separateCopiedStore(single);
    await separateCopiedStore(parallel);
    const file = join(work, 'corpus.ndjson');
    writeFileSync(file, corpus());

    const a = await ingestWith(single, { parallelIngest: false }, file);
    const b = await ingestWith(parallel, { parallelIngest: { workers: 2, minFileBytes: 0 } }, file);

    expect(a.summary.totals.created).toBeGreaterThan(2500);
    expect(a.summary.totals.updated).toBeGreaterThan(0);
    expect(a.summary.totals.unchanged).toBeGreaterThan(0);
    expect(a.summary.totals.rejected).toBeGreaterThan(8);
    expect(b.summary.byType).toEqual(a.summary.byType);
    expect(b.stored).toEqual(a.stored);
    expect(b.search).toEqual(a.search);
    expect(b.dates).toEqual(a.dates);
    expect(b.references).toEqual(a.references);
    expect(b.heads).toEqual(a.heads);
    expect(b.dates.length).toBeGreaterThanOrEqual(2500);
    expect(b.references.length).toBeGreaterThan(2500);
    // the bulk path staged its rows under the hub and removed them when the run ended
    expect(b.staging).toEqual([]);
    expect(b.rejects).toBe(a.rejects);
    expect(b.rejects).not.toContain('in-bundle-obs');
    expect(b.summary.byType.Observation?.created).toBeGreaterThan(2500);
    expect(JSON.stringify(b.stored)).not.toContain('010-1234');
  }, 120_000);
});
