import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Hub } from '../src/hub/index.js';
import type { IngestSummary, Reject } from '../src/ingest/index.js';
import { describeWithSharedData, sharedPath } from './support/shared-data.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

describeWithSharedData('ingesting the official R4 examples', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let summary: IngestSummary;
  let rejects: Reject[];

  beforeAll(async () => {
    ({ hub, cleanup } = await tempHub('examples'));
    summary = await hub.ingest.ingestPaths([sharedPath('fhir-r4/examples')], ingestOptions(hub));
    rejects = readFileSync(summary.rejectsFile!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Reject);
  }, 120_000);
  afterAll(async () => cleanup());

  it('accepts the clinical and administrative examples', () => {
    expect(summary.files).toBe(141);
    expect(summary.totals.created).toBe(139);
    for (const type of [
      'Patient',
      'Observation',
      'Condition',
      'Encounter',
      'MedicationRequest',
      'Procedure',
      'Claim',
      'Organization',
    ]) {
      expect(summary.byType[type]?.created, type).toBeGreaterThan(0);
    }
  });

  it('rejects only what is not storable, each with a code, a path and a reason', () => {
    // A search-request batch (GET entries, not data) and the core IG, whose manifest holds an id of 68 chars.
    expect([...new Set(rejects.map((r) => basename(r.file)))].sort()).toEqual([
      'Bundle-bundle-request-simplesummary.json',
      'ig-r4.json',
    ]);
    for (const r of rejects) {
      expect(r.path).toMatch(/^(Bundle|ImplementationGuide)\./);
      expect(r.message.length).toBeGreaterThan(20);
    }
    expect(rejects.find((r) => basename(r.file) === 'ig-r4.json')).toMatchObject({ code: 'FHIR_REFERENCE_SYNTAX' });
  });
});
