import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HubConfig } from '../../src/core/index.js';
import { silentLogger } from '../../src/core/index.js';
import type { Hub } from '../../src/hub/index.js';
import { initHub, openHub } from '../../src/hub/index.js';
import type { IngestOptions } from '../../src/ingest/index.js';
import { testStore } from './test-engine.js';

/** A fresh hub in a temporary directory. */
export async function tempHub(
  name = 'test',
  config: Partial<HubConfig> = {},
): Promise<{ dir: string; hub: Hub; adminToken: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `hm-${name}-`));
  // The run's engine (test-engine.ts) unless the test names a store itself.
  const { store, drop } = config.store ? { store: config.store, drop: async () => undefined } : await testStore();
  const { adminToken } = await initHub(dir, { name, config: { ...config, store, name }, logger: silentLogger() });
  const hub = await openHub(dir, { logger: silentLogger() });
  return {
    dir,
    hub,
    adminToken,
    cleanup: async () => {
      await hub.close().catch(() => undefined); // a test may have closed it already
      rmSync(dir, { recursive: true, force: true });
      await drop();
    },
  };
}

let runs = 0;
export function ingestOptions(hub: Hub, overrides: Partial<IngestOptions> = {}): IngestOptions {
  return {
    source: 'test-source',
    actor: 'test',
    rejectsPath: join(hub.paths.rejectsDir, `run-${++runs}.ndjson`),
    ...overrides,
  };
}
