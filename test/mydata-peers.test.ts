import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CohortFederation } from '../src/cohort/index.js';
import { fixedClock } from '../src/core/index.js';
import type { Federation } from '../src/federation/index.js';
import { ResourceValidator } from '../src/fhir/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import type { FeatureSpec } from '../src/models/index.js';
import { hubModelRegistry } from '../src/models/index.js';
import type { MyTrainedRisk } from '../src/mydata/index.js';
import { PEER_RECORDS_OPERATION } from '../src/mydata/index.js';
import { formatLinkageKey, LinkageService, RRN_SYSTEM } from '../src/privacy/index.js';
import { buildServer, openHubFederation } from '../src/server/index.js';
import { SeriesFederation } from '../src/surveillance/index.js';
import { handCard, handLogistic, planOf } from './support/hand-made-model.js';
import { peerEachOther } from './support/peer-servers.js';

/**
 * Issue 18, enrolment across hubs: a citizen enrolled at gwangju links their record at busan with a code busan's
 * source issued, and reads it on My record at gwangju, over real signed HTTP between the two hubs.
 */
const CLOCK = fixedClock(new Date('2026-03-02T10:00:00Z'));

/** Resident registration numbers: each hub derives its linkage token of the person from it at ingest. */
const RRN = { kim: '610402-2000001', lee: '700101-1000002' };

const patient = (patientId: string, rrn?: string) => ({
  resource: {
    resourceType: 'Patient',
    id: patientId,
    gender: 'female',
    birthDate: '1961-04-02',
    ...(rrn !== undefined && { identifier: [{ system: RRN_SYSTEM, value: rrn }] }),
  },
  request: { method: 'PUT', url: `Patient/${patientId}` },
});

function bundle(patientId: string, code: string, display: string, day: string, rrn?: string) {
  return {
    resourceType: 'Bundle',
    type: 'batch',
    entry: [
      patient(patientId, rrn),
      {
        resource: {
          resourceType: 'Condition',
          id: `${patientId}-c`,
          code: { coding: [{ system: 'http://snomed.info/sct', code, display }] },
          subject: { reference: `Patient/${patientId}` },
          onsetDateTime: day,
        },
        request: { method: 'PUT', url: `Condition/${patientId}-c` },
      },
    ],
  };
}

/** Kim's systolic pressure, measured only at busan. */
const SBP = 162;
const sbpAt = (patientId: string) => ({
  resourceType: 'Bundle',
  type: 'batch',
  entry: [
    {
      resource: {
        resourceType: 'Observation',
        id: `${patientId}-sbp`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
        subject: { reference: `Patient/${patientId}` },
        effectiveDateTime: '2026-02-10T09:00:00Z',
        valueQuantity: { value: SBP, unit: 'mmHg' },
      },
      request: { method: 'PUT', url: `Observation/${patientId}-sbp` },
    },
  ],
});
/** A model served at gwangju: age, the latest systolic pressure and a diabetes diagnosis, all required. */
const STROKE: FeatureSpec = {
  name: 'stroke within 5 years',
  conceptSets: {
    sbp: { concepts: [{ system: 'http://loinc.org', code: '8480-6' }] },
    diabetes: { concepts: [{ system: 'http://snomed.info/sct', code: '44054006' }] },
  },
  population: { indexDate: '2025-01-01', age: { min: 20 } },
  features: [
    { name: 'age', kind: 'age' },
    { name: 'sbp', kind: 'latest', conceptSet: 'sbp', window: { start: -365, end: 0 } },
    { name: 'diabetes', kind: 'count', conceptSet: 'diabetes', domain: 'condition', window: { end: 0 } },
  ],
};
const BETA = [-8, 0.03, 0.04, 0.5];
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

type Served = { hub: Hub; app: FastifyInstance; federation: Federation; tokens: Record<string, string> };

describe("a citizen's records at another hub of the federation, on My record", () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-mydata-peers-'));
  const servers = new Map<string, Served>();
  let busanCode = '';
  let beforeLink: { trained: MyTrainedRisk[]; recordsFrom: string[] } | undefined;

  const call = async (at: string, who: string, method: string, url: string, body?: unknown) => {
    const s = servers.get(at)!;
    const res = await fetch(`${s.app.listeningOrigin}${url}`, {
      method,
      headers: {
        authorization: `Bearer ${s.tokens[who]}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) };
  };
  const codeOf = (r: { json: () => { issue: { details: { coding: { code: string }[] } }[] } }) =>
    r.json().issue[0]!.details.coding[0]!.code;

  beforeAll(async () => {
    // Both hubs hold linkage keys of one service, as for federated cohort dedup.
    const linkage = LinkageService.init(join(root, 'linkage-service'));
    for (const [name, source] of [
      ['gwangju', 'clinic-gwangju'],
      ['busan', 'clinic-busan'],
    ] as const) {
      const dir = join(root, name);
      const { paths } = await initHub(dir, { name });
      writeFileSync(paths.linkageKey, formatLinkageKey(linkage.issue(name, CLOCK.now())), { mode: 0o600 });
      const hub = await openHub(dir, { clock: CLOCK });
      const federation = (await openHubFederation(hub, new CohortFederation(hub), new SeriesFederation(hub)))!;
      const app = await buildServer(hub, { federation });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const tokens = {
        clinic: await hub.tokens.create('clinic-feed', 'service', { sources: [source] }),
        kim: await hub.tokens.create('citizen-kim', 'citizen'),
        park: await hub.tokens.create('citizen-park', 'citizen'),
        lee: await hub.tokens.create('citizen-lee', 'citizen'),
        choi: await hub.tokens.create('citizen-choi', 'citizen'),
      };
      servers.set(name, { hub, app, federation, tokens });
    }
    peerEachOther(servers);
    const write = async (at: string, source: string, b: unknown) => {
      const s = servers.get(at)!;
      const res = await s.app.inject({
        method: 'POST',
        url: `/fhir?source=${source}`,
        headers: { authorization: `Bearer ${s.tokens.clinic}`, 'content-type': 'application/fhir+json' },
        payload: JSON.stringify(b),
      });
      expect(res.statusCode).toBe(200);
    };
    // Kim is a patient at both hubs; Lee too (a Patient alone at gwangju); a patient with no RRN only at busan.
    await write('gwangju', 'clinic-gwangju', bundle('gj-kim', '38341003', 'Hypertension', '2019-03-01', RRN.kim));
    await write(
      'busan',
      'clinic-busan',
      bundle('bs-kim', '44054006', 'Diabetes mellitus type 2', '2024-05-10', RRN.kim),
    );
    await write('busan', 'clinic-busan', bundle('bs-lee', '195967001', 'Asthma', '2023-01-20', RRN.lee));
    await write('gwangju', 'clinic-gwangju', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [patient('gj-lee', RRN.lee)],
    });
    await write('busan', 'clinic-busan', { resourceType: 'Bundle', type: 'batch', entry: [patient('bs-noid')] });
    await write('busan', 'clinic-busan', sbpAt('bs-kim'));
    await (await hubModelRegistry(servers.get('gwangju')!.hub)).register(
      'stroke-logit',
      handLogistic(['age', 'sbp', 'diabetes'], BETA),
      handCard('logistic', ['age', 'sbp', 'diabetes'], BETA.slice(1), { age: 50, sbp: 125, diabetes: 0.1 }),
      'test',
      planOf(STROKE),
    );
    const local = await call('gwangju', 'clinic', 'POST', '/mydata/enrolment-codes', {
      patientId: 'gj-kim',
      source: 'clinic-gwangju',
    });
    expect((await call('gwangju', 'kim', 'POST', '/me/enrol', { code: local.json().code })).status).toBe(201);
    const leeCode = (
      await call('gwangju', 'clinic', 'POST', '/mydata/enrolment-codes', {
        patientId: 'gj-lee',
        source: 'clinic-gwangju',
      })
    ).json().code;
    expect((await call('gwangju', 'lee', 'POST', '/me/enrol', { code: leeCode })).status).toBe(201);
    beforeLink = (await call('gwangju', 'kim', 'GET', '/me/risks')).json();
    // Busan's own source vouches for its patient with a code, handed to Kim as a local code would be.
    busanCode = (
      await call('busan', 'clinic', 'POST', '/mydata/enrolment-codes', { patientId: 'bs-kim', source: 'clinic-busan' })
    ).json().code;
  }, 60_000);
  afterAll(async () => {
    for (const s of servers.values()) {
      await s.app.close();
      await s.hub.close();
    }
    rmSync(root, { recursive: true, force: true });
  });

  it("links the record at busan with busan's code, once, refusing a wrong code and an unknown hub", async () => {
    const wrong = await call('gwangju', 'kim', 'POST', '/me/enrol', { code: 'AAAA-BBBB-CCCC', hub: 'busan' });
    expect(wrong.status).toBe(400);
    expect(codeOf(wrong)).toBe('MYDATA_CODE_INVALID');
    const unknown = await call('gwangju', 'kim', 'POST', '/me/enrol', { code: busanCode, hub: 'daegu' });
    expect(codeOf(unknown)).toBe('MYDATA_INVALID_REQUEST');
    // Busan's code means nothing as a code of gwangju's sources.
    expect(codeOf(await call('gwangju', 'kim', 'POST', '/me/enrol', { code: busanCode }))).toBe('MYDATA_CODE_INVALID');
    const linked = await call('gwangju', 'kim', 'POST', '/me/enrol', { code: busanCode, hub: 'busan' });
    expect(linked.status).toBe(201);
    // Both hubs hold Kim's linkage token: the peer compared them and found the same person.
    expect(linked.json()).toEqual({
      hub: 'busan',
      source: 'clinic-busan',
      linkedAt: '2026-03-02T10:00:00.000Z',
      checked: 'same',
    });
    const again = await call('gwangju', 'park', 'POST', '/me/enrol', { code: busanCode, hub: 'busan' });
    expect(codeOf(again)).toBe('MYDATA_CODE_INVALID');
    // Every attempt is audited at gwangju, refused ones too.
    await vi.waitFor(async () => {
      const rows = await servers
        .get('gwangju')!
        .hub.db.all<{ target: string; outcome: string }>(
          "SELECT target, outcome FROM audit_log WHERE action = 'enrol' AND target LIKE 'hub/%' ORDER BY seq",
        );
      expect(rows.map((r) => `${r.target} ${r.outcome}`)).toEqual([
        'hub/busan failure',
        'hub/daegu failure',
        'hub/busan success',
        'hub/busan failure',
      ]);
    });
    expect((await call('gwangju', 'kim', 'GET', '/me')).json()).toEqual({
      name: 'citizen-kim',
      records: [{ source: 'clinic-gwangju', linkedAt: '2026-03-02T10:00:00.000Z' }],
      peerRecords: [{ hub: 'busan', source: 'clinic-busan', linkedAt: '2026-03-02T10:00:00.000Z' }],
    });
  });

  it('refuses a code of someone else by the linkage tokens, leaving it unused for its owner', async () => {
    const busan = servers.get('busan')!.hub;
    const linkedAtBusan = async () =>
      (await busan.db.all("SELECT 1 AS one FROM citizen_record WHERE citizen LIKE 'peer:gwangju/%'")).length;
    const before = await linkedAtBusan();
    // Busan's source issues Lee's code; Kim types it at gwangju.
    const leeCode = (
      await call('busan', 'clinic', 'POST', '/mydata/enrolment-codes', { patientId: 'bs-lee', source: 'clinic-busan' })
    ).json().code;
    const stolen = await call('gwangju', 'kim', 'POST', '/me/enrol', { code: leeCode, hub: 'busan' });
    expect(stolen.status).toBe(403);
    expect(codeOf(stolen)).toBe('MYDATA_LINK_MISMATCH');
    expect(await linkedAtBusan()).toBe(before);
    expect(stolen.text).not.toContain('Asthma');
    // Lee, whose records at gwangju carry the same person's token, links it with the same code.
    const own = await call('gwangju', 'lee', 'POST', '/me/enrol', { code: leeCode, hub: 'busan' });
    expect(own.status).toBe(201);
    expect(own.json()).toMatchObject({ hub: 'busan', checked: 'same' });
    expect(await linkedAtBusan()).toBe(before + 1);
    // Busan's patient without an RRN has no token: the code links as before, and the answer says it was unchecked.
    const noid = (
      await call('busan', 'clinic', 'POST', '/mydata/enrolment-codes', { patientId: 'bs-noid', source: 'clinic-busan' })
    ).json().code;
    const unchecked = await call('gwangju', 'choi', 'POST', '/me/enrol', { code: noid, hub: 'busan' });
    expect(unchecked.status).toBe(201);
    expect(unchecked.json()).toMatchObject({ hub: 'busan', checked: 'not-possible' });
    // Only blinded points crossed: busan's audit and link tables name no gwangju account.
    expect(JSON.stringify(await busan.db.all('SELECT * FROM audit_log'))).not.toMatch(/citizen-(kim|lee|choi)/);
  });

  it("locks a citizen's tries at busan after five wrong codes, as a local enrolment does", async () => {
    // Park's one used code above counts: four more wrong ones reach the limit.
    for (let i = 0; i < 4; i++) {
      const r = await call('gwangju', 'park', 'POST', '/me/enrol', { code: `ZZZZ-ZZZZ-ZZZ${i}`, hub: 'busan' });
      expect(codeOf(r)).toBe('MYDATA_CODE_INVALID');
    }
    const code = (
      await call('busan', 'clinic', 'POST', '/mydata/enrolment-codes', { patientId: 'bs-lee', source: 'clinic-busan' })
    ).json().code;
    const locked = await call('gwangju', 'park', 'POST', '/me/enrol', { code, hub: 'busan' });
    expect(locked.status).toBe(429);
    expect(codeOf(locked)).toBe('MYDATA_ENROL_LOCKED');
    // Kim's tries are Kim's own.
    expect((await call('gwangju', 'kim', 'GET', '/me')).json().peerRecords).toHaveLength(1);
  });

  it("shows the citizen their records at both hubs, and nobody else's", async () => {
    const res = await call('gwangju', 'kim', 'GET', '/me/timeline?type=Condition');
    expect(res.status).toBe(200);
    const body = res.json() as { entries: { display: string; hub?: string }[]; peers: unknown };
    expect(body.entries.map((e) => [e.display, e.hub ?? 'here'])).toEqual([
      ['Diabetes mellitus type 2', 'busan'],
      ['Hypertension', 'here'],
    ]);
    expect(body.peers).toEqual([{ hub: 'busan', reached: true }]);
    expect(res.text).not.toContain('Asthma');
    // Park linked nothing at busan: no peer is asked.
    expect((await call('gwangju', 'park', 'GET', '/me/timeline')).json()).toEqual({ entries: [] });

    const everything = await call('gwangju', 'kim', 'GET', '/me/$everything');
    const b = everything.json() as { total: number; entry: { fullUrl: string; resource: { resourceType: string } }[] };
    const busanUrl = servers.get('busan')!.app.listeningOrigin;
    expect(b.total).toBe(5);
    expect(
      b.entry
        .filter((e) => e.fullUrl.startsWith(`${busanUrl}/fhir/`))
        .map((e) => e.resource.resourceType)
        .sort(),
    ).toEqual(['Condition', 'Observation', 'Patient']);
    expect(everything.text).not.toContain('Asthma');
    const r4 = ResourceValidator.r4();
    expect(r4.validate(b as unknown as Record<string, unknown>, 5)).toEqual([]);
    const csv = await call('gwangju', 'kim', 'GET', '/me/export.csv');
    expect(csv.text).toContain('Diabetes mellitus type 2');
    expect(
      csv.text
        .split('\n')
        .find((l) => l.includes('Diabetes'))!
        .endsWith(',busan'),
    ).toBe(true);
  });

  it("reads the care plan from the citizen's records at both hubs, storing none of busan's at gwangju", async () => {
    const plan = await call('gwangju', 'kim', 'GET', '/me/plan');
    expect(plan.status).toBe(200);
    const body = plan.json() as { conditions: string[]; targets: { id: string }[]; peers: unknown };
    // Hypertension is on the record here, diabetes at busan: both set targets (HbA1c from diabetes alone).
    expect(body.conditions).toEqual(['diabetes', 'hypertension']);
    expect(body.targets.map((t) => t.id)).toContain('hba1c');
    expect(body.peers).toEqual([{ hub: 'busan', reached: true }]);
    // The risks' care-plan targets come from the same merged record.
    expect((await call('gwangju', 'kim', 'GET', '/me/risks')).status).toBe(200);
    // Park linked nothing at busan: their plan is this hub's alone, with no peer named.
    expect((await call('gwangju', 'park', 'GET', '/me/plan')).json().peers).toBeUndefined();
    // Nothing of busan's was kept at gwangju: its store holds its own Condition only.
    const gwangju = servers.get('gwangju')!.hub;
    expect(await gwangju.store.count('Condition')).toBe(1);
  });

  it("scores gwangju's model on the citizen's records at both hubs, keeping none of busan's", async () => {
    // Before the link, the pressure and the diabetes recorded at busan are unknown here: no risk is shown.
    const alone = beforeLink!.trained.find((r) => r.model === 'stroke-logit')!;
    expect(alone.risk).toBeNull();
    expect(alone.notAvailable?.en).toContain('Systolic blood pressure');
    expect(beforeLink!.recordsFrom).toEqual(['gwangju']);
    const res = await call('gwangju', 'kim', 'GET', '/me/risks');
    expect(res.status).toBe(200);
    const body = res.json() as { trained: MyTrainedRisk[]; recordsFrom: string[]; peers: unknown };
    expect(body.recordsFrom).toEqual(['gwangju', 'busan']);
    expect(body.peers).toEqual([{ hub: 'busan', reached: true }]);
    const risk = body.trained.find((r) => r.model === 'stroke-logit')!;
    const value = (f: string) => risk.factors.find((x) => x.feature === f)?.value;
    // Born 1961-04-02, scored on 2026-03-02: 65 years less a month, as the feature SQL counts it.
    const age = 65 - 1 / 12;
    expect(value('age')).toBeCloseTo(age, 9);
    expect(value('sbp')).toBe(SBP);
    expect(value('diabetes')).toBe(1);
    // The risk from all of Kim's records: gwangju's demographics, busan's pressure and diagnosis.
    expect(risk.risk).toBeCloseTo(sigmoid(BETA[0]! + BETA[1]! * age + BETA[2]! * SBP + BETA[3]!), 3);
    // Read for the answer only: no table of busan's rows is left, and gwangju's derived data holds none of them.
    const gwangju = servers.get('gwangju')!.hub;
    // Temporary tables belong to the writer connection, which the build ran on.
    const left = await gwangju.db.transaction((tx) =>
      tx.all("SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'merged_%'"),
    );
    expect(left).toEqual([]);
    expect(await gwangju.store.count('Observation')).toBe(0);
    expect(await gwangju.db.all("SELECT 1 FROM cohort_event WHERE domain = 'measurement'")).toEqual([]);
    // Park linked nothing at busan: gwangju's records alone, no peer named.
    const park = (await call('gwangju', 'park', 'GET', '/me/risks')).json();
    expect(park.peers).toBeUndefined();
  });

  it('audits the read at busan under a keyed reference, never the account name, and answers only the linking hub', async () => {
    const busan = servers.get('busan')!.hub;
    await vi.waitFor(async () => {
      const rows = await busan.db.all<{ actor: string; target: string }>(
        "SELECT actor, target FROM audit_log WHERE action = 'peer-records'",
      );
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => /^peer:gwangju\/[A-Za-z0-9_-]{43}$/.test(r.actor) && r.target === 'peer/gwangju')).toBe(
        true,
      );
    });
    const log = JSON.stringify(await busan.db.all('SELECT * FROM audit_log'));
    expect(log).not.toContain('citizen-kim');
    // Signed by gwangju but for a reference linked to nothing: an empty record, the same shape.
    const gwangju = servers.get('gwangju')!.federation;
    const other = await gwangju.client.call(
      'busan',
      PEER_RECORDS_OPERATION,
      { citizen: 'A'.repeat(43) },
      { timeoutMs: 10_000 },
    );
    expect(other).toEqual({ resources: [] });
    // Busan answers Kim's reference to gwangju only: signed by busan itself the same reference holds nothing.
    const actor = (
      await busan.db.all<{ actor: string }>("SELECT actor FROM audit_log WHERE action = 'peer-records'")
    )[0]!.actor;
    const ref = actor.slice('peer:gwangju/'.length);
    const self = servers.get('busan')!.federation;
    self.peers.add({
      name: 'busan',
      url: servers.get('busan')!.app.listeningOrigin,
      publicKey: self.identity.publicJwk,
    });
    expect(await self.client.call('busan', PEER_RECORDS_OPERATION, { citizen: ref }, { timeoutMs: 10_000 })).toEqual({
      resources: [],
    });
    self.peers.remove('busan');
  });

  it('withdraws the link at both hubs when the citizen asks: busan sends nothing more', async () => {
    expect((await call('gwangju', 'park', 'DELETE', '/me/peer-records/busan')).status).toBe(400);
    expect((await call('gwangju', 'kim', 'DELETE', '/me/peer-records/busan')).status).toBe(204);
    expect((await call('gwangju', 'kim', 'GET', '/me')).json().peerRecords).toBeUndefined();
    expect((await call('gwangju', 'kim', 'GET', '/me/timeline')).text).not.toContain('Diabetes');
    const busan = servers.get('busan')!.hub;
    const [row] = await busan.db.all<{ actor: string }>("SELECT actor FROM audit_log WHERE action = 'peer-records'");
    const ref = row!.actor.slice('peer:gwangju/'.length);
    const asked = await servers
      .get('gwangju')!
      .federation.client.call('busan', PEER_RECORDS_OPERATION, { citizen: ref }, { timeoutMs: 10_000 });
    expect(asked).toEqual({ resources: [] });
    expect(await busan.db.all("SELECT 1 FROM audit_log WHERE action = 'unlink'")).toHaveLength(1);
    // Linked again with a new code of busan's source, the records come back.
    const code = (
      await call('busan', 'clinic', 'POST', '/mydata/enrolment-codes', { patientId: 'bs-kim', source: 'clinic-busan' })
    ).json().code;
    expect((await call('gwangju', 'kim', 'POST', '/me/enrol', { code, hub: 'busan' })).status).toBe(201);
    expect((await call('gwangju', 'kim', 'GET', '/me/timeline')).text).toContain('Diabetes');
  });

  it("still shows the hub's own records when busan cannot be reached, and says so", async () => {
    const busan = servers.get('busan')!;
    await busan.app.close();
    const res = await call('gwangju', 'kim', 'GET', '/me/timeline?type=Condition');
    expect(res.status).toBe(200);
    const body = res.json() as { entries: { display: string }[]; peers: { hub: string; reached: boolean }[] };
    expect(body.entries.map((e) => e.display)).toEqual(['Hypertension']);
    expect(body.peers).toMatchObject([{ hub: 'busan', reached: false }]);
  });
});
