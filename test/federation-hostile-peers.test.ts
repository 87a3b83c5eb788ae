import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FederatedCohort } from '../src/cohort/index.js';
import { CohortFederation } from '../src/cohort/index.js';
import { isHealthmeshError } from '../src/core/index.js';
import type { Ed25519Jwk, Federation } from '../src/federation/index.js';
import { bodyHash, claimedSender, SIGNATURE_HEADER, signResponse } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { featureColumns, fitFederatedLogistic, ModelFederation, validateFeatureSpec } from '../src/models/index.js';
import { SERIES_OPERATION, SeriesFederation } from '../src/surveillance/index.js';
import { generateRegion } from '../src/synth/index.js';
import { VALIDATION_SCORE_OPERATION, ValidationFederation } from '../src/validation/index.js';
import { acmeManifest } from './support/acme-model.js';
import { htnFeatureSpec } from './support/htn-spec.js';
import { serveFederated } from './support/peer-servers.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

/**
 * Peers that answer a federated cohort badly (issue 19), over real signed HTTP on loopback: one slower than the
 * coordinator's timeout, one answering text that is not JSON, one JSON of the wrong shape, one counts off the
 * rounding grid, one a count under the threshold, one signing with a key that is not the one the coordinator holds
 * for it. Each is named as failed and none of their numbers reaches the answer: the count is the sum over the good
 * hubs exactly. The other coordinators against scripted peers whose signed figures fail the checks of
 * `federation/peer-figures.ts`: each bad GLM round stops the fit naming the peer; bad series and validation parts are
 * named as bad responses beside a good one kept as sent.
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

/**
 * A peer that speaks the protocol (a signed answer bound to the request's nonce) and answers each operation with the
 * body `respond` gives; `slow` answers after the coordinator's timeout, `forged` signs with a key not in its peers file.
 */
function scriptedPeer(
  name: string,
  coordinator: string,
  respond: (operation: string) => string,
  options: { slow?: boolean; forged?: boolean } = {},
): Promise<{ server: Server; jwk: Ed25519Jwk }> {
  const own = generateKeyPairSync('ed25519');
  const signing: KeyObject = options.forged ? generateKeyPairSync('ed25519').privateKey : own.privateKey;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const nonce = claimedSender(String(req.headers[SIGNATURE_HEADER] ?? ''))?.nonce ?? '';
      const body = respond(String(req.url).replace('/federation/', ''));
      const answer = async () => {
        const signature = await signResponse(
          { iss: name, aud: coordinator, status: 200, bodySha256: bodyHash(body), ts: Date.now(), inReplyTo: nonce },
          signing,
        );
        res.writeHead(200, { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature }).end(body);
      };
      if (options.slow) setTimeout(() => void answer(), TIMEOUT_MS + 2000).unref();
      else void answer();
    });
  });
  const jwk = own.publicKey.export({ format: 'jwk' });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, jwk: { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x) } })),
  );
}

/** A peer answering a federated cohort as `behaviour`. */
function hostilePeer(name: string, coordinator: string, behaviour: Behaviour) {
  const result =
    behaviour === 'wrong-shape'
      ? { hub: name, persons: '25 people', attrition: 'all' }
      : released(name, behaviour === 'off-grid' ? 23 : behaviour === 'under-threshold' ? 5 : GOOD_PERSONS);
  const body = behaviour === 'not-json' ? '<html>busy, try later</html>' : JSON.stringify({ result });
  return scriptedPeer(name, coordinator, () => body, {
    slow: behaviour === 'slow',
    forged: behaviour === 'forged',
  });
}

const BEHAVIOURS: Behaviour[] = ['good', 'slow', 'not-json', 'wrong-shape', 'off-grid', 'under-threshold', 'forged'];

describe('coordinators with hostile peers', () => {
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

  /** Serves a scripted peer answering each operation from `answers` and adds it to the coordinator's peers file. */
  const addPeer = async (name: string, answers: Record<string, unknown>) => {
    const { server, jwk } = await scriptedPeer(name, hub.config.name, (op) => JSON.stringify({ result: answers[op] }));
    peers.push(server);
    coordinator.federation.peers.add({
      name,
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
      publicKey: jwk,
    });
  };

  describe('a federated logistic fit', () => {
    const SPEC = htnFeatureSpec();
    const p = SPEC.features.length;
    const moments = { rows: 200, events: 60, recorded: Array(p).fill(200), sums: Array(p).fill(100) };
    // The intercept and the model's columns (a feature may take more than one).
    const size = featureColumns(validateFeatureSpec(SPEC)).length + 1;
    const identity = Array.from({ length: size * size }, (_, k) => (k % (size + 1) === 0 ? 50 : 0));
    const part = {
      size,
      rows: 200,
      gradient: Array(size).fill(1),
      information: identity,
      logLikelihood: -120,
      saturated: 0,
    };
    const asymmetric = identity.map((v, k) => (k === 1 ? 3 : v));
    const CASES: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ['glm-thin', { ...moments, rows: 15, events: 5 }, part],
      ['glm-short-moments', { ...moments, recorded: [200] }, part],
      ['glm-nan-sum', { ...moments, sums: [...moments.sums.slice(1), null] }, part],
      ['glm-short-gradient', moments, { ...part, gradient: [1, 2] }],
      ['glm-asymmetric', moments, { ...part, information: asymmetric }],
      ['glm-negative-diagonal', moments, { ...part, information: identity.map((v, k) => (k === 0 ? -1 : v)) }],
      ['glm-positive-likelihood', moments, { ...part, logLikelihood: 3 }],
    ];

    beforeAll(async () => {
      for (const [name, m, n] of CASES) await addPeer(name, { 'model.glm-moments': m, 'model.glm-newton': n });
    });

    it.each(CASES.map((c) => c[0]))('stops with FEDERATION_BAD_FIGURES naming %s', async (name) => {
      const error = await fitFederatedLogistic(
        coordinator.federation,
        new ModelFederation(hub),
        hub.config.name,
        [name],
        SPEC,
      ).catch((e: unknown) => e);
      expect(isHealthmeshError(error) && { code: error.code, path: error.location.path }).toEqual({
        code: 'FEDERATION_BAD_FIGURES',
        path: name,
      });
    });
  });

  describe('a federated series', () => {
    const THROUGH = '2023-10-21';
    const series = (name: string, over: Record<string, unknown> = {}) => ({
      hub: name,
      location: name,
      startDate: '2023-10-07',
      ili: [null, 15, 20],
      confirmed: [null, null, 10],
      policy: { threshold: 10, rounding: 5 },
      suppressed: { ili: 1, confirmed: 2 },
      ...over,
    });
    const BAD: Record<string, Record<string, unknown>> = {
      'series-off-grid': { ili: [null, 23, 20] },
      'series-lax-policy': { ili: [5, 6, 7], policy: { threshold: 5, rounding: 1 } },
      'series-negative': { confirmed: [null, null, -10] },
      'series-sunday': { startDate: '2023-10-08' },
      'series-past-through': { ili: [null, 15, 20, 25], confirmed: [null, null, 10, 10] },
      'series-other-hub': { hub: 'gwangju' },
      'series-same-location': { location: 'series-good' },
    };

    beforeAll(async () => {
      await addPeer('series-good', { [SERIES_OPERATION]: series('series-good') });
      for (const [name, over] of Object.entries(BAD)) await addPeer(name, { [SERIES_OPERATION]: series(name, over) });
    });

    it('keeps the good hub as sent, names each bad one as a bad response, and mixes in none of them', async () => {
      const gathered = await new SeriesFederation(hub).gather(
        coordinator.federation,
        ['series-good', ...Object.keys(BAD)],
        { through: THROUGH },
      );
      expect(gathered.hubs).toEqual(
        [series('series-good')].map(({ hub, location, startDate, ili, confirmed, policy, suppressed }) => ({
          hub,
          location,
          startDate,
          ili,
          confirmed,
          policy,
          suppressed,
        })),
      );
      expect(gathered.complete).toBe(false);
      expect(Object.fromEntries(gathered.failed.map((f) => [f.hub, f.kind]))).toEqual(
        Object.fromEntries(Object.keys(BAD).map((b) => [b, 'bad-response'])),
      );
    });
  });

  describe('a federated validation', () => {
    const features = acmeManifest.featureSpec.features.map((f) => f.name);
    const bins = (low: number) => [
      { lower: null, upper: low, n: 15, meanLogit: low - 0.5, sdLogit: 0.2 },
      { lower: low, upper: null, n: 15, meanLogit: low + 0.5, sdLogit: 0.2 },
    ];
    const group = (name: string) => ({
      group: name,
      n: 50,
      events: 15,
      auroc: 0.7,
      aurocCi: [0.6, 0.8],
      calibrationIntercept: 0.1,
      calibrationSlope: 0.9,
      brier: 0.2,
    });
    const validationPart = (name: string) => ({
      hub: name,
      report: {
        population: { leftOutByConsent: null },
        sampleSize: { n: 100, events: 30, nonEvents: 70 },
        discrimination: { auroc: 0.7, aurocCi: [0.6, 0.8] },
        calibration: { intercept: 0.1, slope: 0.9, brier: 0.2, curve: [{ n: 50, meanPredicted: 0.2, observed: 0.25 }] },
        subgroups: {
          sex: { groups: [group('female'), { group: 'male', withheld: true }] },
          ageBand: { groups: [group('40-59')] },
        },
        missingData: features.map((feature) => ({ feature, missing: 0, handling: 'never missing' })),
        datasetShift: [],
      },
      histogram: { events: bins(-1), nonEvents: bins(-2) },
      counts: {
        netBenefit: [
          { threshold: 0.05, withheld: true },
          { threshold: 0.1, tp: 20, fp: 40 },
          { threshold: 0.2, tp: 15, fp: 25 },
        ],
        curve: [
          { lower: 0, upper: 0.2, n: 50, events: 10, meanPredicted: 0.12 },
          { lower: 0.2, upper: 1, n: 50, events: 20, meanPredicted: 0.35 },
        ],
      },
    });
    type Part = ReturnType<typeof validationPart>;
    const BAD: Record<string, (p: Part) => void> = {
      'validation-other-hub': (p) => {
        p.hub = 'gwangju';
      },
      'validation-off-grid-n': (p) => {
        p.report.sampleSize.n = 103;
      },
      'validation-auroc-above-one': (p) => {
        p.report.discrimination.auroc = 1.5;
      },
      'validation-missing-subgroup': (p) => {
        p.report.subgroups = { sex: p.report.subgroups.sex } as Part['report']['subgroups'];
      },
      'validation-short-missing-data': (p) => {
        p.report.missingData = p.report.missingData.slice(1);
      },
      'validation-bin-gap': (p) => {
        p.histogram.events[1]!.lower = -0.5;
      },
      'validation-inflated-bin': (p) => {
        p.histogram.nonEvents[0]!.n = 1_000_000;
      },
      'validation-small-true-positives': (p) => {
        p.counts.netBenefit[1] = { threshold: 0.1, tp: 3, fp: 40 };
      },
      'validation-curve-off-grid': (p) => {
        p.counts.curve[0]!.upper = 0.23;
        p.counts.curve[1]!.lower = 0.23;
      },
      'validation-curve-short': (p) => {
        p.counts.curve.pop();
      },
    };

    beforeAll(async () => {
      await addPeer('validation-good', { [VALIDATION_SCORE_OPERATION]: validationPart('validation-good') });
      for (const [name, spoil] of Object.entries(BAD)) {
        const p = validationPart(name);
        spoil(p);
        await addPeer(name, { [VALIDATION_SCORE_OPERATION]: p });
      }
    });

    it('pools the good hub as sent and names each bad one as a bad response', async () => {
      const gathered = await new ValidationFederation(hub).gather(
        coordinator.federation,
        ['validation-good', ...Object.keys(BAD)],
        acmeManifest,
        new Uint8Array([1, 2, 3]),
        'project-1',
        'tester',
      );
      expect(gathered.parts).toEqual([validationPart('validation-good')]);
      expect(Object.fromEntries(gathered.failed.map((f) => [f.hub, f.kind]))).toEqual(
        Object.fromEntries(Object.keys(BAD).map((b) => [b, 'bad-response'])),
      );
    });
  });
});
