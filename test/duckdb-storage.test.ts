import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { hubPaths, initHub, openHub } from '../src/hub/index.js';
import { ingestOptions } from './support/temp-hub.js';

/** Enough Observations for whole row groups of bodies, so the checkpoint compresses them as a store would. */
function observations(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        resourceType: 'Observation',
        id: `obs-${i}`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
        subject: { reference: `Patient/p-${i % 500}` },
        effectiveDateTime: `2024-0${1 + (i % 9)}-1${i % 10}T08:00:00Z`,
        valueQuantity: { value: 100 + (i % 60), unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
      }),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function bodyStorage(hub: Hub): Promise<{ version: string; methods: string[] }> {
  await hub.db.run('CHECKPOINT');
  const [db] = await hub.db.all<{ version: string }>(
    "SELECT d.tags['storage_version'] AS version FROM duckdb_databases() d WHERE d.database_name = current_database()",
  );
  const methods = await hub.db.all<{ compression: string }>(
    "SELECT DISTINCT compression FROM pragma_storage_info('resource_version') WHERE column_name = 'content' AND segment_type = 'VARCHAR'",
  );
  return { version: db!.version, methods: methods.map((m) => m.compression).sort() };
}

/** Every body reads back whole: 6,000 final Observations, each with its systolic pressure. */
async function expectBodiesRead(hub: Hub): Promise<void> {
  const [read] = await hub.db.all<{ n: number; total: number }>(
    `SELECT COUNT(*) AS n, SUM(CAST(json_extract_string(content, '$.valueQuantity.value') AS INTEGER)) AS total
       FROM resource_version WHERE json_extract_string(content, '$.status') = 'final'`,
  );
  let total = 0;
  for (let i = 0; i < 6000; i++) total += 100 + (i % 60);
  expect({ n: Number(read!.n), total: Number(read!.total) }).toEqual({ n: 6000, total });
}

/**
 * The DuckDB store's file format and body compression (store/duckdb/duckdb-database.ts): a new store compresses
 * resource bodies with zstd; a store file made in DuckDB's older format, as every hub made before, opens, migrates,
 * takes writes and answers reads in its own format.
 */
describe('the DuckDB store file', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-duckdb-storage-'));
  const input = join(root, 'observations.ndjson');
  writeFileSync(input, observations(6000));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function hubIn(name: string): Promise<Hub> {
    const dir = join(root, name);
    await initHub(dir, { name, config: { store: { engine: 'duckdb', memoryLimit: '1GB' } }, logger: silentLogger() });
    const hub = await openHub(dir, { logger: silentLogger() });
    const report = await hub.ingest.ingestPaths([input], ingestOptions(hub));
    expect(report.totals).toMatchObject({ created: 6000, rejected: 0 });
    return hub;
  }

  it('is written in the v1.5 format, with resource bodies compressed by zstd', async () => {
    const hub = await hubIn('new');
    try {
      expect(await bodyStorage(hub)).toEqual({ version: 'v1.5.0+', methods: ['ZSTD'] });
      await expectBodiesRead(hub);
    } finally {
      await hub.close();
    }
  });

  it('opens a store file in the older format, writes to it and reads it back, keeping its format', async () => {
    // A store file as a hub made before this format: DuckDB's default for a new file then (v1.0).
    const dir = join(root, 'old-format');
    mkdirSync(dir);
    const old = await DuckDBInstance.create(hubPaths(dir).store, { storage_compatibility_version: 'v1.0.0' });
    old.closeSync();
    const hub = await hubIn('old-format');
    try {
      const storage = await bodyStorage(hub);
      expect(storage.version).toBe('v1.0.0+');
      expect(storage.methods).not.toContain('ZSTD');
      await expectBodiesRead(hub);
    } finally {
      await hub.close();
    }
  });
});
