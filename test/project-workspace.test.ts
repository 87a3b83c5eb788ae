import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CohortFederation } from '../src/cohort/index.js';
import { fixedClock, silentLogger } from '../src/core/index.js';
import type { Federation } from '../src/federation/index.js';
import { fanOut, OperationRegistry } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { buildHubFeatures, hubModelRegistry, parseTrainingSpec, trainFromSpec } from '../src/models/index.js';
import type { FederatedTabulation } from '../src/projects/index.js';
import { ProjectFederation, tabulateInWorkspace } from '../src/projects/index.js';
import { SeriesFederation } from '../src/surveillance/index.js';
import { generateRegion } from '../src/synth/index.js';
import { htnTrainingSpec } from './support/htn-spec.js';
import { peerEachOther, serveFederated } from './support/peer-servers.js';
import { ingestOptions } from './support/temp-hub.js';

/**
 * Issue 16 item 4 and issue 18 item 4: a member runs a federated cohort inside an approved project — only over
 * approved tables, for the project's purpose, only at hubs that approved it — and a citizen whose record it
 * included sees the project among the uses of their data; a model trained in a project is the project's; a
 * forecast in a project reads only approved variables, at hubs that approved it, and leaves through the airlock.
 */
const OUTPATIENTS = {
  name: 'outpatients',
  conceptSets: { amb: { concepts: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }] } },
  entry: { domain: 'encounter', conceptSet: 'amb' },
};
const codeOf = (res: LightMyRequestResponse): string | undefined =>
  (res.json() as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]?.code;

describe('work inside an approved project across two hubs', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-workspace-'));
  const clock = fixedClock(new Date());
  const hubs = new Map<string, Hub>();
  const servers = new Map<string, { app: FastifyInstance; federation: Federation }>();
  const tokens = new Map<string, string>();
  let projectId = '';
  const call = (hub: string, who: string, method: 'GET' | 'POST', url: string, body?: unknown) =>
    servers.get(hub)!.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${tokens.get(`${hub}:${who}`)}` },
      ...(body !== undefined && { payload: body as object }),
    });

  beforeAll(async () => {
    for (const [name, role] of [
      ['gyeonggi', 'research'],
      ['gwangju', 'data'],
    ] as const) {
      const dir = join(root, name);
      await initHub(dir, { name, config: { role }, logger: silentLogger(), clock });
      const hub = await openHub(dir, { logger: silentLogger(), clock });
      const input = join(root, `${name}-synth`);
      generateRegion({ region: name, people: 60, seed: 'workspace', out: input });
      const files = readdirSync(input)
        .filter((f) => f.endsWith('.ndjson'))
        .map((f) => join(input, f));
      await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: `synth-${name}`, actor: 'test' }));
      hubs.set(name, hub);
      const cohorts = new CohortFederation(hub);
      const series = new SeriesFederation(hub);
      const operations = new ProjectFederation(hub).register(
        series.register(cohorts.register(new OperationRegistry())),
      );
      servers.set(name, await serveFederated(hub, operations, { cohorts, series }));
      tokens.set(`${name}:ana`, await hub.tokens.create('ana', 'researcher'));
      tokens.set(`${name}:steward`, await hub.tokens.create(`steward-${name}`, 'steward'));
      tokens.set(`${name}:citizen`, await hub.tokens.create('resident-0', 'citizen'));
    }
    peerEachOther(servers);
    const filed = await call('gyeonggi', 'ana', 'POST', '/projects', {
      title: 'Outpatient care across regions',
      purpose: 'research',
      tables: [{ name: 'encounter', columns: ['patient_key', 'class_code'] }],
      endDate: new Date(clock.now().getTime() + 90 * 86_400_000).toISOString().slice(0, 10),
      members: [],
      ethicsApproval: 'IRB-2026-0200',
      dataUseAgreement: true,
      hubs: ['gyeonggi', 'gwangju'],
    });
    expect(filed.statusCode, filed.body).toBe(201);
    projectId = filed.json().id;
    const ok = await call('gyeonggi', 'steward', 'POST', `/projects/${projectId}/review`, {
      decision: 'approve',
      comment: 'ok',
    });
    expect(ok.statusCode).toBe(200);
  }, 180_000);
  afterAll(async () => {
    for (const s of servers.values()) await s.app.close();
    for (const h of hubs.values()) await h.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a federated cohort before every hub it reaches approved the project', async () => {
    const res = await call('gyeonggi', 'ana', 'POST', `/projects/${projectId}/cohort/$run`, {
      definition: OUTPATIENTS,
      hubs: ['gyeonggi', 'gwangju'],
    });
    expect(res.statusCode).toBe(403);
    expect(codeOf(res)).toBe('PROJECT_NOT_APPROVED');
  });

  it('refuses a tabulation across hubs before every hub it reaches approved the project', async () => {
    const res = await call('gyeonggi', 'ana', 'POST', `/projects/${projectId}/views/$tabulate`, {
      view: 'encounter',
      rows: 'class_code',
      hubs: ['gyeonggi', 'gwangju'],
    });
    expect([res.statusCode, codeOf(res)]).toEqual([403, 'PROJECT_NOT_APPROVED']);
    expect(codeOf(res) && res.json().issue[0].diagnostics).toBe(`project ${projectId} is pending at gwangju`);
  });

  it('runs the cohort at both hubs once both approved, for the project purpose, and refuses tables outside it', async () => {
    const review = await call('gwangju', 'steward', 'POST', `/projects/${projectId}/review`, {
      decision: 'approve',
      comment: 'ok',
    });
    expect(review.statusCode).toBe(200);
    await call('gyeonggi', 'ana', 'GET', `/projects/${projectId}`); // the origin learns gwangju's decision
    const res = await call('gyeonggi', 'ana', 'POST', `/projects/${projectId}/cohort/$run`, {
      definition: OUTPATIENTS,
      hubs: ['gyeonggi', 'gwangju'],
    });
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json() as {
      purpose: string;
      hubs: { hub: string; persons: number | null }[];
      failed: unknown[];
    };
    expect(answer.purpose).toBe('research');
    expect(answer.failed).toEqual([]);
    expect(answer.hubs.map((h) => h.hub).sort()).toEqual(['gwangju', 'gyeonggi']);
    const medication = await call('gyeonggi', 'ana', 'POST', `/projects/${projectId}/cohort/$run`, {
      definition: { ...OUTPATIENTS, entry: { domain: 'medication', conceptSet: 'amb' } },
    });
    expect(medication.statusCode).toBe(403);
    expect(codeOf(medication)).toBe('PROJECT_OUT_OF_SCOPE');
    // A coordinator that skips its own check gets the peer's refusal: gwangju checks the tables itself.
    const asked = await fanOut(
      servers.get('gyeonggi')!.federation.client,
      ['gwangju'],
      'cohort.run',
      { definition: { ...OUTPATIENTS, entry: { domain: 'medication', conceptSet: 'amb' } }, project: projectId },
      { timeoutMs: 30_000 },
    );
    expect(asked.failed.map((f) => [f.hub, f.remoteCode])).toEqual([['gwangju', 'PROJECT_OUT_OF_SCOPE']]);
    expect(asked.failed[0]!.message).toContain(`table 'medication_request' is outside project ${projectId}`);
  });

  it('counts the people of an approved view by an approved column, through the gate, and refuses the rest', async () => {
    const tabulate = (body: object) => call('gyeonggi', 'ana', 'POST', `/projects/${projectId}/views/$tabulate`, body);
    const res = await tabulate({ view: 'encounter', rows: 'class_code' });
    expect(res.statusCode, res.body).toBe(200);
    const table = res.json() as { rows: string[]; columns: string[]; cells: (number | null)[][]; total: number | null };
    expect(table.rows).toContain('AMB');
    expect(table.columns).toEqual(['all']);
    // Published as the gate publishes: rounded to its base (5), nothing under the threshold, never more people
    // than the hub holds.
    for (const n of table.cells.flat()) if (n !== null) expect(n % 5 === 0 && n >= 10).toBe(true);
    expect(table.total).toBeLessThanOrEqual(60);
    expect(res.body).not.toContain('patient_key');
    // A column with more categories than a tabulation may have (a person's key: one per person) is refused.
    const keys = await tabulate({ view: 'encounter', rows: 'class_code', columns: 'patient_key' });
    expect([keys.statusCode, codeOf(keys)]).toEqual([400, 'PROJECT_TABULATION_INVALID']);
    // A column or a view the project was not approved for is refused.
    const outside = await tabulate({ view: 'encounter', rows: 'class_code', columns: 'period_start' });
    expect([outside.statusCode, codeOf(outside)]).toEqual([403, 'PROJECT_OUT_OF_SCOPE']);
    const view = await tabulate({ view: 'observation', rows: 'code_code' });
    expect([view.statusCode, codeOf(view)]).toEqual([403, 'PROJECT_OUT_OF_SCOPE']);
    const actions = (await hubs.get('gyeonggi')!.audit.recent(20)).map((e) => `${e.actor} ${e.action} ${e.outcome}`);
    expect(actions).toContain('ana project-view-tabulate success');
  });

  it('tabulates an approved view at both hubs: each hub releases its own table, the answer adds their sum', async () => {
    const request = { view: 'encounter', rows: 'class_code' };
    const res = await call('gyeonggi', 'ana', 'POST', `/projects/${projectId}/views/$tabulate`, {
      ...request,
      hubs: ['gyeonggi', 'gwangju'],
    });
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json() as FederatedTabulation;
    expect([answer.complete, answer.failed]).toEqual([true, []]);
    expect(answer.hubs.map((h) => h.hub).sort()).toEqual(['gwangju', 'gyeonggi']);
    // Each hub's part is what that hub's own gate releases for the project (gwangju checks it as a peer's request).
    for (const part of answer.hubs) {
      const h = hubs.get(part.hub)!;
      const scope =
        part.hub === 'gwangju'
          ? await h.projects.authorizePeer('gyeonggi', projectId, { tables: ['encounter'] })
          : await h.projects.authorize({ name: 'ana', role: 'researcher' }, projectId, { tables: ['encounter'] });
      expect(part.table).toEqual(h.gate.table(await tabulateInWorkspace(h, scope, request)).value);
    }
    // The pooled table is their sum, category by category (a category one hub lacks counts 0 there).
    expect(answer.pooled).not.toBeNull();
    const pooled = answer.pooled!;
    expect(pooled.rows).toContain('AMB');
    const cell = (t: { rows: readonly string[]; cells: (number | null)[][] }, r: string) =>
      t.rows.includes(r) ? (t.cells[t.rows.indexOf(r)]![0] as number | null) : 0;
    const sum = (parts: (number | null)[]) =>
      parts.includes(null) ? null : parts.reduce<number>((s, n) => s + (n as number), 0);
    pooled.rows.forEach((r, i) => {
      expect(pooled.cells[i]![0]).toBe(sum(answer.hubs.map((h) => cell(h.table, r))));
    });
    expect(pooled.total).toBe(sum(answer.hubs.map((h) => h.table.total)));
    expect(pooled.total).not.toBeNull();
    expect(res.body).not.toContain('patient_key');
    const peerAudit = (await hubs.get('gwangju')!.audit.recent(20)).map((e) => `${e.actor} ${e.action}`);
    expect(peerAudit.some((a) => a.includes('project.tabulate'))).toBe(true);
  });

  it('has no workspace on a data hub: members work from the research hub that hosts the project', async () => {
    const res = await call('gwangju', 'ana', 'POST', `/projects/${projectId}/cohort/$run`, { definition: OUTPATIENTS });
    expect(res.statusCode).toBe(404);
    expect(codeOf(res)).toBe('API_NOT_FOUND');
  });

  it("shows a citizen whose record the project's cohort included that the project used their data", async () => {
    const gwangju = hubs.get('gwangju')!;
    // A resident of gwangju in the cohort: enrol them with a code from their source.
    let resident: string | undefined;
    for (let i = 0; resident === undefined && i < 60; i++) {
      const key = gwangju.pseudonymiser.patientKey('synth-gwangju', `p${i}`);
      const rows = await gwangju.db.all('SELECT 1 AS one FROM cohort_result WHERE patient_key = $1', [key]);
      if (rows.length > 0) resident = `p${i}`;
    }
    expect(resident).toBeDefined();
    const { code } = await gwangju.enrolment.issue({ name: 'source', role: 'admin' }, 'synth-gwangju', resident!);
    expect((await call('gwangju', 'citizen', 'POST', '/me/enrol', { code })).statusCode).toBe(201);
    const uses = (await call('gwangju', 'citizen', 'GET', '/me/uses')).json().uses as Record<string, unknown>[];
    // The cohort run here, and the tabulation gyeonggi asked of this hub (`project.tabulate`), which counted them.
    const project = { project: projectId, title: 'Outpatient care across regions', purpose: 'research' };
    expect(uses).toHaveLength(2);
    expect(uses).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ...project, kind: 'cohort' }),
        expect.objectContaining({ ...project, kind: 'tabulation', what: 'encounter.class_code' }),
      ]),
    );
  });

  it("trains a model in the workspace; only the project's members and the steward list, read or use it", async () => {
    const gyeonggi = hubs.get('gyeonggi')!;
    tokens.set('gyeonggi:bo', await gyeonggi.tokens.create('bo', 'researcher'));
    tokens.set('gyeonggi:vic', await gyeonggi.tokens.create('vic', 'validator'));
    const ana = { name: 'ana', role: 'researcher' as const };
    const application = (title: string, tables: { name: string; columns: string[] }[]) => ({
      title,
      purpose: 'research',
      tables,
      endDate: new Date(clock.now().getTime() + 30 * 86_400_000).toISOString().slice(0, 10),
      members: [],
      ethicsApproval: 'IRB-9',
      dataUseAgreement: true,
    });
    const risk = await gyeonggi.projects.file(
      ana,
      application('Hypertension risk', [
        { name: 'patient', columns: ['gender', 'birth_date'] },
        { name: 'observation', columns: ['code_code', 'value_quantity', 'unit'] },
        { name: 'condition', columns: ['patient_key', 'code_code'] },
      ]),
    );
    await gyeonggi.projects.review({ name: 'steward-gyeonggi', role: 'steward' }, risk.id, {
      decision: 'approve',
      comment: 'ok',
    });
    const train = (who: string, project: string, model: string) =>
      call('gyeonggi', who, 'POST', `/projects/${project}/models/$train`, { spec: htnTrainingSpec(model) });
    const res = await train('ana', risk.id, 'htn-ws');
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ id: 'htn-ws', project: risk.id, hubs: ['gyeonggi'] });
    const m = await (await hubModelRegistry(gyeonggi)).get('htn-ws');
    expect([m.project, m.createdBy]).toEqual([risk.id, 'user:ana']);

    const listed = async (who: string) =>
      ((await call('gyeonggi', who, 'GET', '/models')).json() as { models: { id: string }[] }).models.map((x) => x.id);
    expect(await listed('ana')).toContain('htn-ws');
    expect(await listed('steward')).toContain('htn-ws');
    expect(await listed('bo')).not.toContain('htn-ws');
    expect(await listed('vic')).not.toContain('htn-ws');
    expect((await call('gyeonggi', 'ana', 'GET', '/models/htn-ws')).statusCode).toBe(200);
    expect((await call('gyeonggi', 'steward', 'GET', '/models/htn-ws')).statusCode).toBe(200);
    const read = await call('gyeonggi', 'bo', 'GET', '/models/htn-ws');
    expect([read.statusCode, codeOf(read)]).toEqual([403, 'PROJECT_NOT_MEMBER']);
    const features = { age: 55, male: 1, sbp: 140, bmi: 29 };
    const predict = await call('gyeonggi', 'vic', 'POST', '/models/htn-ws/predict', { features });
    expect([predict.statusCode, codeOf(predict)]).toEqual([403, 'PROJECT_NOT_MEMBER']);
    // A member passes the project's check; the release gate then decides on the probability (on this small
    // population its fit-support rule may withhold it), as for any model.
    const mine = await call('gyeonggi', 'ana', 'POST', '/models/htn-ws/predict', { features });
    expect(mine.statusCode === 200 || codeOf(mine) === 'DISCLOSURE_REFUSED', mine.body).toBe(true);
    expect((await call('gyeonggi', 'steward', 'POST', '/models/htn-ws/predict', { features })).statusCode).toBe(200);

    // The outpatient project was approved for encounters only: the spec's tables are outside it.
    const outside = await train('ana', projectId, 'htn-narrow');
    expect([outside.statusCode, codeOf(outside)]).toEqual([403, 'PROJECT_OUT_OF_SCOPE']);
    // Approved for the measurements' codes but not their values: the spec reads a variable outside the scope,
    // and the refusal names it, with no number.
    const codesOnly = await gyeonggi.projects.file(
      ana,
      application('Which measurements are taken', [
        { name: 'patient', columns: ['gender', 'birth_date'] },
        { name: 'observation', columns: ['code_code', 'unit'] },
        { name: 'condition', columns: ['code_code'] },
      ]),
    );
    await gyeonggi.projects.review({ name: 'steward-gyeonggi', role: 'steward' }, codesOnly.id, {
      decision: 'approve',
      comment: 'codes only',
    });
    const variable = await train('ana', codesOnly.id, 'htn-codes');
    expect([variable.statusCode, codeOf(variable)]).toEqual([403, 'PROJECT_OUT_OF_SCOPE']);
    expect(variable.json().issue[0].diagnostics).toBe(
      `variable 'observation.value_quantity' is outside project ${codesOnly.id}`,
    );
    expect(variable.body).not.toMatch(/"(rows|events|auroc)"/);
    const stranger = await train('bo', risk.id, 'htn-bo');
    expect([stranger.statusCode, codeOf(stranger)]).toEqual([403, 'PROJECT_NOT_MEMBER']);
    // The hub's operator cannot add a version outside the project to the project's model id.
    await expect(
      trainFromSpec(gyeonggi, parseTrainingSpec(htnTrainingSpec('htn-ws')), 'cli', 'research'),
    ).rejects.toMatchObject({ code: 'MODEL_PROJECT_MISMATCH' });

    // The card leaves the workspace only through the airlock: the gate's release of it, decided by a steward.
    const askCard = (project: string, model: string) =>
      call('gyeonggi', 'ana', 'POST', `/projects/${project}/outputs`, {
        kind: 'model-card',
        title: `Card of ${model}`,
        model,
        source: { analysis: 'model', reference: model },
      });
    const asked = await askCard(risk.id, 'htn-ws');
    expect(asked.statusCode, asked.body).toBe(201);
    expect(asked.json()).toMatchObject({ kind: 'model-card', status: 'awaiting-review' });
    const elsewhere = await askCard(projectId, 'htn-ws');
    expect([elsewhere.statusCode, codeOf(elsewhere)]).toEqual([400, 'OUTPUT_INVALID']);
    const outputId = asked.json().id as string;
    const early = await call('gyeonggi', 'ana', 'GET', `/outputs/${outputId}/download`);
    expect([early.statusCode, codeOf(early)]).toEqual([409, 'OUTPUT_NOT_RELEASED']);
    const decided = await call('gyeonggi', 'steward', 'POST', `/outputs/${outputId}/decision`, {
      decision: 'release',
      comment: 'aggregate card',
    });
    expect(decided.statusCode, decided.body).toBe(200);
    const card = await call('gyeonggi', 'ana', 'GET', `/outputs/${outputId}/download`);
    expect(card.statusCode).toBe(200);
    expect(card.json()).toMatchObject({
      model: 'htn-ws',
      version: 1,
      card: { title: 'Hypertension, 5-year risk' },
    });
    await vi.waitFor(async () => {
      const audit = (await gyeonggi.audit.recent(40)).map((e) => `${e.actor} ${e.action} ${e.outcome}`);
      expect(audit).toContain('ana project-model-train success');
      expect(audit).toContain('vic project-authorize denied');
    });
  });

  it("shows the people a project's training and tabulation read that they were used, and no one else", async () => {
    const gyeonggi = hubs.get('gyeonggi')!;
    const risk = (await gyeonggi.projects.list({ name: 'ana', role: 'researcher' })).find(
      (p) => p.title === 'Hypertension risk',
    )!;
    // The training population for the project's purpose, as the trainer builds it: adults on the index date.
    const spec = parseTrainingSpec(htnTrainingSpec('htn-ws'));
    const population = new Set(
      (await buildHubFeatures(gyeonggi, spec.features, { trainingDates: true, purpose: 'research' })).patientKeys,
    );
    const residents = Array.from({ length: 60 }, (_, i) => `p${i}`);
    const keyOf = (id: string) => gyeonggi.pseudonymiser.patientKey('synth-gyeonggi', id);
    const [inside, refusing] = residents.filter((id) => population.has(keyOf(id)));
    const outside = residents.find((id) => !population.has(keyOf(id)));
    expect([inside, refusing, outside].every((x) => x !== undefined)).toBe(true);
    const uses = async (who: string) =>
      (await call('gyeonggi', who, 'GET', '/me/uses')).json().uses as { project: string; kind: string; what: string }[];
    for (const [who, id] of [
      ['in', inside],
      ['refusing', refusing],
      ['out', outside],
    ] as const) {
      tokens.set(`gyeonggi:${who}`, await gyeonggi.tokens.create(`resident-${who}`, 'citizen'));
      const { code } = await gyeonggi.enrolment.issue({ name: 'source', role: 'admin' }, 'synth-gyeonggi', id!);
      expect((await call('gyeonggi', who, 'POST', '/me/enrol', { code })).statusCode).toBe(201);
    }
    // One resident refuses research; then the project trains a new version and tabulates encounters here.
    const refused = await servers.get('gyeonggi')!.app.inject({
      method: 'PUT',
      url: '/me/consent/research',
      headers: { authorization: `Bearer ${tokens.get('gyeonggi:refusing')}` },
      payload: { choice: 'deny' },
    });
    expect(refused.statusCode, refused.body).toBe(200);
    const tabulationsBefore = (await uses('refusing')).filter((u) => u.kind === 'tabulation').length;
    const trained = await call('gyeonggi', 'ana', 'POST', `/projects/${risk.id}/models/$train`, {
      spec: htnTrainingSpec('htn-ws'),
    });
    expect(trained.statusCode, trained.body).toBe(201);
    const version = `htn-ws/${trained.json().version}`;
    const tabulated = await call('gyeonggi', 'ana', 'POST', `/projects/${projectId}/views/$tabulate`, {
      view: 'encounter',
      rows: 'class_code',
    });
    expect(tabulated.statusCode, tabulated.body).toBe(200);

    const mine = await uses('in');
    expect(mine).toContainEqual(expect.objectContaining({ project: risk.id, kind: 'model-training', what: version }));
    expect(mine).toContainEqual(
      expect.objectContaining({ project: projectId, kind: 'tabulation', what: 'encounter.class_code' }),
    );
    // Refused by consent: in no use after the refusal (the earlier version's training used their record, and says so).
    const theirs = await uses('refusing');
    expect(theirs.some((u) => u.what === version)).toBe(false);
    expect(theirs.filter((u) => u.kind === 'tabulation')).toHaveLength(tabulationsBefore);
    expect(theirs).toContainEqual(expect.objectContaining({ kind: 'model-training', what: 'htn-ws/1' }));
    // Outside the training population: no model's training used their record.
    expect((await uses('out')).filter((u) => u.kind === 'model-training')).toEqual([]);
  });

  it('forecasts the weekly ILI series in a project, here and at the hubs that approved it, and releases it through the airlock', async () => {
    const gyeonggi = hubs.get('gyeonggi')!;
    const gwangju = hubs.get('gwangju')!;
    const forecast = (who: string, project: string, body: object) =>
      call('gyeonggi', who, 'POST', `/projects/${project}/forecasts/$run`, body);
    // The outpatient project was approved for encounters only: the series read conditions' codes and onsets.
    const outside = await forecast('ana', projectId, {});
    expect([outside.statusCode, codeOf(outside)]).toEqual([403, 'PROJECT_OUT_OF_SCOPE']);
    expect(outside.json().issue[0].diagnostics).toBe(`table 'condition' is outside project ${projectId}`);
    // A peer checks for itself: gwangju approved that project, but not for what the series read.
    const asked = await fanOut(
      servers.get('gyeonggi')!.federation.client,
      ['gwangju'],
      'surveillance.series',
      { project: projectId },
      { timeoutMs: 30_000 },
    );
    expect(asked.failed.map((f) => [f.hub, f.remoteCode])).toEqual([['gwangju', 'PROJECT_OUT_OF_SCOPE']]);

    const filed = await call('gyeonggi', 'ana', 'POST', '/projects', {
      title: 'Influenza-like illness across regions',
      purpose: 'research',
      tables: [{ name: 'condition', columns: ['code_code', 'onset_start'] }],
      endDate: new Date(clock.now().getTime() + 20 * 86_400_000).toISOString().slice(0, 10),
      members: [],
      ethicsApproval: 'IRB-2026-0410',
      dataUseAgreement: true,
      hubs: ['gyeonggi', 'gwangju'],
    });
    expect(filed.statusCode, filed.body).toBe(201);
    const ili = filed.json().id as string;
    const review = (hub: string) =>
      call(hub, 'steward', 'POST', `/projects/${ili}/review`, { decision: 'approve', comment: 'ok' });
    expect((await review('gyeonggi')).statusCode).toBe(200);
    const both = { hubs: ['gyeonggi', 'gwangju'], model: 'baseline' };
    const early = await forecast('ana', ili, both);
    expect([early.statusCode, codeOf(early)]).toEqual([403, 'PROJECT_NOT_APPROVED']);

    // On the hosting hub: the series counted for the project's purpose, the round computed from what the gate released.
    const here = await forecast('ana', ili, { model: 'baseline' });
    expect(here.statusCode, here.body).toBe(200);
    type Answer = {
      purpose: string;
      hubs: string[];
      target: string;
      quantileLevels: number[];
      forecasts: { location: string; horizon: number; quantiles: number[] }[];
      failed: { hub: string }[];
      complete: boolean;
    };
    const mine = here.json() as Answer;
    expect([mine.purpose, mine.hubs, mine.target, mine.complete]).toEqual([
      'research',
      ['gyeonggi'],
      'wk inc ili',
      true,
    ]);
    expect(new Set(mine.forecasts.map((f) => f.location))).toEqual(new Set(['gyeonggi']));
    for (const f of mine.forecasts) expect(f.quantiles).toHaveLength(mine.quantileLevels.length);

    // Across both once gwangju approved: gwangju checks the project and releases its own series for its purpose.
    expect((await review('gwangju')).statusCode).toBe(200);
    await call('gyeonggi', 'ana', 'GET', `/projects/${ili}`); // the origin learns gwangju's decision
    const res = await forecast('ana', ili, both);
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json() as Answer;
    expect([answer.failed, answer.complete]).toEqual([[], true]);
    expect(new Set(answer.forecasts.map((f) => f.location))).toEqual(new Set(['gyeonggi', 'gwangju']));
    expect(res.body).not.toContain('patient_key');
    const peerAudit = (await gwangju.audit.recent(30)).map((e) => `${e.actor} ${e.action} ${e.outcome}`);
    expect(peerAudit).toContain('peer:gyeonggi project-authorize success');
    // Each hub records the run as the project's use of the people its series counted (a citizen sees it, mydata/).
    for (const h of [gyeonggi, gwangju]) {
      const uses = await h.db.all<{ kind: string }>('SELECT kind FROM project_use WHERE project_id = $1', [ili]);
      expect(uses.map((u) => u.kind)).toContain('forecast');
    }

    // Someone outside the project is refused; the refusal is audited.
    const stranger = await forecast('bo', ili, {});
    expect([stranger.statusCode, codeOf(stranger)]).toEqual([403, 'PROJECT_NOT_MEMBER']);

    // It leaves only through the airlock, which has the hub compute it again: built from released series, it passes.
    const out = await call('gyeonggi', 'ana', 'POST', `/projects/${ili}/outputs`, {
      kind: 'forecast',
      title: 'ILI forecast, two regions',
      forecast: both,
      source: { analysis: 'forecast' },
    });
    expect(out.statusCode, out.body).toBe(201);
    expect(out.json()).toMatchObject({ kind: 'forecast', status: 'released', rules: ['released-series'] });
    const file = await call('gyeonggi', 'ana', 'GET', `/outputs/${out.json().id}/download`);
    expect(file.statusCode).toBe(200);
    const released = file.json() as Answer;
    expect([released.purpose, released.hubs]).toEqual(['research', ['gyeonggi', 'gwangju']]);
    expect(released.forecasts.map((f) => [f.location, f.horizon])).toEqual(
      answer.forecasts.map((f) => [f.location, f.horizon]),
    );
    await vi.waitFor(async () => {
      const audit = (await gyeonggi.audit.recent(40)).map((e) => `${e.actor} ${e.action} ${e.outcome}`);
      expect(audit).toContain('ana project-forecast-run success');
      expect(audit).toContain('bo project-authorize denied');
      expect(audit).toContain('ana output-request success');
    });

    // Past its end date the project's forecasts end by themselves (last: the clock stays moved).
    clock.advance(21 * 86_400_000);
    const ended = await forecast('ana', ili, {});
    expect([ended.statusCode, codeOf(ended)]).toEqual([403, 'PROJECT_EXPIRED']);
  });
});
