import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { ResourceDeidentifier, SeenNames } from '../src/privacy/index.js';

/**
 * De-identification of a few thousand Synthea resources (every 10th given a Korean nursing note with names and
 * numbers), with the run's seen names, against JSON.stringify of the same resources (the write path's own cost).
 * The ingest runs ~24,000 resources/s end to end; this step must stay a small part of that.
 */
const SYNTHEA = fileURLToPath(new URL('../../shared/data/synthea-fhir-r4/bundles-gz/', import.meta.url));
const NOTE = '보호자 박정애(딸) 010-3141-5926 연락됨. 김은비 간호사 활력징후 측정, 이상 없음. 고혈압 약 복용 중.';
/** De-identifying a resource may cost at most what serialising it does (measured 1.5x-2x faster, loaded machine). */
const FLOOR_RATIO = 1;

type Json = Record<string, unknown>;

export function loadResources(limit = 5000): Json[] {
  const out: Json[] = [];
  for (const name of readdirSync(SYNTHEA).sort()) {
    const bundle = JSON.parse(gunzipSync(readFileSync(join(SYNTHEA, name))).toString('utf8')) as {
      entry: { resource: Json }[];
    };
    for (const e of bundle.entry) {
      if (out.length % 10 === 0) e.resource.note = [{ text: NOTE }];
      out.push(e.resource);
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/** `make` gives each round a fresh function, so nothing one round learned (the deidentifier's memo) helps the next. */
function rate(resources: Json[], make: () => (r: Json) => void): number {
  const copies = resources.map((r) => JSON.stringify(r));
  let best = 0;
  for (let round = 0; round < 5; round++) {
    const fresh = copies.map((c) => JSON.parse(c) as Json);
    const fn = make();
    const start = performance.now();
    for (const r of fresh) fn(r);
    best = Math.max(best, fresh.length / ((performance.now() - start) / 1000));
  }
  return best;
}

export async function runDeidentifyBench(): Promise<boolean> {
  const resources = loadResources();
  const names = new SeenNames();
  for (const r of resources) names.addResource(r);
  const deidentify = rate(resources, () => {
    const d = new ResourceDeidentifier({ birthDatePrecision: 'month' });
    return (r) => d.deidentify(r, names);
  });
  const stringify = rate(resources, () => (r) => JSON.stringify(r));
  console.log(
    `deidentify resources/s: ${Math.round(deidentify)} (${(deidentify / stringify).toFixed(2)}x vs JSON.stringify ${Math.round(stringify)}/s; ${resources.length} resources, ${names.size} seen names)`,
  );
  return deidentify / stringify >= FLOOR_RATIO;
}
