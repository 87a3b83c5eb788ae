import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { CohortFederation } from '../cohort/index.js';
import type { Hub } from '../hub/index.js';
import { hubPaths, initHub, openHub } from '../hub/index.js';
import { formatSummary } from '../ingest/index.js';
import { ModelFederation } from '../models/index.js';
import { ConsentReachFederation, PeerRecords } from '../mydata/index.js';
import { formatLinkageKey, LinkageService } from '../privacy/index.js';
import { buildServer, hubValidation, openHubFederation } from '../server/index.js';
import { SeriesFederation } from '../surveillance/index.js';
import type { RegionId } from '../synth/index.js';
import { forecastDemo, trainDemoModel } from './demo-analysis.js';
import { loadDemoPopulation } from './demo-population.js';
import type { Io } from './io.js';

/** The demo's three hubs and their roles (ARCHITECTURE.md): a data hub, a research hub, a demonstration hub. */
export const DEMO_HUBS: readonly { name: RegionId; role: 'data' | 'research' | 'demonstration' }[] = [
  { name: 'gwangju', role: 'data' },
  { name: 'gyeonggi', role: 'research' },
  { name: 'busan', role: 'demonstration' },
];

/**
 * Creates (once) the three demo hubs under `root`, a linkage service that issues each its key before any data
 * arrives (tokens are derived at ingest), and loads each hub's own synthetic population: the same seed and size,
 * so the 3% of people treated in two regions appear in both, under the same national identifier.
 */
export async function prepareDemoHubs(root: string, people: number, io: Io): Promise<Hub[]> {
  const service = existsSync(join(root, 'linkage-service'))
    ? LinkageService.open(join(root, 'linkage-service'))
    : LinkageService.init(join(root, 'linkage-service'));
  const hubs: Hub[] = [];
  for (const { name, role } of DEMO_HUBS) {
    const dir = join(root, name);
    if (!existsSync(hubPaths(dir).config)) {
      const { paths } = await initHub(dir, { name, config: { role } });
      writeFileSync(paths.linkageKey, formatLinkageKey(service.issue(name, new Date())), { mode: 0o600, flag: 'wx' });
      io.out.write(`created hub ${name} (${role}) in ${paths.dir}\n`);
    }
    const hub = await openHub(dir);
    hubs.push(hub);
    if (Object.keys(await hub.store.countByType()).length === 0) {
      const summary = await loadDemoPopulation(hub, io, people);
      io.out.write(`${name}:\n${formatSummary(summary)}\n`);
    }
    await trainDemoModel(hub, io);
  }
  return hubs;
}

/** Serves every hub on consecutive ports and peers each with the others (URLs and public keys in its peers file). */
export async function serveDemoHubs(
  hubs: readonly Hub[],
  firstPort: number,
  host: string,
  io: Io,
): Promise<FastifyInstance[]> {
  const served: {
    hub: Hub;
    app: FastifyInstance;
    federation: NonNullable<Awaited<ReturnType<typeof openHubFederation>>>;
    series: SeriesFederation;
  }[] = [];
  for (const [i, hub] of hubs.entries()) {
    const cohorts = new CohortFederation(hub);
    const series = new SeriesFederation(hub);
    // Every operation a served hub answers (projects filed at one hub and reviewed at each, validations across the
    // three, ...), with the same sides the routes use.
    const sides = {
      validation: hubValidation(hub),
      consentReach: new ConsentReachFederation(hub),
      peerRecords: new PeerRecords(hub),
      models: new ModelFederation(hub),
    };
    const federation = await openHubFederation(hub, cohorts, series, sides);
    if (federation === undefined) throw new Error(`demo: hub ${hub.config.name} has no identity key`);
    const app = await buildServer(hub, { federation, cohorts, series, ...sides });
    const address = await app.listen({ port: firstPort === 0 ? 0 : firstPort + i, host });
    served.push({ hub, app, federation, series });
    io.out.write(`healthmesh hub "${hub.config.name}" (${hub.config.role}) serving FHIR R4 at ${address}/fhir\n`);
    io.out.write(`  admin token: ${hub.paths.adminToken}\n`);
  }
  for (const a of served) {
    for (const b of served) {
      if (a === b) continue;
      if (a.federation.peers.list().some((p) => p.name === b.hub.config.name))
        a.federation.peers.remove(b.hub.config.name);
      a.federation.peers.add({
        name: b.hub.config.name,
        url: b.app.listeningOrigin,
        publicKey: b.federation.identity.publicJwk,
      });
    }
  }
  // Once peered: each hub's console shows a federated forecast it coordinated (first start only).
  await forecastDemo(served, io);
  io.out.write(
    `peered ${served.map((s) => s.hub.config.name).join(', ')}: try a federated cohort, e.g.\n` +
      `  curl -H "Authorization: Bearer $(cat ${served[0]?.hub.paths.adminToken})" -H 'content-type: application/json' ` +
      `-d '{"hubs":["gwangju","gyeonggi","busan"],"definition":{"name":"t2d","conceptSets":{"t2d":{"concepts":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"E11","descendants":true}]}},"entry":{"domain":"condition","conceptSet":"t2d"}}}' ` +
      `${served[0]?.app.listeningOrigin}/cohort/$run\n`,
  );
  return served.map((s) => s.app);
}
