import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub/index.js';
import type { FeatureSpec } from '../src/models/index.js';
import { buildHubFeatures, flattenRecords } from '../src/models/index.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

/**
 * Issue 18: a citizen's features from this hub's rows plus their records held at a peer (`FeatureScope.records`,
 * flattened into temporary tables for the build) equal the features of a hub that holds all of those records.
 */
type Json = Record<string, unknown>;
const SOURCE = 'clinic';
const INDEX = '2026-03-02';
const LOINC = 'http://loinc.org';

const SPEC: FeatureSpec = {
  name: 'merged',
  conceptSets: {
    sbp: { concepts: [{ system: LOINC, code: '8480-6' }] },
    steps: { concepts: [{ system: LOINC, code: '55423-8' }] },
    diabetes: { concepts: [{ system: 'http://snomed.info/sct', code: '44054006' }] },
  },
  population: { indexDate: '2025-01-01' },
  features: [
    { name: 'age', kind: 'age' },
    { name: 'male', kind: 'sex', value: 'male' },
    { name: 'sbp_latest', kind: 'latest', conceptSet: 'sbp', window: { start: -365, end: 0 } },
    { name: 'sbp_mean', kind: 'mean', conceptSet: 'sbp', window: { start: -730, end: 0 } },
    { name: 'diabetes', kind: 'count', conceptSet: 'diabetes', domain: 'condition', window: { end: 0 } },
    { name: 'steps', kind: 'lifelog', conceptSet: 'steps', window: { start: -30, end: 0 } },
  ],
};

const sbp = (p: string, n: number, day: string, value: number): Json => ({
  resourceType: 'Observation',
  id: `${p}-sbp-${n}`,
  status: 'final',
  code: { coding: [{ system: LOINC, code: '8480-6' }] },
  subject: { reference: `Patient/${p}` },
  effectiveDateTime: `${day}T09:00:00Z`,
  valueQuantity: { value, unit: 'mmHg' },
});
const steps = (p: string, n: number, day: string, value: number): Json => ({
  resourceType: 'Observation',
  id: `${p}-steps-${n}`,
  status: 'final',
  code: { coding: [{ system: LOINC, code: '55423-8' }] },
  subject: { reference: `Patient/${p}` },
  device: { display: 'wristband' },
  effectiveDateTime: `${day}T23:00:00Z`,
  valueQuantity: { value, unit: '/d' },
});
const diabetes = (p: string): Json => ({
  resourceType: 'Condition',
  id: `${p}-t2d`,
  code: { coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] },
  subject: { reference: `Patient/${p}` },
  onsetDateTime: '2024-05-10',
});
const patient = (p: string, gender: string, birthDate: string): Json => ({
  resourceType: 'Patient',
  id: p,
  gender,
  birthDate,
});

/** Each person: what the hub holds and what a peer holds of them. */
const PEOPLE: { id: string; here: Json[]; peer: Json[] }[] = [
  {
    // The only pressure and the diagnosis are at the peer.
    id: 'p1',
    here: [patient('p1', 'female', '1961-04-02'), steps('p1', 1, '2026-02-20', 4000)],
    peer: [sbp('p1', 1, '2026-02-10', 162), diabetes('p1'), steps('p1', 2, '2026-02-21', 6000)],
  },
  {
    // The peer's pressure is the later one: it is the latest; the mean takes both.
    id: 'p2',
    here: [patient('p2', 'male', '1970-11-15'), sbp('p2', 1, '2025-09-01', 150)],
    peer: [sbp('p2', 2, '2026-01-05', 132), sbp('p2', 3, '2023-01-05', 170)],
  },
  {
    // Here's is later, and on the peer's day both count (the largest on the latest day).
    id: 'p3',
    here: [patient('p3', 'male', '1955-01-01'), sbp('p3', 1, '2026-02-01', 141), diabetes('p3')],
    peer: [sbp('p3', 2, '2026-02-01', 139), steps('p3', 1, '2026-02-25', 9000)],
  },
];

async function load(hub: Hub, resources: Json[]) {
  const bytes = Buffer.from(resources.map((r) => JSON.stringify(r)).join('\n'));
  await hub.ingest.ingestInMemory([{ name: 'records.ndjson', bytes }], ingestOptions(hub, { source: SOURCE }));
}

describe("a person's features with their records at a peer read in for the build", () => {
  let part: Awaited<ReturnType<typeof tempHub>>;
  let whole: Awaited<ReturnType<typeof tempHub>>;
  beforeAll(async () => {
    part = await tempHub('merged-part');
    whole = await tempHub('merged-whole');
    await load(
      part.hub,
      PEOPLE.flatMap((p) => p.here),
    );
    await load(
      whole.hub,
      PEOPLE.flatMap((p) => [...p.here, ...p.peer]),
    );
  }, 60_000);
  afterAll(async () => {
    await part?.cleanup();
    await whole?.cleanup();
  });

  it('equals the features of a hub holding all their records, and leaves no table behind', async () => {
    for (const p of PEOPLE) {
      const key = (h: Hub) => h.pseudonymiser.resourceId(SOURCE, 'Patient', p.id);
      const scope = { indexDate: INDEX, purpose: 'treatment' };
      const merged = await buildHubFeatures(part.hub, SPEC, {
        ...scope,
        patients: [key(part.hub)],
        records: flattenRecords(part.hub.config.name, p.peer),
      });
      const all = await buildHubFeatures(whole.hub, SPEC, { ...scope, patients: [key(whole.hub)] });
      const here = await buildHubFeatures(part.hub, SPEC, { ...scope, patients: [key(part.hub)] });
      expect(Array.from(merged.matrix.values), p.id).toEqual(Array.from(all.matrix.values));
      // The peer's records change each person's row: the test compares something.
      expect(Array.from(here.matrix.values), p.id).not.toEqual(Array.from(all.matrix.values));
    }
    const left = await part.hub.db.transaction((tx) =>
      tx.all("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'merged_%'"),
    );
    expect(left).toEqual([]);
    expect(await part.hub.store.count('Observation')).toBe(3);
  });
});
