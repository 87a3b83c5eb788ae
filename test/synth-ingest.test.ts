import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestSummary } from '../src/ingest/index.js';
import { generateRegion } from '../src/synth/index.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

type Json = Record<string, unknown>;

/** The synthetic population through the real ingest pipeline: the generator's output is valid FHIR R4. */
describe('a synthetic population ingested into a hub', () => {
  const input = mkdtempSync(join(tmpdir(), 'hm-synth-in-'));
  let env: Awaited<ReturnType<typeof tempHub>>;
  let summary: IngestSummary;
  let generated: number;
  let storeValues = '';
  const identifiers: string[] = [];

  beforeAll(async () => {
    generated = generateRegion({ region: 'gyeonggi', people: 200, seed: 'ingest', out: input }).resources;
    env = await tempHub('gyeonggi');
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    summary = await env.hub.ingest.ingestPaths(files, ingestOptions(env.hub, { source: 'synth-gyeonggi' }));
    for (const line of readFileSync(join(input, 'Patient.ndjson'), 'utf8').split('\n')) {
      if (line.length === 0) continue;
      const p = JSON.parse(line) as Json;
      const name = (p.name as { text: string }[])[0]?.text;
      const rrn = (p.identifier as { value: string }[])[0]?.value;
      const phone = (p.telecom as { value: string }[])[0]?.value;
      const line1 = ((p.address as { line: string[] }[])[0]?.line ?? [])[0];
      for (const x of [name, rrn, rrn?.replace('-', ''), phone, line1]) if (x !== undefined) identifiers.push(x);
    }
    for (const table of ['resource_version', 'resource_head', 'search_token', 'search_reference', 'audit_log']) {
      storeValues += JSON.stringify(await env.hub.db.all(`SELECT * FROM ${table}`), (_k, v) =>
        typeof v === 'bigint' ? String(v) : v,
      );
    }
  }, 300_000);

  afterAll(async () => {
    await env.cleanup();
    rmSync(input, { recursive: true, force: true });
  });

  it('accepts every generated resource, with zero rejects', () => {
    expect(summary.totals.rejected).toBe(0);
    expect(summary.totals.created).toBe(generated);
  });

  it('keeps none of the direct identifiers the generator wrote, in any value the store holds', () => {
    expect(identifiers.length).toBeGreaterThan(4 * 200);
    expect(storeValues.length).toBeGreaterThan(1_000_000);
    // One pass over the store's values with all identifiers as alternatives (per-identifier scans take minutes).
    const pattern = new RegExp(identifiers.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
    expect(`before ${identifiers[7]} after`.match(pattern)).toEqual([identifiers[7]]); // the pattern does find them
    expect(storeValues.match(pattern) ?? []).toEqual([]);
  });
});
