import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig, silentLogger } from '../src/core/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { generateRegion } from '../src/synth/index.js';
import { exportFinished } from './support/export-status.js';
import { freePort, serveProcess, stopProcess } from './support/serve-process.js';
import { ingestOptions } from './support/temp-hub.js';

/**
 * A serving hub killed (SIGKILL) right after a Bulk Data export was kicked off, somewhere in the export (issue 19):
 * the store and the audit chain are intact, the killed job's folder is swept once it has outlived the export
 * lifetime, and a new export on the restarted server completes with every resource.
 */
const LIFETIME_SECONDS = 2;

describe('a server killed in the middle of an export', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-crash-export-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('leaves the store and the audit chain intact, and its files are swept; a new export completes', async () => {
    const dir = join(root, 'hub');
    const synth = join(root, 'synth');
    generateRegion({ region: 'busan', people: 200, seed: 'crash-export', out: synth });
    const { adminToken } = await initHub(dir, {
      name: 'busan',
      config: { server: { ...defaultConfig('x').server, exportLifetimeSeconds: LIFETIME_SECONDS } },
      logger: silentLogger(),
    });
    let hub = await openHub(dir, { logger: silentLogger() });
    const files = readdirSync(synth).map((f) => join(synth, f));
    await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: 'synth-busan' }));
    const patients = await hub.store.count('Patient');
    const observations = await hub.store.count('Observation');
    await hub.close();

    const auth = { authorization: `Bearer ${adminToken}` };
    const kick = async (port: number) =>
      fetch(`http://127.0.0.1:${port}/fhir/$export?_type=Patient,Observation`, {
        headers: { ...auth, prefer: 'respond-async' },
      });
    const port = await freePort();
    const served = await serveProcess(dir, port);
    expect((await kick(port)).status).toBe(202);
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
    await stopProcess(served.child, 'SIGKILL');

    hub = await openHub(dir, { logger: silentLogger() });
    try {
      expect(await hub.store.count('Patient')).toBe(patients);
      expect(await hub.store.count('Observation')).toBe(observations);
      expect(await hub.audit.verify()).toMatchObject({ ok: true });
    } finally {
      await hub.close();
    }
    const exportsDir = join(dir, 'exports');
    const left = existsSync(exportsDir) ? readdirSync(exportsDir) : [];
    expect(left.length).toBeLessThanOrEqual(1);

    await new Promise((r) => setTimeout(r, LIFETIME_SECONDS * 1000 + 200));
    const again = await serveProcess(dir, port);
    try {
      for (const job of left) expect(existsSync(join(exportsDir, job))).toBe(false);
      const res = await kick(port);
      expect(res.status).toBe(202);
      const status = res.headers.get('content-location')!;
      const poll = await exportFinished(status, auth);
      expect(poll.status).toBe(200);
      const manifest = (await poll.json()) as {
        output: { type: string; count: number }[];
        extension: { leftOut: number };
      };
      const counts = Object.fromEntries(manifest.output.map((o) => [o.type, o.count]));
      // Every Patient but those of people whose consent refuses research (the manifest counts them).
      expect(counts.Patient! + manifest.extension.leftOut).toBe(patients);
      expect(counts.Observation).toBeGreaterThan(0);
      expect(counts.Observation).toBeLessThanOrEqual(observations);
    } finally {
      await stopProcess(again.child);
    }
  }, 240_000);
});
