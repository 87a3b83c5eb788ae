import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Hub } from '../src/hub/index.js';
import type { IngestSummary } from '../src/ingest/index.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

describeWithSharedData('ingesting the 100 Synthea transaction bundles', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let first: IngestSummary;
  let second: IngestSummary;

  beforeAll(async () => {
    ({ hub, cleanup } = await tempHub('synthea'));
    first = await hub.ingest.ingestPaths([sharedPath('synthea-fhir-r4/bundles-gz')], ingestOptions(hub));
    second = await hub.ingest.ingestPaths([sharedPath('synthea-fhir-r4/bundles-gz')], ingestOptions(hub));
  }, 600_000);
  afterAll(async () => cleanup());

  it('accepts every entry with zero rejects', () => {
    expect(first.totals.rejected).toBe(0);
    expect(first.files).toBe(100);
  });

  it('stores each distinct resource once: per-type counts equal distinct_counts.json', async () => {
    const expected = JSON.parse(readFileSync(sharedPath('synthea-fhir-r4/distinct_counts.json'), 'utf8')) as {
      resources_distinct: number;
      by_type: Record<string, number>;
    };
    expect(await hub.store.countByType()).toEqual(
      Object.fromEntries(Object.entries(expected.by_type).sort(([a], [b]) => a.localeCompare(b))),
    );
    expect(first.totals.created).toBe(expected.resources_distinct);
    // Organization and Practitioner recur across bundles with identical content: reported as unchanged.
    expect(first.totals.unchanged).toBe(32_368 - expected.resources_distinct);
    expect(first.byType.Organization?.unchanged).toBeGreaterThan(0);
  });

  it('makes no new version when the same files are ingested again', async () => {
    expect(second.totals.created + second.totals.updated).toBe(0);
    expect(second.totals.unchanged).toBe(32_368);
    const [row] = await hub.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM resource_version');
    expect(row?.n).toBe(32_178);
  });

  it('resolves every reference to a stored resource', async () => {
    let refs = 0;
    const dangling: string[] = [];
    const heads = new Set<string>();
    for await (const rows of hub.db.stream<{ type: string; id: string }>('SELECT type, id FROM resource_head')) {
      for (const r of rows) heads.add(`${r.type}/${r.id}`);
    }
    for await (const rows of hub.db.stream<{ content: string }>('SELECT content FROM resource_version')) {
      for (const r of rows) {
        for (const m of r.content.matchAll(/"reference":"([^"]+)"/g)) {
          const ref = m[1]!;
          if (ref.startsWith('#')) continue;
          refs++;
          if (!heads.has(ref)) dangling.push(ref);
        }
      }
    }
    expect(refs).toBeGreaterThan(40_000);
    expect(dangling).toEqual([]);
  });

  it('keys every clinical record to its pseudonymous patient', async () => {
    const [row] = await hub.db.all<{ n: number }>(
      `SELECT COUNT(*) AS n FROM resource_head h WHERE h.type IN ('Observation','Condition','Encounter') AND
         (h.patient_key IS NULL OR h.patient_key NOT IN (SELECT id FROM resource_head WHERE type = 'Patient'))`,
    );
    expect(row?.n).toBe(0);
  });
});
