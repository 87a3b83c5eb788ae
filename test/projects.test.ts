import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../src/core/index.js';
import { fixedClock, HealthmeshError, httpStatusOf, silentLogger } from '../src/core/index.js';
import type { Federation } from '../src/federation/index.js';
import { OperationRegistry } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import type { ProjectView, ScopeRequest } from '../src/projects/index.js';
import { ProjectFederation } from '../src/projects/index.js';
import { buildServer } from '../src/server/index.js';
import { peerEachOther, serveFederated } from './support/peer-servers.js';
import { testHubConfig } from './support/test-engine.js';

const NOW = new Date('2026-03-01T09:00:00Z');
const COHORT = {
  name: 'outpatients',
  conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
  entry: { domain: 'encounter', conceptSet: 'amb' },
};
/** An application as the console files it; `hubs` and overrides per test. */
const application = (over: Record<string, unknown> = {}) => ({
  title: 'Diabetes outcomes in outpatients',
  purpose: 'research',
  tables: [
    { name: 'observation', columns: ['patient_key', 'code_code', 'value_quantity', 'unit'] },
    { name: 'condition', columns: ['patient_key', 'code_code'] },
  ],
  cohort: COHORT,
  endDate: '2026-06-30',
  members: ['bora'],
  ethicsApproval: 'IRB-2026-0142',
  dataUseAgreement: true,
  ...over,
});

const codeOf = (res: LightMyRequestResponse): string | undefined =>
  (res.json() as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]?.code;

async function openTestHub(root: string, name: string, clock: ReturnType<typeof fixedClock>): Promise<Hub> {
  const dir = join(root, name);
  // Research hubs: projects are filed at a hub whose role hosts them (every hub named reviews them).
  await initHub(dir, { name, config: { ...(await testHubConfig()), role: 'research' }, logger: silentLogger(), clock });
  return openHub(dir, { logger: silentLogger(), clock });
}

/** `fn`'s refusal: its code, a 403, and the denied audit entry it wrote naming that code. */
async function refusal(hub: Hub, fn: () => Promise<unknown>): Promise<ErrorCode> {
  const e = await fn().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HealthmeshError);
  const { code } = e as HealthmeshError;
  expect(httpStatusOf((e as HealthmeshError).kind)).toBe(403);
  const [last] = await hub.audit.recent(1, ['project-authorize']);
  expect(last).toMatchObject({ outcome: 'denied', detail: { code } });
  return code;
}

describe('a project filed, reviewed and used at one hub', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-projects-'));
  const clock = fixedClock(NOW);
  let hub: Hub;
  let app: FastifyInstance;
  const tokens = new Map<string, string>();
  const call = (who: string, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens.get(who)}` },
      ...(body !== undefined && { payload: body as object }),
    });
  const ana = { name: 'ana', role: 'researcher' as const };
  const bora = { name: 'bora', role: 'researcher' as const };
  let project: ProjectView;

  beforeAll(async () => {
    hub = await openTestHub(root, 'solo', clock);
    app = await buildServer(hub);
    for (const [name, role] of [
      ['ana', 'researcher'],
      ['bora', 'researcher'],
      ['chul', 'researcher'],
      ['dev', 'developer'],
      ['sun', 'steward'],
    ] as const) {
      tokens.set(name, await hub.tokens.create(name, role));
    }
  });
  afterAll(async () => {
    await app?.close();
    await hub?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses an application with an error naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ dataUseAgreement: false }, 'dataUseAgreement'],
      [{ tables: [{ name: 'observation', columns: ['code_code', 'shoe_size'] }] }, 'tables[0].columns[1]'],
      [{ tables: [{ name: 'salaries', columns: ['x'] }] }, 'tables[0].name'],
      [{ endDate: '2026-02-01' }, 'endDate'],
      [{ hubs: ['nowhere'] }, 'hubs[0]'],
      [{ cohort: { ...COHORT, entry: { domain: 'encounter', conceptSet: 'missing' } } }, 'cohort.entry.conceptSet'],
    ];
    for (const [over, field] of cases) {
      const res = await call('ana', 'POST', '/projects', application(over));
      expect(res.statusCode, field).toBe(400);
      expect(codeOf(res), field).toBe('PROJECT_INVALID_APPLICATION');
      expect(res.body, field).toContain(field);
    }
    const purpose = await call('ana', 'POST', '/projects', application({ purpose: 'marketing' }));
    expect(codeOf(purpose)).toBe('CONSENT_UNKNOWN_PURPOSE');
  });

  it('files an application, pending at this hub, with the applicant and team as members', async () => {
    const res = await call('ana', 'POST', '/projects', application());
    expect(res.statusCode).toBe(201);
    project = res.json() as ProjectView;
    expect(project).toMatchObject({ applicant: 'ana', origin: 'solo', purpose: 'research', members: ['ana', 'bora'] });
    expect(project.hubs).toEqual([expect.objectContaining({ hub: 'solo', decision: 'pending', tables: null })]);
    expect(project.history.map((e) => e.action)).toEqual(['filed']);
    const [audit] = await hub.audit.recent(1, ['project-file']);
    expect(audit).toMatchObject({ actor: 'ana', target: `project:${project.id}`, outcome: 'success' });
    expect(await refusal(hub, () => hub.projects.authorize(ana, project.id))).toBe('PROJECT_NOT_APPROVED');
  });

  it('shows a project to its members and the stewards only, and the steward sees it awaiting review', async () => {
    expect((await call('bora', 'GET', `/projects/${project.id}`)).statusCode).toBe(200);
    expect((await call('sun', 'GET', `/projects/${project.id}`)).statusCode).toBe(200);
    const other = await call('chul', 'GET', `/projects/${project.id}`);
    expect(other.statusCode).toBe(404);
    expect(codeOf(other)).toBe('PROJECT_NOT_FOUND');
    expect((await call('chul', 'GET', '/projects')).json()).toEqual([]);
    expect(codeOf(await call('chul', 'POST', `/projects/${project.id}/members`, { handle: 'chul' }))).toBe(
      'PROJECT_NOT_FOUND',
    );
    // A member who is not the applicant manages no one.
    expect(codeOf(await call('bora', 'POST', `/projects/${project.id}/members`, { handle: 'chul' }))).toBe(
      'AUTH_FORBIDDEN',
    );
    const pending = (await call('sun', 'GET', '/projects')).json() as { id: string; decision: string }[];
    expect(pending).toEqual([expect.objectContaining({ id: project.id, decision: 'pending' })]);
  });

  it('approves with conditions, narrowing the scope, and authorizes only inside it', async () => {
    const narrowed = [{ name: 'observation', columns: ['patient_key', 'code_code'] }];
    const bad = await call('sun', 'POST', `/projects/${project.id}/review`, {
      decision: 'approve',
      comment: 'ok',
      tables: [{ name: 'patient', columns: ['gender'] }],
    });
    expect(codeOf(bad)).toBe('PROJECT_INVALID_APPLICATION');
    expect(
      codeOf(
        await call('sun', 'POST', `/projects/${project.id}/review`, {
          decision: 'approve-with-conditions',
          comment: 'ok',
        }),
      ),
    ).toBe('PROJECT_INVALID_APPLICATION');
    const res = await call('sun', 'POST', `/projects/${project.id}/review`, {
      decision: 'approve-with-conditions',
      comment: 'Observations only; no values',
      conditions: 'outputs checked before release',
      tables: narrowed,
    });
    expect(res.statusCode).toBe(200);
    const reviewed = res.json() as ProjectView;
    expect(reviewed.hubs[0]).toMatchObject({
      decision: 'approved-with-conditions',
      decidedBy: 'sun',
      conditions: 'outputs checked before release',
      tables: narrowed,
    });
    // The applicant sees the step, who took it and why.
    const seen = (await call('ana', 'GET', `/projects/${project.id}`)).json() as ProjectView;
    expect(seen.history.at(-1)).toMatchObject({ actor: 'sun', action: 'approved-with-conditions', hub: 'solo' });
    expect(seen.history.at(-1)?.comment).toContain('Observations only');
    const [audit] = await hub.audit.recent(1, ['project-review']);
    expect(audit).toMatchObject({ actor: 'sun', outcome: 'success', detail: { decision: 'approved-with-conditions' } });
    // A decision stands.
    const again = await call('sun', 'POST', `/projects/${project.id}/review`, { decision: 'deny', comment: 'no' });
    expect(again.statusCode).toBe(409);
    expect(codeOf(again)).toBe('PROJECT_ALREADY_DECIDED');

    const scope = await hub.projects.authorize(bora, project.id, {
      tables: ['observation'],
      columns: ['observation.code_code'],
      purpose: 'research',
    });
    expect(scope).toMatchObject({ hub: 'solo', purpose: 'research', members: ['ana', 'bora'], tables: narrowed });
    const outside: ScopeRequest[] = [
      { tables: ['condition'] },
      { columns: ['observation.value_quantity'] },
      { purpose: 'commercial' },
    ];
    for (const request of outside) {
      expect(await refusal(hub, () => hub.projects.authorize(bora, project.id, request))).toBe('PROJECT_OUT_OF_SCOPE');
    }
    expect(await refusal(hub, () => hub.projects.authorize({ name: 'chul', role: 'researcher' }, project.id))).toBe(
      'PROJECT_NOT_MEMBER',
    );
  });

  it('removes a member at once', async () => {
    const added = await call('ana', 'POST', `/projects/${project.id}/members`, { handle: 'chul' });
    expect((added.json() as ProjectView).members).toEqual(['ana', 'bora', 'chul']);
    await hub.projects.authorize({ name: 'chul', role: 'researcher' }, project.id);
    const removed = await call('ana', 'DELETE', `/projects/${project.id}/members/bora`);
    expect((removed.json() as ProjectView).members).toEqual(['ana', 'chul']);
    expect(await refusal(hub, () => hub.projects.authorize(bora, project.id))).toBe('PROJECT_NOT_MEMBER');
    expect((await call('bora', 'GET', `/projects/${project.id}`)).statusCode).toBe(404);
    expect(codeOf(await call('ana', 'DELETE', `/projects/${project.id}/members/ana`))).toBe(
      'PROJECT_INVALID_APPLICATION',
    );
    const history = ((await call('ana', 'GET', `/projects/${project.id}`)).json() as ProjectView).history;
    expect(history.slice(-2).map((e) => [e.action, e.comment])).toEqual([
      ['member-added', 'chul'],
      ['member-removed', 'bora'],
    ]);
  });

  it('refuses a denied project', async () => {
    const filed = (
      await call('dev', 'POST', '/projects', application({ purpose: 'ai-development', members: [] }))
    ).json() as ProjectView;
    const denied = await call('sun', 'POST', `/projects/${filed.id}/review`, {
      decision: 'deny',
      comment: 'no ethics approval on file',
    });
    expect((denied.json() as ProjectView).hubs[0]?.decision).toBe('denied');
    expect(await refusal(hub, () => hub.projects.authorize({ name: 'dev', role: 'developer' }, filed.id))).toBe(
      'PROJECT_NOT_APPROVED',
    );
  });

  it('shows applicants a catalog of tables, columns, released counts and the years covered', async () => {
    const observation = (year: number, i: number) => ({
      resource: {
        resourceType: 'Observation',
        id: `o${year}-${i}`,
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] },
        subject: { reference: 'Patient/cat1' },
        effectiveDateTime: `${year}-0${(i % 9) + 1}-15`,
      },
      request: { method: 'PUT', url: `Observation/o${year}-${i}` },
    });
    const bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: { resourceType: 'Patient', id: 'cat1' }, request: { method: 'PUT', url: 'Patient/cat1' } },
        // Twelve records in 2025 pass the gate; three in 2019 do not, so 2019 is not claimed as covered.
        ...Array.from({ length: 12 }, (_, i) => observation(2025, i)),
        ...Array.from({ length: 3 }, (_, i) => observation(2019, i)),
      ],
    };
    const stored = await app.inject({
      method: 'POST',
      url: '/fhir',
      headers: { authorization: `Bearer ${tokens.get('sun')}`, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify(bundle),
    });
    expect(stored.statusCode).toBe(200);
    const res = await call('chul', 'GET', '/console/catalog');
    expect(res.statusCode).toBe(200);
    const tables = (
      res.json() as {
        tables: {
          view: string;
          rows: number | null;
          coverage: unknown;
          columns: { name: string; description: string }[];
        }[];
      }
    ).tables;
    const obs = tables.find((t) => t.view === 'observation')!;
    expect(obs.rows).toBe(15);
    expect(obs.coverage).toEqual({ date: 'effective_start', from: '2025', to: '2025' });
    expect(obs.columns.find((c) => c.name === 'code_code')?.description).toMatch(/code/i);
    // One patient: under the threshold, withheld.
    expect(tables.find((t) => t.view === 'patient')?.rows).toBeNull();
  });

  it('ends access by itself after the end date', async () => {
    await hub.projects.authorize(ana, project.id);
    clock.advance(Date.parse('2026-06-30T23:59:00Z') - clock.now().getTime());
    await hub.projects.authorize(ana, project.id);
    clock.advance(60_000);
    expect(await refusal(hub, () => hub.projects.authorize(ana, project.id))).toBe('PROJECT_EXPIRED');
  });
});

describe('a project that touches two hubs, reviewed by each on its own hub', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-projects-fed-'));
  // One clock for both hubs: signed requests carry times each side checks.
  const clock = fixedClock(new Date());
  const hubs = new Map<string, Hub>();
  const servers = new Map<string, { app: FastifyInstance; federation: Federation }>();
  const tokens = new Map<string, string>();
  const call = (hub: string, who: string, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
    servers.get(hub)!.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens.get(`${hub}:${who}`)}` },
      ...(body !== undefined && { payload: body as object }),
    });
  const ana = { name: 'ana', role: 'researcher' as const };
  const endDate = new Date(clock.now().getTime() + 90 * 86_400_000).toISOString().slice(0, 10);

  beforeAll(async () => {
    for (const name of ['seoul', 'busan']) {
      const hub = await openTestHub(root, name, clock);
      hubs.set(name, hub);
      servers.set(name, await serveFederated(hub, new ProjectFederation(hub).register(new OperationRegistry())));
      tokens.set(`${name}:ana`, await hub.tokens.create('ana', 'researcher'));
      tokens.set(`${name}:steward`, await hub.tokens.create(`steward-${name}`, 'steward'));
    }
    peerEachOther(servers);
  });
  afterAll(async () => {
    for (const s of servers.values()) await s.app.close();
    for (const h of hubs.values()) await h.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('forwards the application to the peer, learns its decision, and is usable only where approved', async () => {
    const seoul = hubs.get('seoul')!;
    const busan = hubs.get('busan')!;
    const filed = await call('seoul', 'ana', 'POST', '/projects', application({ endDate, hubs: ['seoul', 'busan'] }));
    expect(filed.statusCode).toBe(201);
    const project = filed.json() as ProjectView;
    expect(project.history.map((e) => e.action)).toEqual(['filed', 'forwarded']);
    // Busan's steward finds it on their own hub, filed at seoul by ana.
    const waiting = (await call('busan', 'steward', 'GET', '/projects')).json() as { id: string; origin: string }[];
    expect(waiting).toEqual([expect.objectContaining({ id: project.id, origin: 'seoul', decision: 'pending' })]);

    expect(
      (
        await call('seoul', 'steward', 'POST', `/projects/${project.id}/review`, {
          decision: 'approve',
          comment: 'fine here',
        })
      ).statusCode,
    ).toBe(200);
    // Approved at seoul, still pending at busan: work at seoul alone passes, work that reaches busan does not.
    await seoul.projects.authorize(ana, project.id, { hubs: ['seoul'] });
    expect(await refusal(seoul, () => seoul.projects.authorize(ana, project.id, { hubs: ['seoul', 'busan'] }))).toBe(
      'PROJECT_NOT_APPROVED',
    );
    expect(await refusal(busan, () => busan.projects.authorizePeer('seoul', project.id))).toBe('PROJECT_NOT_APPROVED');

    const denied = await call('busan', 'steward', 'POST', `/projects/${project.id}/review`, {
      decision: 'deny',
      comment: 'busan holds no consent for this purpose',
    });
    expect(denied.statusCode).toBe(200);
    // Seoul learns busan's decision and its comment when the project is read there.
    const seen = (await call('seoul', 'ana', 'GET', `/projects/${project.id}`)).json() as ProjectView;
    expect(seen.hubs.map((h) => [h.hub, h.decision])).toEqual([
      ['busan', 'denied'],
      ['seoul', 'approved'],
    ]);
    expect(seen.history).toContainEqual(
      expect.objectContaining({
        hub: 'busan',
        actor: 'steward-busan',
        action: 'denied',
        comment: 'busan holds no consent for this purpose',
      }),
    );
    expect(await refusal(seoul, () => seoul.projects.authorize(ana, project.id, { hubs: ['busan'] }))).toBe(
      'PROJECT_NOT_APPROVED',
    );
    expect(await refusal(busan, () => busan.projects.authorizePeer('seoul', project.id))).toBe('PROJECT_NOT_APPROVED');
  });

  it('sends member changes from the origin to the peer over signed HTTP, so a removed member is refused there at once', async () => {
    const seoul = hubs.get('seoul')!;
    const busan = hubs.get('busan')!;
    const bora = { name: 'bora', role: 'researcher' as const };
    const chul = { name: 'chul', role: 'developer' as const };
    const project = (
      await call('seoul', 'ana', 'POST', '/projects', application({ endDate, hubs: ['seoul', 'busan'] }))
    ).json() as ProjectView;
    for (const hub of ['seoul', 'busan'])
      await call(hub, 'steward', 'POST', `/projects/${project.id}/review`, { decision: 'approve', comment: 'ok' });
    // Work at busan itself (a submission there, say) checks busan's own copy of the team.
    await busan.projects.authorize(bora, project.id);
    expect((await call('seoul', 'ana', 'DELETE', `/projects/${project.id}/members/bora`)).statusCode).toBe(200);
    expect(await refusal(busan, () => busan.projects.authorize(bora, project.id))).toBe('PROJECT_NOT_MEMBER');
    expect(await refusal(seoul, () => seoul.projects.authorize(bora, project.id))).toBe('PROJECT_NOT_MEMBER');
    const [synced] = await busan.audit.recent(1, ['project-member-sync']);
    expect(synced).toMatchObject({ actor: 'peer:seoul', outcome: 'success', detail: { added: '', removed: 'bora' } });
    expect((await call('seoul', 'ana', 'POST', `/projects/${project.id}/members`, { handle: 'chul' })).statusCode).toBe(
      200,
    );
    await busan.projects.authorize(chul, project.id);
    // Only the origin sends the team: another hub's list is refused, and busan's team stays as it was.
    expect(
      await busan.projects.receiveMembers('elsewhere', { id: project.id, members: ['ana'] }).catch((e) => e.code),
    ).toBe('PROJECT_NOT_FOUND');
    expect((await busan.projects.view(project.id)).members).toEqual(['ana', 'chul']);

    // A peer the change did not reach gets the team at the next read at the origin.
    const federation = servers.get('seoul')!.federation;
    const peer = federation.peers.list().find((p) => p.name === 'busan')!;
    federation.peers.remove('busan');
    await call('seoul', 'ana', 'DELETE', `/projects/${project.id}/members/chul`);
    await busan.projects.authorize(chul, project.id);
    federation.peers.add(peer);
    const seen = (await call('seoul', 'ana', 'GET', `/projects/${project.id}`)).json() as ProjectView;
    expect(seen.history.filter((e) => e.hub === 'seoul').map((e) => e.action)).toContain('members-failed');
    expect(await refusal(busan, () => busan.projects.authorize(chul, project.id))).toBe('PROJECT_NOT_MEMBER');
  });

  it('lets a federated piece of work through at each hub once both approved, and only from the origin', async () => {
    const seoul = hubs.get('seoul')!;
    const busan = hubs.get('busan')!;
    const project = (
      await call('seoul', 'ana', 'POST', '/projects', application({ endDate, hubs: ['seoul', 'busan'] }))
    ).json() as ProjectView;
    for (const hub of ['seoul', 'busan']) {
      await call(hub, 'steward', 'POST', `/projects/${project.id}/review`, {
        decision: 'approve',
        comment: `approved at ${hub}`,
        tables: [{ name: 'observation', columns: ['code_code'] }],
      });
    }
    await call('seoul', 'ana', 'GET', `/projects/${project.id}`);
    await seoul.projects.authorize(ana, project.id, { hubs: ['seoul', 'busan'], columns: ['observation.code_code'] });
    const scope = await busan.projects.authorizePeer('seoul', project.id, { columns: ['observation.code_code'] });
    expect(scope).toMatchObject({ hub: 'busan', tables: [{ name: 'observation', columns: ['code_code'] }] });
    expect(
      await refusal(busan, () => busan.projects.authorizePeer('seoul', project.id, { tables: ['condition'] })),
    ).toBe('PROJECT_OUT_OF_SCOPE');
    // Before any approval, an applicant reads what each peer holds, released by that peer.
    const catalog = await call('seoul', 'ana', 'GET', '/console/catalog?hubs=busan,nowhere');
    const peers = (catalog.json() as { peers: { hub: string; tables?: { view: string }[]; error?: string }[] }).peers;
    expect(peers[0]?.hub).toBe('busan');
    expect(peers[0]?.tables?.map((t) => t.view)).toContain('observation');
    expect(peers[1]).toEqual({ hub: 'nowhere', error: 'unknown-peer' });
    // Filed at seoul for busan alone: seoul's steward lists it with no decision of seoul's to take.
    const elsewhere = (
      await call('seoul', 'ana', 'POST', '/projects', application({ endDate, hubs: ['busan'] }))
    ).json() as ProjectView;
    const listed = (await call('seoul', 'steward', 'GET', '/projects')).json() as { id: string; decision: unknown }[];
    expect(listed.find((p) => p.id === elsewhere.id)?.decision).toBeNull();
    expect(await refusal(seoul, () => seoul.projects.authorize(ana, elsewhere.id))).toBe('PROJECT_NOT_APPROVED');
    // A peer that did not file the project cannot use it at busan.
    const stranger = await busan.projects.authorizePeer('elsewhere', project.id).catch((e: HealthmeshError) => e.code);
    expect(stranger).toBe('PROJECT_NOT_FOUND');
  });
});
