import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hub } from '../hub/index.js';
import type { IngestSummary } from '../ingest/index.js';
import type { RegionId } from '../synth/index.js';
import { generateRegion, isRegionId } from '../synth/index.js';
import { ingestFromCli } from './cli-ingest.js';
import type { Io } from './io.js';
import { ingestProgress } from './progress.js';

export const DEMO_PEOPLE = 1000;
export const DEMO_SEED = 'healthmesh-demo';

/** The region a hub's demo population comes from: its own name when that is a region, else Gwangju. */
export function demoRegion(hubName: string): RegionId {
  return isRegionId(hubName) ? hubName : 'gwangju';
}

/**
 * Loads a synthetic population into an empty hub. The generator writes what a hospital export would hold,
 * direct identifiers included, so it writes to a temporary folder outside the hub and the folder is removed
 * once ingest (which pseudonymises) is done: raw identifiers never sit under the hub's data directory.
 */
export async function loadDemoPopulation(
  hub: Hub,
  io: Io,
  people = DEMO_PEOPLE,
  seed = DEMO_SEED,
): Promise<IngestSummary> {
  const region = demoRegion(hub.config.name);
  const tmp = mkdtempSync(join(tmpdir(), 'healthmesh-synth-'));
  try {
    io.out.write(`generating a synthetic population: ${people} residents of ${region} (seed ${seed})...\n`);
    const generated = generateRegion({ region, people, seed, out: tmp });
    io.out.write(
      `generated ${generated.resources} resources (${(generated.bytes / 1e6).toFixed(1)} MB); ingesting...\n`,
    );
    // The FHIR files only: truth/ and the manifest describe the population, they are not records of it.
    const files = readdirSync(tmp)
      .filter((f) => f.endsWith('.ndjson'))
      .sort()
      .map((f) => join(tmp, f));
    const progress = ingestProgress(io.err);
    try {
      return await ingestFromCli(hub, files, `synth-${region}`, { onProgress: progress.update }); // awaited: `finally` removes the files
    } finally {
      progress.stop();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
