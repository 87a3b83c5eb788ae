import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederatedCohort } from '../src/cohort/index.js';
import { silentLogger } from '../src/core/index.js';
import { loadIdentity, PeerDirectory } from '../src/federation/index.js';
import { hubPaths, initHub, openHub } from '../src/hub/index.js';
import { formatLinkageKey, LinkageService } from '../src/privacy/index.js';
import type { RegionId } from '../src/synth/index.js';
import { generateRegion } from '../src/synth/index.js';
import { freePort, serveProcess } from './support/serve-process.js';
import { ingestOptions } from './support/temp-hub.js';

const REGIONS: RegionId[] = ['gwangju', 'gyeonggi', 'busan'];
const DEFINITION = {
  name: 'People with an outpatient visit',
  conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
  entry: { domain: 'encounter', conceptSet: 'amb' },
};

describe('three hub processes on loopback', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-fed-proc-'));
  const ports = new Map<string, number>();
  const tokens = new Map<string, string>();
  const children = new Map<string, ChildProcess>();

  beforeAll(async () => {
    const service = LinkageService.init(join(root, 'linkage-service'));
    for (const region of REGIONS) {
      const out = join(root, `synth-${region}`);
      generateRegion({ region, people: 120, seed: 'processes', out });
      const dir = join(root, region);
      const { paths, adminToken } = await initHub(dir, { name: region, logger: silentLogger() });
      tokens.set(region, adminToken);
      writeFileSync(paths.linkageKey, formatLinkageKey(service.issue(region, new Date())), { mode: 0o600 });
      const hub = await openHub(dir, { logger: silentLogger() });
      const files = readdirSync(out)
        .filter((f) => f.endsWith('.ndjson'))
        .map((f) => join(out, f));
      await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: `synth-${region}` }));
      await hub.close();
      ports.set(region, await freePort());
    }
    for (const region of REGIONS) {
      const peers = PeerDirectory.open(hubPaths(join(root, region)).peers);
      for (const other of REGIONS.filter((r) => r !== region)) {
        const identity = loadIdentity(other, hubPaths(join(root, other)));
        peers.add({ name: other, url: `http://127.0.0.1:${ports.get(other)}`, publicKey: identity.publicJwk });
      }
    }
    for (const region of REGIONS)
      children.set(region, (await serveProcess(join(root, region), ports.get(region)!)).child);
  }, 600_000);

  afterAll(() => {
    for (const c of children.values()) c.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  const ask = async (hub: string): Promise<FederatedCohort> => {
    const res = await fetch(`http://127.0.0.1:${ports.get(hub)}/cohort/$run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.get(hub)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ definition: DEFINITION, hubs: REGIONS }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as FederatedCohort;
  };

  it('answers a federated cohort: every hub, a distinct count under the sum', async () => {
    const r = await ask('busan');
    expect(r.complete).toBe(true);
    expect(r.hubs.map((h) => h.hub).sort()).toEqual([...REGIONS].sort());
    expect(r.distinctPersons).toBeGreaterThan(200);
    expect(r.distinctPersons!).toBeLessThanOrEqual(r.summedPersons ?? 0);
  }, 120_000);

  it('names a hub whose process was killed, and answers from the others', async () => {
    const gyeonggi = children.get('gyeonggi')!;
    await new Promise<void>((resolve) => {
      gyeonggi.once('exit', () => resolve());
      gyeonggi.kill('SIGKILL');
    });
    const r = await ask('gwangju');
    expect(r.complete).toBe(false);
    expect(r.failed.map((f) => f.hub)).toEqual(['gyeonggi']);
    expect(r.hubs.map((h) => h.hub).sort()).toEqual(['busan', 'gwangju']);
  }, 120_000);
});
