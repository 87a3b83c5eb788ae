import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CohortFederation } from '../src/cohort/index.js';
import { silentLogger } from '../src/core/index.js';
import type { Federation } from '../src/federation/index.js';
import { OperationRegistry, openFederation } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { ConsentReachFederation } from '../src/mydata/index.js';
import type { RingCall, RingResponse } from '../src/privacy/index.js';
import {
  distinctCount,
  federatedDistinctCount,
  formatLinkageKey,
  LinkageBlinder,
  LinkageParty,
  LinkageService,
  LinkageTokeniser,
  personLinkage,
  RRN_SYSTEM,
  ringAfter,
} from '../src/privacy/index.js';
import { buildServer, openHubFederation } from '../src/server/index.js';
import { SeriesFederation } from '../src/surveillance/index.js';
import type { RegionId } from '../src/synth/index.js';
import { generateRegion } from '../src/synth/index.js';
import { peerEachOther } from './support/peer-servers.js';
import { ingestOptions } from './support/temp-hub.js';
import { testHubConfig } from './support/test-engine.js';

const REGIONS: RegionId[] = ['gwangju', 'gyeonggi', 'busan'];
const N = 300;
const NOW = new Date('2026-03-01T00:00:00Z');

/**
 * Runs the ring of docs/linkage.md in one process: each hub's set starts at its hub and passes through every
 * other hub in ring order; the coordinator gets the fully blinded sets and the dummy counts.
 */
function federatedDistinct(tokensByHub: Map<string, string[]>, blinders: Map<string, LinkageBlinder>, block: number) {
  const hubs = [...tokensByHub.keys()];
  const finals: string[][] = [];
  let dummies = 0;
  for (const origin of hubs) {
    const start = blinders.get(origin)!.start(tokensByHub.get(origin)!, block);
    dummies += start.dummies;
    let points = start.points;
    for (const next of ringAfter(hubs, origin)) points = blinders.get(next)!.forward(points);
    finals.push(points);
  }
  return { count: distinctCount(finals, dummies), finals, dummies };
}

describe('linkage tokens', () => {
  const service = LinkageService.init(mkdtempSync(join(tmpdir(), 'hm-linkage-')));
  const key = (hub: string) => new LinkageTokeniser(service.issue(hub, NOW));

  afterAll(() => rmSync(service.dir, { recursive: true, force: true }));

  it('are stable per hub, differ between hubs, and ignore the hyphen', () => {
    const a = key('gwangju');
    const b = key('busan');
    expect(a.token('900101-1234567')).toBe(a.token('9001011234567'));
    expect(a.token('900101-1234567')).toBe(key('gwangju').token('900101-1234567'));
    expect(a.token('900101-1234567')).not.toBe(b.token('900101-1234567'));
    expect(a.token('900101-1234567')).not.toBe(a.token('900101-1234568'));
  });

  it('match across hubs only after every hub has blinded them, and count each person once', () => {
    const hubs = ['gwangju', 'gyeonggi', 'busan'];
    const people = Array.from(
      { length: 40 },
      (_, i) => `8${String(i).padStart(5, '0')}-1${String(i).padStart(6, '0')}`,
    );
    // gwangju treats 0–24, gyeonggi 20–34, busan 30–39 and 0–1: 40 people, 54 records.
    const treated: Record<string, string[]> = {
      gwangju: people.slice(0, 25),
      gyeonggi: people.slice(20, 35),
      busan: [...people.slice(30), ...people.slice(0, 2)],
    };
    const tokens = new Map(hubs.map((h) => [h, treated[h]!.map((p) => key(h).token(p))]));
    const blinders = new Map(hubs.map((h) => [h, new LinkageBlinder(service.issue(h, NOW))]));
    const out = federatedDistinct(tokens, blinders, 10);
    expect(out.count).toBe(40);
    // The raw tokens of the shared people never coincide between hubs.
    const raw = new Set(tokens.get('gwangju'));
    expect(tokens.get('gyeonggi')!.filter((t) => raw.has(t))).toEqual([]);
    // Each hub's set reaches the coordinator padded past its size.
    for (const f of out.finals) expect(f.length % 10).toBe(0);
  });

  it('never match when one hub blinds with a key from another linkage service', () => {
    const other = LinkageService.init(mkdtempSync(join(tmpdir(), 'hm-linkage-other-')));
    try {
      const rrn = ['800101-1000001'];
      const tokens = new Map([
        ['gwangju', rrn.map((r) => key('gwangju').token(r))],
        ['busan', rrn.map((r) => new LinkageTokeniser(other.issue('busan', NOW)).token(r))],
      ]);
      const blinders = new Map([
        ['gwangju', new LinkageBlinder(service.issue('gwangju', NOW))],
        ['busan', new LinkageBlinder(other.issue('busan', NOW))],
      ]);
      expect(federatedDistinct(tokens, blinders, 10).count).toBe(2);
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });
});

describe('a federated distinct count over three synthetic regions ingested into three hubs', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-linkage-e2e-'));
  const hubs = new Map<string, Hub>();
  const tokensByHub = new Map<string, string[]>();
  const rrns: string[] = [];
  /** Per region, each person's source patient id by their RRN's 13 digits. */
  const idByRrn = new Map<string, Map<string, string>>();
  let service: LinkageService;

  beforeAll(async () => {
    service = LinkageService.init(join(root, 'linkage-service'));
    for (const region of REGIONS) {
      const out = join(root, `synth-${region}`);
      generateRegion({ region, people: N, seed: 'linkage', out });
      const dir = join(root, region);
      const { paths } = await initHub(dir, { name: region, config: await testHubConfig(), logger: silentLogger() });
      writeFileSync(paths.linkageKey, formatLinkageKey(service.issue(region, NOW)), { mode: 0o600 });
      const hub = await openHub(dir, { logger: silentLogger(), parallelIngest: false });
      hubs.set(region, hub);
      // Patients are all a person count needs; the rest of the population is not read here.
      const patients = join(out, 'Patient.ndjson');
      const summary = await hub.ingest.ingestPaths([patients], ingestOptions(hub, { source: `synth-${region}` }));
      expect(summary.totals.rejected).toBe(0);
      for (const line of readFileSync(patients, 'utf8').split('\n')) {
        if (line.length === 0) continue;
        const p = JSON.parse(line) as { id: string; identifier: { system: string; value: string }[] };
        const rrn = p.identifier.find((i) => i.system === RRN_SYSTEM)!.value;
        rrns.push(rrn);
        if (!idByRrn.has(region)) idByRrn.set(region, new Map());
        idByRrn.get(region)!.set(rrn.replace('-', ''), p.id);
      }
      tokensByHub.set(region, await personLinkage.tokens(hub.db));
    }
  }, 300_000);

  afterAll(async () => {
    for (const hub of hubs.values()) await hub.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('equals the true number of distinct people (3N) and is below the plain sum', () => {
    const plainSum = [...tokensByHub.values()].reduce((n, t) => n + t.length, 0);
    const truth = new Set(rrns.map((r) => r.replace('-', ''))).size;
    expect(truth).toBe(3 * N);
    expect(plainSum).toBe(rrns.length);
    expect(plainSum).toBeGreaterThan(3 * N);
    const blinders = new Map(REGIONS.map((r) => [r, new LinkageBlinder(hubs.get(r)!.linkageKey!)]));
    expect(federatedDistinct(tokensByHub, blinders, 10).count).toBe(3 * N);
  });

  it('gives the same count when the ring runs over signed HTTP between the hubs', async () => {
    const servers = new Map<string, { app: FastifyInstance; federation: Federation; party: LinkageParty }>();
    try {
      for (const [name, hub] of hubs) {
        const party = new LinkageParty(hub.linkageKey!, hub.clock);
        // Blinded points are text; the dummy count is the protocol parameter the coordinator subtracts.
        const operations = new OperationRegistry().register('linkage.ring', 'peer', async ({ body }) => {
          const r = await party.handle(body, () => personLinkage.tokens(hub.db), 10);
          return hub.gate.bundle({
            points: hub.gate.text(r.points),
            ...(r.dummies !== undefined && { dummies: hub.gate.parameter(r.dummies, 'dummy points') }),
          });
        });
        const federation = await openFederation(hub, operations);
        const app = await buildServer(hub, { federation });
        const url = await app.listen({ port: 0, host: '127.0.0.1' });
        servers.set(name, { app, federation, party });
        for (const [other, s] of servers) {
          if (other === name) continue;
          s.federation.peers.add({ name, url, publicKey: federation.identity.publicJwk });
          federation.peers.add({ name: other, url: s.app.listeningOrigin, publicKey: s.federation.identity.publicJwk });
        }
      }
      // gyeonggi coordinates: its own part is a local call, the others go over the federation transport.
      const self = servers.get('gyeonggi')!;
      const gyeonggiHub = hubs.get('gyeonggi')!;
      const call: RingCall = async (hub, request) =>
        hub === 'gyeonggi'
          ? self.party.handle(request, () => personLinkage.tokens(gyeonggiHub.db), 10)
          : ((await self.federation.client.call(hub, 'linkage.ring', request, { timeoutMs: 20_000 })) as RingResponse);
      expect(await federatedDistinctCount(REGIONS, call)).toBe(3 * N);
      // A query id is started once: a replayed start is refused (and the refusal is audited by the receiver).
      const queryId = 'q'.repeat(22);
      await call('busan', { queryId, step: 'start', hubs: REGIONS });
      await expect(call('busan', { queryId, step: 'start', hubs: REGIONS })).rejects.toMatchObject({
        failure: { hub: 'busan', kind: 'refused', remoteCode: 'LINKAGE_INVALID_SUBMISSION' },
      });
    } finally {
      for (const s of servers.values()) await s.app.close();
    }
  });

  it("carries a citizen's consent choice to their records at the other hubs, found by linkage alone", async () => {
    const servers = new Map<string, { app: FastifyInstance; federation: Federation }>();
    try {
      for (const [name, hub] of hubs) {
        const consentReach = new ConsentReachFederation(hub);
        const federation = (await openHubFederation(hub, new CohortFederation(hub), new SeriesFederation(hub), {
          consentReach,
        }))!;
        const app = await buildServer(hub, { federation, consentReach });
        await app.listen({ port: 0, host: '127.0.0.1' });
        servers.set(name, { app, federation });
      }
      peerEachOther(servers);
      const gwangju = hubs.get('gwangju')!;
      const busan = hubs.get('busan')!;
      const inBusan = idByRrn.get('busan')!;
      const inGyeonggi = idByRrn.get('gyeonggi')!;
      // One resident of gwangju treated in busan too, and one treated nowhere else.
      const [shared] = [...idByRrn.get('gwangju')!].filter(([rrn]) => inBusan.has(rrn) && !inGyeonggi.has(rrn));
      const [alone] = [...idByRrn.get('gwangju')!].filter(([rrn]) => !inBusan.has(rrn) && !inGyeonggi.has(rrn));
      expect(shared && alone).toBeTruthy();
      const base = servers.get('gwangju')!.app.listeningOrigin;
      const refusedAtBusan = async () => {
        const f = await busan.consent.filter('research');
        const keys = await busan.db.all<{ patient_key: string }>(
          `SELECT DISTINCT patient_key FROM person_linkage p WHERE NOT (${f.allows('p.patient_key')})`,
        );
        return keys.map((k) => k.patient_key);
      };
      expect(await refusedAtBusan()).toEqual([]);
      const service = await gwangju.tokens.create('synth-feed', 'service', { sources: ['synth-gwangju'] });
      const denyAs = async (patientId: string, citizen: string) => {
        const token = await gwangju.tokens.create(citizen, 'citizen');
        const as = (method: string, url: string, body: unknown, bearer = token) =>
          fetch(`${base}${url}`, {
            method,
            headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          });
        const { code } = (await (
          await as('POST', '/mydata/enrolment-codes', { patientId, source: 'synth-gwangju' }, service)
        ).json()) as { code: string };
        expect((await as('POST', '/me/enrol', { code })).status).toBe(201);
        const res = await as('PUT', '/me/consent/research', { choice: 'deny' });
        expect(res.status).toBe(200);
        const reach = ((await res.json()) as { federation: { hub: string }[] }).federation;
        return reach.sort((a, b) => a.hub.localeCompare(b.hub));
      };
      // Every peer answers alike whether or not the person is a patient there: the origin learns nothing of where.
      const reached = [
        { hub: 'busan', reached: true },
        { hub: 'gyeonggi', reached: true },
      ];
      expect(await denyAs(alone![1], 'citizen-alone')).toEqual(reached);
      expect(await refusedAtBusan()).toEqual([]);
      expect(await denyAs(shared![1], 'citizen-shared')).toEqual(reached);
      // At busan, exactly that person's record is now refused for research, at its next query.
      const key = busan.pseudonymiser.patientKey('synth-busan', inBusan.get(shared![0])!);
      expect(await refusedAtBusan()).toEqual([key]);
      // Audited at busan as the origin's doing.
      const entries = await busan.audit.recent(50, ['consent-choice']);
      expect(entries.some((e) => e.actor === 'peer:gwangju' && e.action === 'consent-choice')).toBe(true);
    } finally {
      for (const s of servers.values()) await s.app.close();
    }
  });

  it('stores one token per patient and never the identifier it came from', async () => {
    for (const [region, hub] of hubs) {
      const [row] = await hub.db.all<{ patients: number; links: number }>(
        `SELECT (SELECT COUNT(*) FROM resource_head WHERE type = 'Patient') AS patients,
                (SELECT COUNT(*) FROM person_linkage) AS links`,
      );
      expect(row, region).toEqual({
        patients: tokensByHub.get(region)!.length,
        links: tokensByHub.get(region)!.length,
      });
      const stored = JSON.stringify(await hub.db.all('SELECT content FROM resource_version'));
      const linkage = JSON.stringify(await hub.db.all('SELECT * FROM person_linkage'));
      expect(stored).not.toContain('kr-rrn');
      for (const rrn of rrns.slice(0, 50)) {
        expect(stored).not.toContain(rrn.slice(0, 6) + rrn.slice(7));
        expect(linkage).not.toContain(rrn.replace('-', ''));
      }
    }
  });

  it('derives the same tokens on the worker-thread ingest path', async () => {
    // A second busan hub (its own secret, so other patient keys) with busan's linkage key, ingesting in workers.
    const dir = join(root, 'busan-workers');
    const { paths } = await initHub(dir, { name: 'busan', config: await testHubConfig(), logger: silentLogger() });
    writeFileSync(paths.linkageKey, formatLinkageKey(service.issue('busan', NOW)), { mode: 0o600 });
    const hub = await openHub(dir, { logger: silentLogger(), parallelIngest: { workers: 1, minFileBytes: 0 } });
    try {
      await hub.ingest.ingestPaths(
        [join(root, 'synth-busan', 'Patient.ndjson')],
        ingestOptions(hub, { source: 'synth-busan' }),
      );
      expect((await personLinkage.tokens(hub.db)).sort()).toEqual([...tokensByHub.get('busan')!].sort());
    } finally {
      await hub.close();
    }
  });

  it('rejects a Patient whose resident registration number is malformed, naming the code', async () => {
    const hub = hubs.get('gwangju')!;
    const { outcomes } = await hub.ingest.ingestDocument(
      { resourceType: 'Patient', id: 'bad-rrn', identifier: [{ system: RRN_SYSTEM, value: '9001-123' }] },
      'test',
      ingestOptions(hub),
    );
    expect(outcomes).toEqual([
      expect.objectContaining({ ok: false, reject: expect.objectContaining({ code: 'LINKAGE_INVALID_IDENTIFIER' }) }),
    ]);
  });

  it('keeps the tokens when the same data is ingested again', async () => {
    const hub = hubs.get('busan')!;
    const before = await personLinkage.tokens(hub.db);
    await hub.ingest.ingestPaths(
      [join(root, 'synth-busan', 'Patient.ndjson')],
      ingestOptions(hub, { source: 'synth-busan' }),
    );
    expect((await personLinkage.tokens(hub.db)).sort()).toEqual(before.sort());
  });
});
