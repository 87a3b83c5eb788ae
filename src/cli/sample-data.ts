import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Demo data: the Synthea sample in `../shared/data` when this checkout sits beside it, else the small bundle
 * shipped in `samples/` (the synthetic population generator becomes the default in a later issue).
 */
export function sampleDataPaths(): { paths: string[]; description: string } {
  const shared = fileURLToPath(new URL('../../../shared/data/synthea-fhir-r4/bundles-gz/', import.meta.url));
  if (existsSync(shared)) return { paths: [shared], description: `${shared} (100 Synthea patients)` };
  const shipped = fileURLToPath(new URL('../../samples/demo-bundle.json', import.meta.url));
  return { paths: [shipped], description: `${shipped} (small shipped sample)` };
}
