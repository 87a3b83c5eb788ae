import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederatedCohort } from '../src/cohort/index.js';
import { CohortFederation } from '../src/cohort/index.js';
import type { Ed25519Jwk, Federation } from '../src/federation/index.js';
import { bodyHash, claimedSender, SIGNATURE_HEADER, signResponse } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { generateRegion } from '../src/synth/index.js';
import { serveFederated } from './support/peer-servers.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

/**
 * Peers that answer a federated cohort badly (issue 19), over real signed HTTP on loopback: one slower than the
 * coordinator's timeout, one answering text that is not JSON, one JSON of the wrong shape, one counts off the
 * rounding grid, one a count under the threshold, one signing with a key that is not the one the coordinator holds
 * for it. Each is named as failed and none of their numbers reaches the answer: the count is the sum over the good
 * hubs exactly.
 */
// Generous: the peers answer from this process, which a loaded CI box can stall for a second or two.
const TIMEOUT_MS = 4000;
const DEFINITION = {
  name: 'People with an outpatient visit',
  conceptSets: {
    ambulatory: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] },
  },
  entry: { domain: 'encounter', conceptSet: 'ambulatory' },
};
const GOOD_PERSONS = 20;

type Behaviour = 'good' | 'slow' | 'not-json' | 'wrong-shape' | 'off-grid' | 'under-threshold' | 'forged';

/** A well-formed released cohort as a peer with the default policy (threshold 10, rounding 5) sends it. */
const released = (hub: string, persons: number) => ({
  hub,
  name: DEFINITION.name,
  persons,
  attrition: [{ step: 'entry', persons }],
  ageSex: {
    rows: ['0-19', '20-39', '40-59', '60-79', '80+'],
    columns: ['female', 'male', 'other', 'unknown'],
    cells: Array.from({ length: 5 }, () => [null, null, null, null]),
    rowTotals: [null, null, null, null, null],
    columnTotals: [null, null, null, null],
    total: persons,
    suppressed: { primary: 20, secondary: 0 },
  },
  linkage: false,
  consent: { purpose: 'research', leftOut: null },
  measurements: [],
});

/** A peer that speaks the protocol (a signed answer bound to the request's nonce) but answers as `behaviour`. */
function hostilePeer(
  name: string,
  coordinator: string,
  behaviour: Behaviour,
): Promise<{ server: Server; jwk: Ed25519Jwk }> {
  const own = generateKeyPairSync('ed25519');
  const signing: KeyObject = behaviour === 'forged' ? generateKeyPairSync('ed25519').privateKey : own.privateKey;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const nonce = claimedSender(String(req.headers[SIGNATURE_HEADER] ?? ''))?.nonce ?? '';
      const result =
        behaviour === 'wrong-shape'
          ? { hub: name, persons: '25 people', attrition: 'all' }
          : released(name, behaviour === 'off-grid' ? 23 : behaviour === 'under-threshold' ? 5 : GOOD_PERSONS);
      const body = behaviour === 'not-json' ? '<html>busy, try later</html>' : JSON.stringify({ result });
      const answer = async () => {
        const signature = await signResponse(
          { iss: name, aud: coordinator, status: 200, bodySha256: bodyHash(body), ts: Date.now(), inReplyTo: nonce },
          signing,
        );
        res.writeHead(200, { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature }).end(body);
      };
      if (behaviour === 'slow') setTimeout(() => void answer(), TIMEOUT_MS + 2000).unref();
      else void answer();
    });
  });
  const jwk = own.publicKey.export({ format: 'jwk' });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, jwk: { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) } })),
  );
}

const BEHAVIOURS: Behaviour[] = ['good', 'slow', 'not-json', 'wrong-shape', 'off-grid', 'under-threshold', 'forged'];

describe('a federated cohort with hostile peers', () => {
  let hub: Hub;
  let cleanup: () => Promise<void>;
  let coordinator: { app: FastifyInstance; federation: Federation; cohorts: CohortFederation };
  const peers: Server[] = [];
  let own = 0;
  // Synthetic records hold raw identifiers: generated outside the hub's directory, removed at the end.
  const out = mkdtempSync(join(tmpdir(), 'hm-hostile-synth-'));

  beforeAll(async () => {
    ({ hub, cleanup } = await tempHub('coord', {
      federation: { clockSkewSeconds: 60, timeoutMs: TIMEOUT_MS, maxBodyBytes: 16 * 1024 * 1024 },
    }));
    generateRegion({ region: 'gwangju', people: 40, seed: 'hostile-peers', out });
    await hub.ingest.ingestPaths(
      readdirSync(out).map((f) => join(out, f)),
      ingestOptions(hub, { source: 'synth' }),
    );
    const cohorts = new CohortFederation(hub);
    coordinator = { ...(await serveFederated(hub, cohorts.register(), { cohorts })), cohorts };
    for (const b of BEHAVIOURS) {
      const { server, jwk } = await hostilePeer(b, hub.config.name, b);
      peers.push(server);
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      coordinator.federation.peers.add({ name: b, url, publicKey: jwk });
    }
    const alone = (await cohorts.run(coordinator.federation, [hub.config.name], DEFINITION)).value;
    own = alone.hubs[0]?.persons ?? 0;
    expect(own).toBeGreaterThanOrEqual(10);
  }, 120_000);

  afterAll(async () => {
    for (const s of peers) {
      s.closeAllConnections();
      s.close();
    }
    await coordinator?.app.close();
    await cleanup?.();
    rmSync(out, { recursive: true, force: true });
  });

  const run = async (hubs: string[]): Promise<FederatedCohort> =>
    (await coordinator.cohorts.run(coordinator.federation, hubs, DEFINITION)).value;

  it('answers over the good hubs, names each bad one as failed, and passes on none of their numbers', async () => {
    const result = await run([hub.config.name, ...BEHAVIOURS]);
    expect(result.hubs.map((h) => h.hub)).toEqual([hub.config.name, 'good']);
    expect(result.summedPersons).toBe(own + GOOD_PERSONS);
    expect(result.complete).toBe(false);
    const failed = Object.fromEntries(result.failed.map((f) => [f.hub, f.kind]));
    expect(failed).toEqual({
      slow: 'timeout',
      'not-json': 'bad-response',
      'wrong-shape': 'bad-response',
      'off-grid': 'bad-response',
      'under-threshold': 'bad-response',
      forged: 'bad-response',
    });
    // The good peer's answer as it sent it; nothing of the bad ones.
    expect(result.hubs[1]).toEqual(released('good', GOOD_PERSONS));
  }, 60_000);

  it('fails clearly when no peer gives a usable answer', async () => {
    const bad = BEHAVIOURS.filter((b) => b !== 'good' && b !== 'slow');
    const result = await run(bad);
    expect(result.hubs).toEqual([]);
    expect(result.complete).toBe(false);
    expect(result.failed.map((f) => f.hub).sort()).toEqual([...bad].sort());
    expect(result.summedPersons).toBeNull(); // no sum over nobody passed off as a count of 0
  }, 30_000);
});
