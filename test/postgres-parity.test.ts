import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCohort } from '../src/cohort/index.js';
import type { HubConfig } from '../src/core/index.js';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { parseTrainingSpec, trainFromSpec } from '../src/models/index.js';
import { generateRegion } from '../src/synth/index.js';
import { htnTrainingSpec } from './support/htn-spec.js';
import { ingestOptions } from './support/temp-hub.js';
import { testStore } from './support/test-engine.js';

/**
 * The same data on both engines gives the same answers (issue 15): stored resources, analytic tables, a cohort's
 * attrition, and a logistic model's coefficients to 1e-8. Runs in the postgres project, where a cluster exists.
 */
const SPEC = htnTrainingSpec('htn-parity');
const COHORT = JSON.parse(
  readFileSync(new URL('./fixtures/cohorts/htn-older-women.json', import.meta.url), 'utf8'),
) as unknown;

describe('DuckDB and PostgreSQL on the same data', () => {
  const input = mkdtempSync(join(tmpdir(), 'hm-parity-'));
  const hubs: Hub[] = [];
  let dropDatabase: () => Promise<void> = async () => undefined;
  let duck: Hub;
  let pg: Hub;

  beforeAll(async () => {
    generateRegion({ region: 'gwangju', people: 400, seed: 'engine-parity', out: input });
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    // One hub, copied: both copies keep the same pseudonymisation secret, so ids, keys and hashes can be compared.
    const base = join(input, 'hub-duckdb');
    await initHub(base, {
      name: 'parity',
      config: { store: (await testStore('duckdb')).store },
      logger: silentLogger(),
    });
    const copy = join(input, 'hub-postgres');
    cpSync(base, copy, { recursive: true });
    const config = JSON.parse(readFileSync(join(copy, 'hub.json'), 'utf8')) as HubConfig;
    const { store, drop } = await testStore('postgres');
    writeFileSync(join(copy, 'hub.json'), JSON.stringify({ ...config, store }), { mode: 0o600 });
    dropDatabase = drop;
    for (const dir of [base, copy]) {
      const hub = await openHub(dir, { logger: silentLogger() });
      hubs.push(hub);
      // The ingest's after-commit pipeline builds the analytic tables and the event index.
      await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: 'synth-gwangju' }));
    }
    [duck, pg] = hubs as [Hub, Hub];
    expect(duck.db.engine).toBe('duckdb');
    expect(pg.db.engine).toBe('postgres');
  }, 300_000);

  afterAll(async () => {
    for (const h of hubs) await h.close();
    await dropDatabase();
    rmSync(input, { recursive: true, force: true });
  });

  const both = async (sql: string) => Promise.all([duck.db.all(sql), pg.db.all(sql)]);

  it('stores the same resources and flattens them into the same analytic tables', async () => {
    const [a, b] = await both(
      'SELECT type, COUNT(*) AS n, MAX(version) AS v FROM resource_head GROUP BY type ORDER BY type',
    );
    expect(a.length).toBeGreaterThan(5);
    expect(b).toEqual(a);
    const [ha, hb] = await both('SELECT type, id, hash FROM resource_head ORDER BY type, id');
    expect(hb).toEqual(ha);
    const [va, vb] = await both('SELECT table_name, row_count FROM view_table ORDER BY table_name');
    expect(va.length).toBeGreaterThan(5);
    expect(vb).toEqual(va);
    const [ea, eb] = await both(
      'SELECT domain, COUNT(*) AS n, COUNT(DISTINCT patient_key) AS people, SUM(value) AS total FROM cohort_event GROUP BY domain ORDER BY domain',
    );
    expect(eb.map((r) => ({ ...r, total: undefined }))).toEqual(ea.map((r) => ({ ...r, total: undefined })));
    for (const [i, r] of ea.entries()) {
      const x = Number(r.total ?? 0);
      expect(Math.abs(Number(eb[i]!.total ?? 0) - x)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(x)));
    }
  });

  it('counts the same cohort, rule by rule', async () => {
    const [a, b] = await Promise.all([duck, pg].map((h) => runCohort(h.db, COHORT, h.clock)));
    expect(a!.attrition.at(-1)!.persons).toBeGreaterThan(0);
    expect(b!.attrition).toEqual(a!.attrition);
  });

  it('fits the same logistic model: coefficients to 1e-8', async () => {
    const [a, b] = await Promise.all(
      [duck, pg].map((h) => trainFromSpec(h, parseTrainingSpec(SPEC as unknown), 'test')),
    );
    expect(b!.rows.matrix.rows).toBe(a!.rows.matrix.rows);
    const ca = a!.registered.model.kind === 'logistic' ? a!.registered.model.coefficients : [];
    const cb = b!.registered.model.kind === 'logistic' ? b!.registered.model.coefficients : [];
    expect(ca.length).toBe(SPEC.features.length + 2); // intercept, four features, the sbp missing indicator
    expect(cb.length).toBe(ca.length);
    for (const [i, c] of ca.entries()) expect(Math.abs(cb[i]! - c)).toBeLessThanOrEqual(1e-8);
  }, 120_000);
});
