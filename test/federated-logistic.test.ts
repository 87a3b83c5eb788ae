import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { CohortFederation } from '../src/cohort/index.js';
import { isHealthmeshError, silentLogger } from '../src/core/index.js';
import type { Federation } from '../src/federation/index.js';
import { fanOut } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import type { FeatureMatrix } from '../src/models/index.js';
import {
  applyFeaturePlan,
  buildHubFeatures,
  featureMatrix,
  fitFeaturePlan,
  fitFederatedLogistic,
  fitLogistic,
  hubModelRegistry,
  ModelFederation,
  NEWTON_ROUNDS_PER_DAY,
  validateFeatureSpec,
} from '../src/models/index.js';
import type { RegionId } from '../src/synth/index.js';
import { generateRegion } from '../src/synth/index.js';
import { captureIo } from './support/cli-capture.js';
import { HTN_BASE_FEATURES, htnFeatureSpec } from './support/htn-spec.js';
import { peerEachOther, serveFederated } from './support/peer-servers.js';
import { ingestOptions } from './support/temp-hub.js';

const REGIONS: RegionId[] = ['gwangju', 'gyeonggi', 'busan'];
const SPEC = {
  ...htnFeatureSpec(),
  features: [...HTN_BASE_FEATURES, { name: 'bmi', kind: 'mean', conceptSet: 'bmi', window: { end: 0 } }],
};

function concat(parts: FeatureMatrix[]): FeatureMatrix {
  const values = new Float64Array(parts.reduce((n, m) => n + m.values.length, 0));
  const outcome = new Uint8Array(parts.reduce((n, m) => n + m.rows, 0));
  let v = 0;
  let r = 0;
  for (const m of parts) {
    values.set(m.values, v);
    outcome.set(m.outcome!, r);
    v += m.values.length;
    r += m.rows;
  }
  return featureMatrix(parts[0]!.names, values, outcome);
}

const CARD = { title: 'Hypertension, 5-year risk', intendedUse: 'testing', limitations: ['synthetic data'] };

describe('federated logistic regression across three hubs over signed HTTP', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-fed-glm-'));
  const hubs = new Map<string, Hub>();
  const adminTokens = new Map<string, string>();
  const servers = new Map<string, { app: FastifyInstance; federation: Federation; models: ModelFederation }>();

  beforeAll(async () => {
    for (const region of REGIONS) {
      const out = join(root, `synth-${region}`);
      generateRegion({ region, people: 400, seed: 'federated-glm', out });
      const dir = join(root, region);
      adminTokens.set(region, (await initHub(dir, { name: region, logger: silentLogger() })).adminToken);
      const hub = await openHub(dir, { logger: silentLogger() });
      hubs.set(region, hub);
      const files = readdirSync(out)
        .filter((f) => f.endsWith('.ndjson'))
        .map((f) => join(out, f));
      await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: `synth-${region}` }));
    }
    for (const [name, hub] of hubs) {
      const cohorts = new CohortFederation(hub);
      const models = new ModelFederation(hub);
      servers.set(name, {
        ...(await serveFederated(hub, models.register(cohorts.register()), { cohorts, models })),
        models,
      });
    }
    peerEachOther(servers);
    project = await fileProject({ busan: 'approve' });
    deniedAtBusan = await fileProject({ busan: 'deny' });
    noSexAtBusan = await fileProject(
      {},
      { busan: SCOPE.map((t) => (t.name === 'patient' ? { ...t, columns: ['birth_date'] } : t)) },
    );
  }, 600_000);

  let project: string;
  let deniedAtBusan: string;
  /** Approved at busan without `patient.gender` (the steward narrowed the scope); approved whole elsewhere. */
  let noSexAtBusan: string;
  /** What SPEC reads (`specTables`, `specVariables`): the scope the projects ask for. */
  const SCOPE = [
    { name: 'patient', columns: ['birth_date', 'gender'] },
    { name: 'observation', columns: ['code_code', 'value_quantity'] },
    { name: 'condition', columns: ['code_code'] },
  ];
  /**
   * A project filed at gyeonggi naming the three hubs, received by the peers as `project.file` would, decided by
   * each steward (approved unless `decisions` says otherwise), and each decision learned back at gyeonggi.
   */
  async function fileProject(
    decisions: Partial<Record<RegionId, 'approve' | 'deny'>>,
    narrowed: Partial<Record<RegionId, { name: string; columns: string[] }[]>> = {},
  ): Promise<string> {
    const origin = hubs.get('gyeonggi')!;
    const p = await origin.projects.file(
      { name: 'glm-analyst', role: 'researcher' },
      {
        title: 'Hypertension risk across regions',
        purpose: 'ai-development',
        tables: SCOPE,
        endDate: new Date(origin.clock.now().getTime() + 30 * 86_400_000).toISOString().slice(0, 10),
        ethicsApproval: 'IRB-20',
        dataUseAgreement: true,
        hubs: [...REGIONS],
      },
      ['gwangju', 'busan'],
    );
    const forwarded = await origin.projects.forwarded(p.id);
    for (const region of REGIONS) {
      const hub = hubs.get(region)!;
      if (region !== 'gyeonggi') await hub.projects.receive('gyeonggi', forwarded);
      const decision = decisions[region] ?? 'approve';
      const tables = narrowed[region];
      await hub.projects.review({ name: 'steward', role: 'steward' }, p.id, {
        decision,
        comment: 'decided',
        ...(tables !== undefined && { tables }),
      });
      if (region !== 'gyeonggi')
        await origin.projects.recordPeerStatus(p.id, region, await hub.projects.statusFor('gyeonggi', p.id));
    }
    return p.id;
  }

  afterAll(async () => {
    for (const s of servers.values()) await s.app.close().catch(() => undefined);
    for (const hub of hubs.values()) await hub.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  /** The pooled reference: every hub's rows in one matrix, filled with the pooled means, fitted in one place. */
  let pooledOnce: ReturnType<typeof pooledReference> | undefined;
  async function pooledReference() {
    const spec = validateFeatureSpec(SPEC);
    const raws = [];
    for (const region of REGIONS) raws.push((await buildHubFeatures(hubs.get(region)!, spec)).matrix);
    const raw = concat(raws);
    const plan = fitFeaturePlan(spec, raw);
    return { raws, raw, plan, pooled: fitLogistic(applyFeaturePlan(plan, raw)) };
  }
  const pooled = () => (pooledOnce ??= pooledReference());

  it('equals the pooled fit to 1e-8 within 10 Newton rounds, exchanging only gradients and information', async () => {
    const c = servers.get('gyeonggi')!;
    const fit = await fitFederatedLogistic(c.federation, c.models, 'gyeonggi', REGIONS, SPEC, { l2: 0, project });
    const { raw, plan, pooled: reference } = await pooled();
    for (const [k, v] of Object.entries(plan.fill)) expect(Math.abs(fit.plan.fill[k]! - v)).toBeLessThan(1e-9);
    const newtonRounds = fit.rounds.length - 1; // the first round gathers the moments for the fill
    expect(newtonRounds).toBeLessThanOrEqual(10);
    let worst = 0;
    reference.coefficients.forEach((b, j) => {
      worst = Math.max(worst, Math.abs(b - fit.model.coefficients[j]!));
    });
    expect(worst).toBeLessThan(1e-8);
    expect(fit.model.diagnostics.rows).toBe(raw.rows);
    for (const r of fit.rounds) expect([...r.hubs].sort()).toEqual([...REGIONS].sort());
    // Each hub entered the population into its release log before any exact sum left (differencing protection).
    for (const region of REGIONS) {
      const [logged] = await hubs
        .get(region)!
        .db.all<{ n: unknown }>("SELECT COUNT(*) AS n FROM disclosure_release WHERE family = 'model.glm/population'");
      expect(Number(logged?.n)).toBeGreaterThanOrEqual(1);
    }
    console.log(
      `federated GLM over 3 hubs (${raw.rows} rows): ${newtonRounds} Newton rounds, max |Δβ| vs pooled ${worst.toExponential(2)}; ms per round: ${fit.rounds.map((r) => r.ms.toFixed(0)).join(', ')} (round 0 = moments and each hub's features)`,
    );
  }, 300_000);

  it('fits across three hubs when a user starts it from the CLI or the API, and registers it with its hubs and rounds', async () => {
    const c = servers.get('gyeonggi')!;
    const coordinator = hubs.get('gyeonggi')!;
    const training = {
      model: 'htn-federated',
      ...SPEC,
      learner: { kind: 'logistic' },
      card: { title: 'Hypertension, 5-year risk, three hubs', intendedUse: 'testing', limitations: ['synthetic data'] },
    };
    const file = join(root, 'htn-federated.json');
    writeFileSync(file, JSON.stringify(training));
    const cli = captureIo();
    const argv = [
      'model',
      'train',
      file,
      '--dir',
      join(root, 'gyeonggi'),
      '--hubs',
      REGIONS.join(','),
      '--project',
      project,
    ];
    expect(await main([...argv, '--url', c.app.listeningOrigin, '--json'], cli.io), cli.err).toBe(0);
    const answer = JSON.parse(cli.out) as { id: string; version: number; coefficients: number[] };
    const { raws, raw, pooled: reference } = await pooled();
    const worst = Math.max(...reference.coefficients.map((b, j) => Math.abs(b - answer.coefficients[j]!)));
    expect(worst).toBeLessThan(1e-8);
    // Registered on the coordinating hub, with the stored plan, its hubs, its rounds and each hub's released counts.
    const registry = await hubModelRegistry(coordinator);
    // The project's model: not among the hub's own, listed with every model to the hub's operator.
    expect((await registry.list()).map((m) => m.id)).not.toContain('htn-federated');
    expect((await registry.list('all')).map((m) => m.id)).toContain('htn-federated');
    expect((await registry.list({ projects: [project] })).map((m) => m.id)).toContain('htn-federated');
    const m = await registry.get('htn-federated');
    expect(m.version).toBe(answer.version);
    expect(m.plan?.spec.features.map((f) => f.name)).toEqual(['age', 'male', 'sbp', 'bmi']);
    expect(m.card.trainingData.rows).toBe(raw.rows);
    const f = m.card.federation!;
    expect([...f.hubs].sort()).toEqual([...REGIONS].sort());
    expect(f.project).toBe(project);
    expect(f.purpose).toBe('ai-development');
    expect(f.rounds[0]!.operation).toBe('model.glm-moments');
    expect(f.rounds.length).toBeGreaterThanOrEqual(2);
    for (const r of f.rounds) expect([...r.hubs].sort()).toEqual([...REGIONS].sort());
    const gate = coordinator.gate;
    REGIONS.forEach((region, k) => {
      let events = 0;
      for (let i = 0; i < raws[k]!.rows; i++) events += raws[k]!.outcome![i]!;
      for (const r of f.rounds) {
        const a = r.answers.find((x) => x.hub === region)!;
        expect(a.rows).toBe(gate.count(raws[k]!.rows).value);
        if (r.operation === 'model.glm-moments') expect(a.events).toBe(gate.count(events).value);
        expect(r.ms).toBeGreaterThanOrEqual(0);
      }
    });
    // The same through the API, one request: the next version, the same coefficients.
    const api = await c.app.inject({
      method: 'POST',
      url: '/models/$federated-train',
      headers: { authorization: `Bearer ${adminTokens.get('gyeonggi')}` },
      payload: { spec: training, hubs: REGIONS, project },
    });
    expect(api.statusCode, api.body).toBe(200);
    const viaApi = api.json() as { version: number; coefficients: number[] };
    expect(viaApi.version).toBe(answer.version + 1);
    expect(Math.max(...viaApi.coefficients.map((b, j) => Math.abs(b - answer.coefficients[j]!)))).toBeLessThan(1e-12);
    // The project's analyst reads the card as released: the rounds and hubs, each hub's rows as a released count.
    const researcher = await coordinator.tokens.create('glm-analyst', 'researcher');
    const card = await c.app.inject({
      url: '/models/htn-federated',
      headers: { authorization: `Bearer ${researcher}` },
    });
    const released = (card.json() as { card: { federation: typeof f } }).card.federation;
    expect(released.rounds).toHaveLength(f.rounds.length);
    expect(released.rounds[0]!.answers).toEqual(f.rounds[0]!.answers);
    // Each hub recorded the fit as the project's use of the people whose rows it read, once per fit (CLI and API):
    // a citizen of that population sees it (GET /me/uses), someone outside it does not.
    for (const region of ['gwangju', 'gyeonggi'] as const) {
      const hub = hubs.get(region)!;
      const rows = await buildHubFeatures(hub, validateFeatureSpec(SPEC), { purpose: 'ai-development' });
      const inside = rows.patientKeys[0]!;
      const uses = await hub.projectUses.including([inside], []);
      // gwangju also answered the library fit above, which names the project too.
      const fits = uses.filter((u) => u.projectId === project && u.kind === 'model-training');
      expect(fits).toHaveLength(region === 'gwangju' ? 3 : 2);
      const everyone = (await hub.db.all<{ k: string }>('SELECT patient_key AS k FROM project_use_person')).map(
        (r) => r.k,
      );
      expect(new Set(everyone)).toEqual(new Set(rows.patientKeys));
      const outside = hub.pseudonymiser.patientKey(`synth-${region}`, 'not-a-resident');
      expect(await hub.projectUses.including([outside], [])).toEqual([]);
    }
  }, 300_000);

  it('answers no Newton round that is a query: a wrong or non-finite beta, a saturating beta, past the daily budget', async () => {
    const busan = servers.get('busan')!.models;
    const moments = (await busan.moments(SPEC, 'peer:prober')).value;
    const names = ['age', 'male', 'sbp', 'bmi'];
    const fill = Object.fromEntries(names.map((n, j) => [n, moments.sums[j]! / moments.recorded[j]!]));
    const zero = new Array<number>(names.length + 2).fill(0); // intercept, the four features, sbp_missing
    const code = async (beta: unknown) => {
      const e = await busan.newton(SPEC, fill, beta, 'peer:prober').then(
        () => 'answered',
        (err: unknown) => (isHealthmeshError(err) ? `${err.code}: ${err.message}` : String(err)),
      );
      return e;
    };
    expect(await code(zero)).toBe('answered');
    expect(await code(zero.slice(1))).toMatch(/MODEL_FEDERATION_REFUSED: beta has 5 coefficients/);
    expect(await code([Number.NaN, ...zero.slice(1)])).toMatch(/MODEL_FEDERATION_REFUSED: a Newton round needs/);
    // "How many people are older than 60?": a steep step in age pins every row's probability to 0 or 1.
    const step = [-1e4 * 60, 1e4, 0, 0, 0, 0];
    const stepped = await code(step);
    expect(stepped).toMatch(/MODEL_FEDERATION_REFUSED: busan: at this beta as many rows as/);
    expect(stepped).not.toMatch(/\d+ rows/); // the refusal names the rule, not how many
    // The budget counts every round asked today with a well-formed beta, answered or not (three so far: zero,
    // the short one, the step); another requester has its own.
    for (let i = 3; i < NEWTON_ROUNDS_PER_DAY; i++) expect(await code(zero)).toBe('answered');
    expect(await code(zero)).toMatch(/MODEL_FEDERATION_REFUSED: busan: peer:prober has asked 40 Newton rounds/);
    expect((await busan.newton(SPEC, fill, zero, 'peer:other')).value).toMatchObject({ size: 6 });
    // The budget is the hub's, not the process's: a federation opened afresh on the hub (as after a restart) keeps it.
    const restarted = new ModelFederation(hubs.get('busan')!);
    await expect(restarted.newton(SPEC, fill, zero, 'peer:prober')).rejects.toMatchObject({
      code: 'MODEL_FEDERATION_REFUSED',
      message: expect.stringMatching(/peer:prober has asked 40 Newton rounds/),
    });
  }, 120_000);

  it('refuses, with no number, moments over a feature window widened until a few more people contribute', async () => {
    // Issue 14: the spec's rows are unchanged, but widening one feature's window by a few days adds a person or
    // two to its contributors, and the exact sum moves by their values.
    const hub = hubs.get('gwangju')!;
    const spec = (start: number) => ({
      ...SPEC,
      features: [
        { name: 'age', kind: 'age' },
        { name: 'sbp', kind: 'mean', conceptSet: 'sbp', window: { start: -start, end: 0 }, missing: 'indicator' },
      ],
    });
    // The test's oracle: each window's contributors, counted from the hub's own feature rows.
    const contributors = async (start: number) => {
      const m = (await buildHubFeatures(hub, validateFeatureSpec(spec(start)))).matrix;
      let n = 0;
      for (let i = 0; i < m.rows; i++) if (!Number.isNaN(m.values[i * 2 + 1]!)) n++;
      return n;
    };
    // Two windows whose contributors differ by 1 … 9, by bisection between one year and ten.
    let lo = 365;
    let hi = 3650;
    const cLo = await contributors(lo);
    expect((await contributors(hi)) - cLo).toBeGreaterThanOrEqual(10);
    let found: [number, number] | undefined;
    while (found === undefined && hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const d = (await contributors(mid)) - cLo;
      if (d >= 1 && d < 10) found = [lo, mid];
      else if (d >= 10) hi = mid;
      else lo = mid;
    }
    found ??= [lo, hi];
    const models = new ModelFederation(hub);
    const first = (await models.moments(spec(found[0]), 'peer:widener')).value;
    expect(first.recorded[1]).toBe(cLo);
    const refused = await models.moments(spec(found[1]), 'peer:widener').catch((e: unknown) => e);
    expect(isHealthmeshError(refused) && refused.code).toBe('DISCLOSURE_DIFFERENCING');
    expect((refused as Error).message).not.toMatch(/\d/);
    // The same window asked again is a repeat and answered.
    expect((await models.moments(spec(found[0]), 'peer:widener')).value.sums).toEqual(first.sums);
  }, 300_000);

  it('stops when a hub refuses a round under its disclosure threshold, naming the hub', async () => {
    const c = servers.get('gyeonggi')!;
    const tiny = { ...SPEC, population: { indexDate: '2021-01-01', age: { min: 90 } } };
    const refused = await fitFederatedLogistic(c.federation, c.models, 'gyeonggi', ['gwangju', 'busan'], tiny, {
      project,
    }).catch((e: unknown) => e);
    expect(isHealthmeshError(refused) && refused.code).toBe('MODEL_FEDERATION_REFUSED');
    expect((refused as Error).message).toMatch(
      /(gwangju|busan) did not answer model\.glm-moments: refused MODEL_FEDERATION_REFUSED/,
    );
    const audit = await hubs
      .get('busan')!
      .db.all<{ outcome: string }>(
        "SELECT outcome FROM audit_log WHERE action LIKE '%model.glm-moments%' OR target LIKE '%model.glm-moments%'",
      );
    expect(audit.length).toBeGreaterThan(0);
  }, 120_000);
  it('runs every round only inside a project each hub approved: a hub that denied it refuses, naming the code', async () => {
    const c = servers.get('gyeonggi')!;
    const attempt = (options: { project?: string }) =>
      fitFederatedLogistic(c.federation, c.models, 'gyeonggi', REGIONS, SPEC, options).catch((e: unknown) => e);
    // busan's steward denied the project: busan refuses the first round, and the fit stops naming it.
    const denied = (await attempt({ project: deniedAtBusan })) as Error;
    expect(isHealthmeshError(denied) && denied.code).toBe('MODEL_FEDERATION_REFUSED');
    expect(denied.message).toMatch(/^busan did not answer model\.glm-moments: refused PROJECT_NOT_APPROVED/);
    // No project: every peer refuses.
    const none = (await attempt({})) as Error;
    expect(none.message).toMatch(/did not answer model\.glm-moments: refused MODEL_NO_PROJECT/);
    const denials = await hubs
      .get('busan')!
      .db.all<{ outcome: string }>(
        `SELECT outcome FROM audit_log WHERE action = 'project-authorize' AND target = 'project:${deniedAtBusan}'`,
      );
    expect(denials.map((d) => d.outcome)).toContain('denied');
    // The coordinator knows busan's decision, so the API refuses before any round; the CLI needs --project.
    const api = await c.app.inject({
      method: 'POST',
      url: '/models/$federated-train',
      headers: { authorization: `Bearer ${adminTokens.get('gyeonggi')}` },
      payload: { spec: { model: 'htn-denied', ...SPEC, card: CARD }, hubs: REGIONS, project: deniedAtBusan },
    });
    expect(api.statusCode).toBe(403);
    expect(api.body).toContain('PROJECT_NOT_APPROVED');
    const cli = captureIo();
    const file = join(root, 'htn-no-project.json');
    writeFileSync(file, JSON.stringify({ model: 'htn-np', ...SPEC, card: CARD }));
    expect(await main(['model', 'train', file, '--dir', join(root, 'gyeonggi'), '--hubs', 'busan'], cli.io)).not.toBe(
      0,
    );
    expect(cli.err).toContain('MODEL_NO_PROJECT');
  }, 120_000);

  it("checks at each peer the spec's variables and tables against the scope it approved, whatever the coordinator checked", async () => {
    // A coordinator that skips its own check: the round goes straight to busan, which approved no `patient.gender`.
    const ask = (spec: object, op = 'model.glm-moments') =>
      fanOut(
        servers.get('gyeonggi')!.federation.client,
        ['busan'],
        op,
        { spec, project: noSexAtBusan },
        {
          timeoutMs: 60_000,
        },
      );
    const sex = await ask(SPEC);
    expect(sex.failed.map((f) => [f.hub, f.remoteCode])).toEqual([['busan', 'PROJECT_OUT_OF_SCOPE']]);
    expect(sex.failed[0]!.message).toContain(`variable 'patient.gender' is outside project ${noSexAtBusan}`);
    const newton = await ask(SPEC, 'model.glm-newton');
    expect(newton.failed.map((f) => f.remoteCode)).toEqual(['PROJECT_OUT_OF_SCOPE']);
    // A cohort-defined population is checked by the tables it reads: procedures were never asked for.
    const byCohort = {
      ...SPEC,
      features: SPEC.features.filter((f) => f.kind !== 'sex'),
      population: { cohort: { name: 'operated', entry: { domain: 'procedure', conceptSet: 'htn' } } },
    };
    const cohort = await ask(byCohort);
    expect(cohort.failed[0]!.message).toContain(`table 'procedure' is outside project ${noSexAtBusan}`);
    const refusals = await hubs
      .get('busan')!
      .db.all<{ outcome: string; detail: string }>(
        `SELECT outcome, CAST(detail AS VARCHAR) AS detail FROM audit_log WHERE action = 'project-authorize' AND target = 'project:${noSexAtBusan}'`,
      );
    expect(refusals.filter((r) => r.outcome === 'denied' && r.detail.includes('PROJECT_OUT_OF_SCOPE'))).toHaveLength(3);
    // The same spec without sex is inside busan's scope: busan answers its moments, and the fit runs at every hub.
    const inside = { ...SPEC, features: SPEC.features.filter((f) => f.kind !== 'sex') };
    const moments = await ask(inside);
    expect(moments.failed).toEqual([]);
    const c = servers.get('gyeonggi')!;
    const fit = await fitFederatedLogistic(c.federation, c.models, 'gyeonggi', REGIONS, inside, {
      project: noSexAtBusan,
    });
    expect(fit.model.features).toEqual(['age', 'sbp', 'sbp_missing', 'bmi']);
  }, 120_000);

  it("computes a spec's features again after an ingest once a fit's reuse window has passed", async () => {
    const hub = hubs.get('gwangju')!;
    const models = new ModelFederation(hub, { reuseMs: 0 });
    const before = (await models.moments(SPEC, 'peer:refresh')).value;
    expect((await models.moments(SPEC, 'peer:refresh')).value.rows).toBe(before.rows); // unchanged store: same rows
    const ingestMore = async (people: number, seed: string) => {
      const out = join(root, `synth-${seed}`);
      generateRegion({ region: 'gwangju', people, seed, out });
      const files = readdirSync(out)
        .filter((f) => f.endsWith('.ndjson'))
        .map((f) => join(out, f));
      await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: `synth-${seed}` }));
    };
    // A few more people: the rows are computed again, and the release log refuses a population that moved by
    // fewer events than the threshold (its difference from the first would reveal them).
    await ingestMore(200, 'glm-few');
    await expect(models.moments(SPEC, 'peer:refresh')).rejects.toMatchObject({ code: 'DISCLOSURE_DIFFERENCING' });
    await ingestMore(500, 'glm-many');
    const after = (await models.moments(SPEC, 'peer:refresh')).value;
    expect(after.rows).toBeGreaterThan(before.rows + 10);
  }, 300_000);
});
