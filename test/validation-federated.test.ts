import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultConfig } from '../src/core/index.js';
import type { Federation } from '../src/federation/index.js';
import { fanOut, OperationRegistry } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { applyFeaturePlan, buildHubFeatures, calibrationFit, rocAnalysis } from '../src/models/index.js';
import type { ValidationManifest } from '../src/validation/index.js';
import {
  CALIBRATION_ROUNDS_PER_DAY,
  hubSubmissions,
  integratedCalibrationIndex,
  manifestPlan,
  manifestProjectTables,
  releaseHubValidation,
  VALIDATION_PURPOSE,
  ValidationFederation,
} from '../src/validation/index.js';
import { acmeManifest } from './support/acme-model.js';
import { peerEachOther, serveFederated } from './support/peer-servers.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';
import { thirdPartyLogistic } from './support/third-party-onnx.js';
import { writeValidationPopulation } from './support/validation-population.js';

/**
 * Issue 17 item 3 across hubs: the demonstration hub (busan) sends a third party's ONNX model to two peers by the
 * signed `validation.score`; each scores its own population in the sandbox and releases its report and a score
 * histogram through its gate; busan pools them into one signed report. Issue 17's project check: a submission and
 * each peer's part run only inside a project approved for AI validation.
 */

const HUBS = ['busan', 'gwangju', 'gyeonggi'] as const;
const PEOPLE = { busan: 600, gwangju: 500, gyeonggi: 550 } as const;
const WEIGHTS = [0.045, 0.25, 0.02, -0.3, 0.06];
const INTERCEPT = -7.2;
const THRESHOLD = 10;

/** The ACME manifest (support/acme-model.ts) with the developer's full claims, in `projectId` when given. */
function manifest(projectId: string | undefined): ValidationManifest {
  return {
    ...structuredClone(acmeManifest),
    ...(projectId !== undefined && { projectId }),
    reportedPerformance: { auroc: 0.74, aurocCi: [0.72, 0.76], calibrationIntercept: 0, calibrationSlope: 1 },
    trainingData: { ...structuredClone(acmeManifest.trainingData), events: 3000 },
    // At 0.05 nearly everyone is positive: each hub withholds it (too few false negatives), the others it releases.
    thresholds: [0.05, 0.3, 0.5],
  };
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const endDate = () => new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);

describe('validating a third party model across three hubs', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-fedval-'));
  const hubs = new Map<string, Hub>();
  const cleanups: (() => Promise<void>)[] = [];
  const servers = new Map<string, { app: FastifyInstance; federation: Federation }>();
  /** Every body a peer answered `validation.score` with, as it left the peer. */
  const released: { hub: string; op: string; body: string }[] = [];
  let developer: string;
  let validator: string;
  let project: string;
  let researchProject: string;

  beforeAll(async () => {
    const base = defaultConfig('busan');
    // Twelve significant digits and no rounding, so pooled figures compare with the rows' (the threshold stays).
    const privacy = {
      ...base.privacy,
      disclosure: { ...base.privacy.disclosure, threshold: THRESHOLD, rounding: 1, precision: 12 },
    };
    await Promise.all(
      HUBS.map(async (name, k) => {
        const input = join(root, `synth-${name}`);
        rmSync(input, { recursive: true, force: true });
        const { mkdirSync } = await import('node:fs');
        mkdirSync(input, { recursive: true });
        writeValidationPopulation(input, PEOPLE[name], 10, 100 + k);
        const env = await tempHub(name, { role: name === 'busan' ? 'demonstration' : 'data', privacy });
        cleanups.push(env.cleanup);
        hubs.set(name, env.hub);
        const files = readdirSync(input).map((f) => join(input, f));
        await env.hub.ingest.ingestPaths(files, ingestOptions(env.hub, { source: `synth-${name}` }));
      }),
    );
    const busan = hubs.get('busan')!;
    developer = await busan.tokens.create('acme', 'developer');
    validator = await busan.tokens.create('val', 'validator');
    // Projects filed at `origin` naming the others, received by them as `project.file` would, approved by each
    // steward. A demonstration hub files ai-validation projects only: the research one is filed at gwangju.
    const file = async (purpose: string, origin: (typeof HUBS)[number] = 'busan') => {
      const p = await hubs.get(origin)!.projects.file(
        { name: 'acme', role: 'developer' },
        {
          title: `ACME ${purpose}`,
          purpose,
          tables: manifestProjectTables(manifest(undefined)),
          endDate: endDate(),
          ethicsApproval: 'IRB-17',
          dataUseAgreement: true,
          hubs: [...HUBS],
        },
        HUBS.filter((h) => h !== origin),
      );
      const forwarded = await hubs.get(origin)!.projects.forwarded(p.id);
      for (const name of HUBS) {
        const hub = hubs.get(name)!;
        if (name !== origin) await hub.projects.receive(origin, forwarded);
        await hub.projects.review({ name: 'steward', role: 'steward' }, p.id, { decision: 'approve', comment: 'ok' });
      }
      return p.id;
    };
    project = await file(VALIDATION_PURPOSE);
    researchProject = await file('research', 'gwangju');
    for (const name of HUBS) {
      const hub = hubs.get(name)!;
      const validation = new ValidationFederation(hub).withProjects({
        authorizePeer: (peer, id, scope) =>
          hub.projects.authorizePeer(peer, id, { ...scope, purpose: VALIDATION_PURPOSE }),
      });
      // What each hub's part holds as it leaves: every answer to `validation.score`, as the transport sends it.
      const operations = new OperationRegistry();
      const register = operations.register.bind(operations);
      operations.register = (op, allow, handler) =>
        register(op, allow, async (request) => {
          const out = await handler(request);
          released.push({ hub: name, op, body: JSON.stringify(out) });
          return out;
        });
      const served = await serveFederated(hub, validation.register(operations), { validation });
      servers.set(name, served);
    }
    peerEachOther(servers);
  }, 120_000);

  afterAll(async () => {
    for (const s of servers.values()) await s.app.close().catch(() => undefined);
    for (const c of cleanups) await c().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  const post = (url: string, token: string, payload: unknown) =>
    servers
      .get('busan')!
      .app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload: payload as object });
  /** Each named hub's rows, filled as the manifest says and scored by onnxruntime in this process: pooled and per hub. */
  const scoredRows = async (names: readonly string[], model: Uint8Array) => {
    const m = manifest(project);
    const session = await ort.InferenceSession.create(model);
    const all: { p: number[]; y: number[] } = { p: [], y: [] };
    const byHub = new Map<string, { auroc: number; intercept: number; slope: number; n: number }>();
    for (const name of names) {
      const rows = await buildHubFeatures(hubs.get(name)!, m.featureSpec, { purpose: VALIDATION_PURPOSE });
      const x = applyFeaturePlan(manifestPlan(m), rows.matrix);
      const out = await session.run({
        x: new ort.Tensor('float32', Float32Array.from(x.values), [x.rows, x.names.length]),
      });
      const p = Array.from(out.risk!.data as Float32Array);
      const y = Array.from(rows.matrix.outcome!);
      all.p.push(...p);
      all.y.push(...y);
      byHub.set(name, { auroc: rocAnalysis(p, y).auroc, ...calibrationFit(p, y), n: rows.matrix.rows });
    }
    await session.release();
    return { all, byHub };
  };
  const codeOf = (body: string) =>
    (JSON.parse(body) as { issue?: { details?: { coding?: { code?: string }[] } }[] }).issue?.[0]?.details?.coding?.[0]
      ?.code;

  it('refuses a submission outside an approved ai-validation project', async () => {
    const model = b64(thirdPartyLogistic(WEIGHTS, INTERCEPT));
    const none = await post('/validation/submissions', developer, { manifest: manifest(undefined), model });
    expect([none.statusCode, codeOf(none.body)]).toEqual([400, 'VALIDATION_NO_PROJECT']);
    const unknown = await post('/validation/submissions', developer, {
      manifest: manifest('p-0000000000000000'),
      model,
    });
    expect(codeOf(unknown.body)).toBe('PROJECT_NOT_FOUND');
    const research = await post('/validation/submissions', developer, { manifest: manifest(researchProject), model });
    expect([research.statusCode, codeOf(research.body)]).toEqual([403, 'PROJECT_OUT_OF_SCOPE']);
    const stranger = await hubs.get('busan')!.tokens.create('stranger', 'developer');
    const notMember = await post('/validation/submissions', stranger, { manifest: manifest(project), model });
    expect(codeOf(notMember.body)).toBe('PROJECT_NOT_MEMBER');
  });

  it('pools the three hubs into one signed report whose figures match the rows, releasing no row or small count', async () => {
    const model = thirdPartyLogistic(WEIGHTS, INTERCEPT);
    const sub = await post('/validation/submissions', developer, { manifest: manifest(project), model: b64(model) });
    expect(sub.statusCode, sub.body).toBe(201);
    const { id } = sub.json() as { id: string };
    const t0 = performance.now();
    const run = await post(`/validation/submissions/${id}/validate`, validator, { hubs: [...HUBS] });
    const runMs = performance.now() - t0;
    expect(run.statusCode, run.body).toBe(200);
    type Group = { group: string; auroc: number; calibrationIntercept: number; calibrationSlope: number };
    const { report } = run.json() as {
      report: {
        federation: {
          tookPart: string[];
          failed: unknown[];
          aurocMaxError: number | null;
          aurocMethod: string;
          aurocFailed: unknown;
          calibrationRounds: number;
          calibrationFailed: unknown;
        };
        sampleSize: { n: number; events: number };
        discrimination: { auroc: number; aurocCi: [number, number] };
        calibration: {
          intercept: number;
          slope: number;
          ici: number;
          curve: {
            lower: number;
            upper: number;
            n: number | null;
            events: number | null;
            meanPredicted: number | null;
            observed: number | null;
            withheldAt: string[];
          }[];
        };
        netBenefit: { threshold: number; model: number | null; treatAll: number; withheldAt: string[] }[];
        hubs: Record<string, unknown>[];
        subgroups: Record<string, { groups: Group[]; aurocGap: number | null }>;
        missingData: { feature: string; missing: number | null }[];
        datasetShift: { feature: string }[];
        verdict: { summary: string };
      };
    };
    expect(report.federation.tookPart.sort()).toEqual([...HUBS].sort());
    expect(report.federation.failed).toEqual([]);

    // Directly: every hub's rows, filled as the manifest says, scored by onnxruntime in this process.
    const { all, byHub } = await scoredRows(HUBS, model);
    const roc = rocAnalysis(all.p, all.y);
    const cal = calibrationFit(all.p, all.y);

    // Each hub's own figures (the region subgroup) are exact on the twelve-digit grid.
    for (const g of report.subgroups.region!.groups) {
      const direct = byHub.get(g.group)!;
      expect(Math.abs(g.auroc - direct.auroc), g.group).toBeLessThan(1e-6);
      expect(Math.abs(g.calibrationIntercept - direct.intercept), g.group).toBeLessThan(1e-6);
      expect(Math.abs(g.calibrationSlope - direct.slope), g.group).toBeLessThan(1e-6);
    }
    expect(report.subgroups.region!.aurocGap).toBeGreaterThan(0);
    expect(Object.keys(report.subgroups)).toEqual(
      expect.arrayContaining(['region', 'sex at gwangju', 'ageBand at busan']),
    );
    expect(report.sampleSize.n).toBe(all.y.length);
    // Pooled: pairs across hubs counted by secure products that a third hub computes, so the AUROC is the rows'.
    expect(report.federation.aurocMethod, JSON.stringify(report.federation.aurocFailed)).toBe('secure-product');
    expect(report.federation.aurocFailed).toBeNull();
    const aurocError = Math.abs(report.discrimination.auroc - roc.auroc);
    expect(aurocError).toBeLessThanOrEqual(1e-6);
    expect(report.discrimination.aurocCi[0]).toBeLessThan(roc.auroc);
    expect(report.discrimination.aurocCi[1]).toBeGreaterThan(roc.auroc);
    // Calibration: fitted across the hubs by Newton rounds on their exact sums, so it is the fit on all rows.
    expect(report.federation.calibrationFailed).toBeNull();
    expect(report.federation.calibrationRounds).toBeGreaterThan(2);
    const intercept = Math.abs(report.calibration.intercept - cal.intercept);
    const slope = Math.abs(report.calibration.slope - cal.slope);
    const ici = Math.abs(report.calibration.ici - integratedCalibrationIndex(all.p, all.y)!);
    expect(intercept).toBeLessThan(1e-6);
    expect(slope).toBeLessThan(1e-6);
    expect(ici).toBeLessThan(1e-6);
    // Net benefit from the hubs' summed true and false positives: the rows' own wherever every hub released them.
    const m0 = manifest(project);
    expect(report.netBenefit.map((b) => b.threshold)).toEqual(m0.thresholds);
    let nbShown = 0;
    let nbError = 0;
    for (const b of report.netBenefit) {
      let tp = 0;
      let fp = 0;
      all.p.forEach((p, i) => {
        if (p >= b.threshold) all.y[i] === 1 ? tp++ : fp++;
      });
      const n = all.y.length;
      if (b.model === null) {
        expect(b.withheldAt.length, `threshold ${b.threshold}`).toBeGreaterThan(0);
        continue;
      }
      nbShown++;
      nbError = Math.max(nbError, Math.abs(b.model - (tp / n - (fp / n) * (b.threshold / (1 - b.threshold)))));
      expect(b.withheldAt).toEqual([]);
    }
    expect(report.netBenefit[0]!.withheldAt).toEqual([...HUBS]);
    expect(nbShown).toBe(2);
    expect(nbError).toBeLessThan(1e-9);
    // The curve on the grid edges every hub shares: each bin's people, events and mean risk are the rows'.
    const curve = report.calibration.curve;
    expect(curve[0]!.lower).toBe(0);
    expect(curve.at(-1)!.upper).toBe(1);
    expect(curve.length).toBeGreaterThan(1);
    let curveError = 0;
    for (const b of curve) {
      const last = b.upper === 1;
      const inBin = all.p.flatMap((p, i) => (p >= b.lower && (p < b.upper || last) ? [i] : []));
      expect(b.withheldAt).toEqual([]);
      expect([b.n, b.events]).toEqual([inBin.length, inBin.filter((i) => all.y[i] === 1).length]);
      const mean = inBin.reduce((s, i) => s + all.p[i]!, 0) / inBin.length;
      curveError = Math.max(curveError, Math.abs(b.meanPredicted! - mean), Math.abs(b.observed! - b.events! / b.n!));
    }
    expect(curveError).toBeLessThan(1e-9);
    expect(curve.reduce((s, b) => s + b.n!, 0)).toBe(all.y.length);
    // The peers' session handles stay out of the signed report.
    for (const part of report.hubs) expect(part).not.toHaveProperty('session');
    expect(report.missingData.find((f) => f.feature === 'sbp')?.missing).toBeGreaterThan(0);
    expect(report.datasetShift.map((d) => d.feature)).toContain('sbp at gyeonggi');
    expect(report.verdict.summary).toContain('busan, gwangju, gyeonggi');
    console.log(
      `pooled over ${all.y.length} people: AUROC ${report.discrimination.auroc} vs rows ${roc.auroc} (|Δ| ${aurocError.toExponential(2)}, ${report.federation.aurocMethod}, validation ${runMs.toFixed(0)} ms); calibration in ${report.federation.calibrationRounds} rounds: intercept |Δ| ${intercept.toExponential(2)}, slope |Δ| ${slope.toExponential(2)}, ICI |Δ| ${ici.toExponential(2)}; net benefit ${nbShown}/${report.netBenefit.length} thresholds, |Δ| ${nbError.toExponential(2)}; curve ${curve.length} bins, |Δ| ${curveError.toExponential(2)}`,
    );

    // What left the peers: no patient key, no identifier, and every count at or above the threshold.
    expect([...new Set(released.map((r) => r.hub))].sort()).toEqual(['gwangju', 'gyeonggi']);
    const keys: string[] = [];
    for (const name of HUBS) {
      const rows = await hubs.get(name)!.db.all<{ k: string }>('SELECT DISTINCT patient_key AS k FROM cohort_person');
      keys.push(...rows.map((r) => r.k));
    }
    expect(keys.length).toBeGreaterThan(1000);
    // A calibration round is three sums over a hub's whole population: no count, no row.
    // The secure products: keys and sealed shares are text; a helper's answer is one pair's AUROC, nothing else.
    const pairAnswers = released.filter((r) => r.op === 'validation.auroc-pair');
    expect(released.filter((r) => r.op === 'validation.auroc-key').length).toBe(2);
    expect(released.filter((r) => r.op === 'validation.auroc-share').length).toBe(2);
    // Six ordered pairs, two messages each; busan helps the two pairs of gwangju and gyeonggi itself.
    expect(pairAnswers.length).toBe(8);
    for (const { body } of pairAnswers) {
      const answer = JSON.parse(body) as { pair: string; pending: boolean; auroc: number | null };
      expect(Object.keys(answer).sort()).toEqual(['auroc', 'pair', 'pending']);
      expect(answer.pending ? answer.auroc === null : answer.auroc! > 0 && answer.auroc! < 1).toBe(true);
    }
    for (const { body } of released.filter((r) => r.op === 'validation.auroc-share')) {
      // Sealed to the helper: base64 of a nonce, a tag and the encrypted scalar, count and vector, nothing else.
      const { shares } = JSON.parse(body) as { shares: Record<string, string>[] };
      expect(shares.length).toBe(4);
      for (const share of shares) {
        expect(Object.keys(share).sort()).toEqual(['blob', 'pair', 'role']);
        expect(Buffer.from(share.blob!, 'base64').length).toBe(28 + 16 + 8 * 2 ** 20);
      }
    }
    const rounds = released.filter((r) => r.op === 'validation.calibration');
    expect(rounds.length).toBe(2 * report.federation.calibrationRounds);
    for (const { body } of rounds) {
      expect(Object.keys(JSON.parse(body) as object).sort()).toEqual(['ici', 'intercept', 'slope']);
    }
    for (const { hub, body } of released.filter((r) => r.op === 'validation.score')) {
      for (const k of keys) expect(body.includes(k), `${hub} released a patient key`).toBe(false);
      expect(body).not.toMatch(/vp\d+/);
      const counts: number[] = [];
      const walk = (v: unknown, key: string) => {
        if (typeof v === 'number' && /^(n|events|nonEvents|missing|leftOutByConsent|tp|fp)$/.test(key)) counts.push(v);
        else if (Array.isArray(v)) for (const e of v) walk(e, key);
        else if (v !== null && typeof v === 'object') for (const [k, e] of Object.entries(v)) walk(e, k);
      };
      walk(JSON.parse(body), '');
      expect(counts.length).toBeGreaterThan(20);
      for (const c of counts) expect(c === 0 || c >= THRESHOLD, `${hub} released a count of ${c}`).toBe(true);
    }

    // Each peer counts busan's rounds in its store; past the day's budget it refuses, and the pooled calibration
    // is withheld naming it.
    const gwangju = hubs.get('gwangju')!;
    const counted = await gwangju.db.all<{ rounds: number }>(
      "SELECT rounds FROM validation_calibration_round WHERE requester = 'busan'",
    );
    expect(counted.map((r) => Number(r.rounds))).toEqual([report.federation.calibrationRounds]);
    await gwangju.db.run('UPDATE validation_calibration_round SET rounds = $1', [CALIBRATION_ROUNDS_PER_DAY]);
    const again = await post(`/validation/submissions/${id}/validate`, validator, { hubs: [...HUBS] });
    expect(again.statusCode, again.body).toBe(200);
    const spent = (again.json() as { report: typeof report }).report;
    expect(spent.federation.calibrationFailed).toMatchObject({
      hub: 'gwangju',
      remoteCode: 'VALIDATION_ROUND_REFUSED',
    });
    expect([spent.calibration.intercept, spent.calibration.slope, spent.calibration.ici]).toEqual([null, null, null]);
    expect(spent.netBenefit[1]!.model).toBe(report.netBenefit[1]!.model);
    await gwangju.db.run('DELETE FROM validation_calibration_round');
  }, 240_000);

  it('pools two hubs by secure products when the coordinator is not one of them: it helps both pairs itself', async () => {
    const model = thirdPartyLogistic(WEIGHTS, INTERCEPT);
    const sub = await post('/validation/submissions', developer, { manifest: manifest(project), model: b64(model) });
    expect(sub.statusCode, sub.body).toBe(201);
    const { id } = sub.json() as { id: string };
    const before = released.length;
    const run = await post(`/validation/submissions/${id}/validate`, validator, { hubs: ['gwangju', 'gyeonggi'] });
    expect(run.statusCode, run.body).toBe(200);
    const { report } = run.json() as {
      report: {
        federation: { tookPart: string[]; aurocMethod: string; aurocFailed: unknown; aurocMaxError: number | null };
        sampleSize: { n: number };
        discrimination: { auroc: number; aurocCi: [number, number] };
      };
    };
    expect(report.federation.tookPart.sort()).toEqual(['gwangju', 'gyeonggi']);
    expect(report.federation.aurocMethod, JSON.stringify(report.federation.aurocFailed)).toBe('secure-product');
    expect(report.federation.aurocFailed).toBeNull();
    expect(report.federation.aurocMaxError).toBeNull();
    const { all, byHub } = await scoredRows(['gwangju', 'gyeonggi'], model);
    expect(report.sampleSize.n).toBe(all.y.length);
    const roc = rocAnalysis(all.p, all.y);
    // Exact but for pairs across the two hubs whose log-odds share a cell of the secure products' grid (docs/
    // validation.md: 2^20 cells over -16..16) with different scores: each counts as a tie, off by at most one half.
    const cellOf = (p: number) => {
      const q = Math.min(1 - 1e-12, Math.max(1e-12, p));
      return Math.min(2 ** 20 - 1, Math.max(0, Math.floor(((Math.log(q / (1 - q)) + 16) / 32) * 2 ** 20)));
    };
    const gwangjuRows = byHub.get('gwangju')!.n;
    let nearTies = 0;
    let events = 0;
    all.y.forEach((y, i) => {
      if (y !== 1) return;
      events++;
      all.y.forEach((z, j) => {
        const across = i < gwangjuRows !== j < gwangjuRows;
        if (z === 0 && across && all.p[i] !== all.p[j] && cellOf(all.p[i]!) === cellOf(all.p[j]!)) nearTies++;
      });
    });
    const bound = (0.5 * nearTies) / (events * (all.y.length - events));
    const error = Math.abs(report.discrimination.auroc - roc.auroc);
    console.log(
      `two hubs, busan helping: AUROC |Δ| ${error.toExponential(2)} against the rows; ${nearTies} pairs across the hubs share a grid cell with different scores (bound ${bound.toExponential(2)})`,
    );
    expect(error).toBeLessThanOrEqual(bound + 1e-12);
    expect(bound).toBeLessThan(1e-4);
    expect(report.discrimination.aurocCi[0]).toBeLessThan(roc.auroc);
    expect(report.discrimination.aurocCi[1]).toBeGreaterThan(roc.auroc);
    // The peers sent busan their keys and sealed shares; no peer helped, and no peer answered with a pair figure.
    const ops = released.slice(before).map((r) => `${r.hub} ${r.op}`);
    expect(ops.filter((o) => o.endsWith('validation.auroc-key')).sort()).toEqual([
      'gwangju validation.auroc-key',
      'gyeonggi validation.auroc-key',
    ]);
    expect(ops.filter((o) => o.endsWith('validation.auroc-share')).length).toBe(2);
    expect(ops.filter((o) => o.endsWith('validation.auroc-pair'))).toEqual([]);
  }, 120_000);

  it('keeps no scores for calibration rounds of a population a few people from one it released', async () => {
    const gyeonggi = hubs.get('gyeonggi')!;
    const wide = manifest(project);
    const rows = await buildHubFeatures(gyeonggi, wide.featureSpec, { purpose: VALIDATION_PURPOSE });
    // An age bound that leaves out the youngest or the oldest few: the narrow population is the wide one less them.
    const ages = Array.from(rows.age);
    const bounds = [...new Set(ages.map(Math.floor))].flatMap((a) => [
      { min: a + 1, gone: ages.filter((x) => x < a + 1).length },
      { min: 20, max: a - 1, gone: ages.filter((x) => x >= a).length },
    ]);
    const bound = bounds.find((b) => b.gone > 0 && b.gone < THRESHOLD);
    expect(bound).toBeDefined();
    const { gone: _gone, ...age } = bound!;
    const narrow = manifest(project);
    (narrow.featureSpec.population as { age: { min: number; max?: number } }).age = age;
    const fewer = await buildHubFeatures(gyeonggi, narrow.featureSpec, { purpose: VALIDATION_PURPOSE });
    const gone = rows.matrix.rows - fewer.matrix.rows;
    expect(gone).toBeGreaterThan(0);
    expect(gone).toBeLessThan(THRESHOLD);
    const validation = new ValidationFederation(gyeonggi);
    const model = thirdPartyLogistic(WEIGHTS, INTERCEPT);
    const first = await validation.gather(undefined, ['gyeonggi'], wide, model, project, 'val');
    expect(first.parts[0]!.session).toMatch(/^[0-9a-f]{32}$/);
    const second = await validation.gather(undefined, ['gyeonggi'], narrow, model, project, 'val');
    expect(second.parts[0]!.session).toBeUndefined();
    const outcome = await validation.calibrate(undefined, second.parts, project, 'val');
    expect(outcome).toMatchObject({ failed: { hub: 'gyeonggi', kind: 'refused' } });
    expect('fit' in (await validation.calibrate(undefined, first.parts, project, 'val'))).toBe(true);
  });

  it('names each hub that refuses, number-free, and pools the others', async () => {
    const busan = hubs.get('busan')!;
    // A project gwangju's steward denied: gwangju refuses its part; the others pool.
    const partial = await busan.projects.file(
      { name: 'acme', role: 'developer' },
      {
        title: 'ACME denied at gwangju',
        purpose: VALIDATION_PURPOSE,
        tables: manifestProjectTables(manifest(undefined)),
        endDate: endDate(),
        ethicsApproval: 'IRB-18',
        dataUseAgreement: true,
        hubs: [...HUBS],
      },
      ['gwangju', 'gyeonggi'],
    );
    const forwarded = await busan.projects.forwarded(partial.id);
    for (const name of HUBS) {
      const hub = hubs.get(name)!;
      if (name !== 'busan') await hub.projects.receive('busan', forwarded);
      const decision = name === 'gwangju' ? 'deny' : 'approve';
      await hub.projects.review({ name: 'steward', role: 'steward' }, partial.id, { decision, comment: 'decided' });
    }
    const model = b64(thirdPartyLogistic(WEIGHTS, INTERCEPT));
    const sub = await post('/validation/submissions', developer, { manifest: manifest(partial.id), model });
    expect(sub.statusCode, sub.body).toBe(201);
    const { id } = sub.json() as { id: string };
    const run = await post(`/validation/submissions/${id}/validate`, validator, { hubs: [...HUBS, 'nowhere'] });
    expect(run.statusCode, run.body).toBe(200);
    const { report } = run.json() as {
      report: {
        federation: {
          tookPart: string[];
          failed: { hub: string; kind: string; remoteCode?: string }[];
          aurocMethod: string;
          aurocMaxError: number | null;
        };
      };
    };
    expect(report.federation.tookPart.sort()).toEqual(['busan', 'gyeonggi']);
    // Two hubs leave no third to help with the secure products: the histograms order the pairs across them.
    expect(report.federation.aurocMethod).toBe('histogram');
    expect(report.federation.aurocMaxError).toBeGreaterThan(0);
    expect(report.federation.failed.map((f) => [f.hub, f.remoteCode ?? f.kind]).sort()).toEqual([
      ['gwangju', 'PROJECT_NOT_APPROVED'],
      ['nowhere', 'unknown-peer'],
    ]);
    // A population too small for the gate: refused with a message that holds no number.
    const few = manifest(project);
    (few.featureSpec.population as { age: { min: number; max?: number } }).age = { min: 79, max: 80 };
    const small = await releaseHubValidation(
      hubs.get('gyeonggi')!,
      few,
      thirdPartyLogistic(WEIGHTS, INTERCEPT),
      'peer:busan',
    ).catch((e: unknown) => e as { code: string; message: string });
    expect(small).toMatchObject({ code: 'DISCLOSURE_REFUSED' });
    expect((small as { message: string }).message).not.toMatch(/\d/);
  });
  /** Each hub's `project-authorize` refusals of `project` with `code`, as its audit log holds them (by `actor`). */
  const deniedAt = async (name: string, project: string, code: string, actor?: string) =>
    (
      await hubs
        .get(name)!
        .db.all<{ actor: string; outcome: string; detail: string }>(
          `SELECT actor, outcome, CAST(detail AS VARCHAR) AS detail FROM audit_log WHERE action = 'project-authorize' AND target = $1`,
          [`project:${project}`],
        )
    ).filter((r) => r.outcome === 'denied' && r.detail.includes(code) && (actor === undefined || r.actor === actor));
  /** Stand in for a hub whose record of `project` no longer approves `variable` (a scope is decided once). */
  const narrowScope = async (name: string, project: string, without: string | undefined) => {
    const tables = manifestProjectTables(manifest(undefined)).map((t) => ({
      name: t.name,
      columns: t.columns.filter((c) => `${t.name}.${c}` !== without),
    }));
    await hubs
      .get(name)!
      .db.run('UPDATE project_hub SET scope = $1 WHERE project_id = $2 AND hub = $3', [
        JSON.stringify(tables),
        project,
        name,
      ]);
  };

  it('has each peer check the spec against its own approved scope, for a part and for every calibration round', async () => {
    const busan = hubs.get('busan')!;
    const asked = manifestProjectTables(manifest(undefined));
    const narrow = await busan.projects.file(
      { name: 'acme', role: 'developer' },
      {
        title: 'ACME with narrower scopes at the peers',
        purpose: VALIDATION_PURPOSE,
        tables: asked,
        endDate: endDate(),
        ethicsApproval: 'IRB-19',
        dataUseAgreement: true,
        hubs: [...HUBS],
      },
      ['gwangju', 'gyeonggi'],
    );
    const forwarded = await busan.projects.forwarded(narrow.id);
    // gwangju approves the tables without the measured values; gyeonggi without the outcome's condition table.
    const granted: Record<string, typeof asked | undefined> = {
      busan: undefined,
      gwangju: asked.map((t) => ({
        name: t.name,
        columns: t.name === 'observation' ? t.columns.filter((c) => c !== 'value_quantity') : t.columns,
      })),
      gyeonggi: asked.filter((t) => t.name !== 'condition'),
    };
    for (const name of HUBS) {
      const hub = hubs.get(name)!;
      if (name !== 'busan') await hub.projects.receive('busan', forwarded);
      const tables = granted[name];
      await hub.projects.review({ name: 'steward', role: 'steward' }, narrow.id, {
        decision: 'approve',
        comment: 'narrowed',
        ...(tables !== undefined && { tables }),
      });
    }
    // busan's own scope holds the spec, so its route would go on: a coordinator that skipped its check asks directly.
    const { client } = servers.get('busan')!.federation;
    const model = b64(thirdPartyLogistic(WEIGHTS, INTERCEPT));
    const scored = await fanOut(
      client,
      ['gwangju', 'gyeonggi'],
      'validation.score',
      { manifest: manifest(narrow.id), model, project: narrow.id },
      { timeoutMs: 60_000 },
    );
    expect(scored.results).toEqual([]);
    const failed = new Map(scored.failed.map((f) => [f.hub, f]));
    expect(failed.get('gwangju')?.remoteCode).toBe('PROJECT_OUT_OF_SCOPE');
    expect(failed.get('gwangju')?.message).toContain("variable 'observation.value_quantity'");
    expect(failed.get('gyeonggi')?.remoteCode).toBe('PROJECT_OUT_OF_SCOPE');
    expect(failed.get('gyeonggi')?.message).toContain("table 'condition'");
    // The refusal names what is outside, never a count: no digit but the transport's status and the project's id.
    for (const f of scored.failed) {
      expect(f.message.replace(/^refused with 403 /, '').replaceAll(narrow.id, '')).not.toMatch(/\d/);
    }
    for (const name of ['gwangju', 'gyeonggi']) {
      const denied = await deniedAt(name, narrow.id, 'PROJECT_OUT_OF_SCOPE');
      expect(denied.map((r) => r.actor)).toEqual(['peer:busan']);
    }

    // A calibration round is checked again against the scope of the spec the session scored, at this hub.
    const part = await fanOut(
      client,
      ['gyeonggi'],
      'validation.score',
      { manifest: manifest(project), model, project },
      { timeoutMs: 60_000 },
    );
    const session = (part.results[0]?.value as { session?: string } | undefined)?.session;
    expect(session, JSON.stringify(part.failed)).toMatch(/^[0-9a-f]{32}$/);
    const round = () =>
      fanOut(
        client,
        ['gyeonggi'],
        'validation.calibration',
        { session, project, slope: [0, 1], intercept: [0] },
        { timeoutMs: 30_000 },
      );
    await narrowScope('gyeonggi', project, 'patient.gender');
    try {
      const refused = await round();
      expect(refused.failed.map((f) => [f.remoteCode, f.message.includes("variable 'patient.gender'")])).toEqual([
        ['PROJECT_OUT_OF_SCOPE', true],
      ]);
      expect(await deniedAt('gyeonggi', project, 'PROJECT_OUT_OF_SCOPE')).toHaveLength(1);
    } finally {
      await narrowScope('gyeonggi', project, undefined);
    }
    const answered = await round();
    expect(answered.failed).toEqual([]);
    expect(Object.keys(answered.results[0]!.value as object).sort()).toEqual(['ici', 'intercept', 'slope']);
  }, 90_000);

  it('checks the project again when a run starts: expired, outside the scope, or the submitter removed', async () => {
    const busan = hubs.get('busan')!;
    const store = hubSubmissions(busan);
    const model = b64(thirdPartyLogistic(WEIGHTS, INTERCEPT));
    const submit = async (token: string) => {
      const res = await post('/validation/submissions', token, { manifest: manifest(project), model });
      expect(res.statusCode, res.body).toBe(201);
      return (res.json() as { id: string }).id;
    };
    const validate = (id: string) => post(`/validation/submissions/${id}/validate`, validator, {});
    const id = await submit(developer);

    // Past the project's end date (the hub's clock moved on between submission and run).
    const later = new Date(Date.now() + 40 * 86_400_000);
    const clock = vi.spyOn(busan.clock, 'now').mockReturnValue(later);
    const expired = await validate(id).finally(() => clock.mockRestore());
    expect([expired.statusCode, codeOf(expired.body)]).toEqual([403, 'PROJECT_EXPIRED']);

    // The hub's record of the project no longer approves a variable the spec reads.
    await narrowScope('busan', project, 'observation.value_quantity');
    const outside = await validate(id).finally(() => narrowScope('busan', project, undefined));
    expect([outside.statusCode, codeOf(outside.body)]).toEqual([403, 'PROJECT_OUT_OF_SCOPE']);
    expect(outside.body).toContain('observation.value_quantity');
    // Nothing ran: the submission waits as it was, and each refusal is audited with its code.
    expect((await store.get(id)).status).toBe('submitted');
    // The validator started the run: the refusals are audited as theirs.
    expect(await deniedAt('busan', project, 'PROJECT_EXPIRED', 'val')).toHaveLength(1);
    expect(await deniedAt('busan', project, 'PROJECT_OUT_OF_SCOPE', 'val')).toHaveLength(1);

    // A member who submitted and was then removed from the project: their submission no longer runs.
    await busan.projects.addMember({ name: 'acme', role: 'developer' }, project, 'bora');
    const bora = await busan.tokens.create('bora', 'developer');
    const hers = await submit(bora);
    await busan.projects.removeMember({ name: 'acme', role: 'developer' }, project, 'bora');
    const removed = await validate(hers);
    expect([removed.statusCode, codeOf(removed.body)]).toEqual([403, 'PROJECT_NOT_MEMBER']);
    expect((await store.get(hers)).status).toBe('submitted');
    expect(await deniedAt('busan', project, 'PROJECT_NOT_MEMBER', 'val')).toHaveLength(1);

    // With the project as approved, the same submission runs.
    const run = await validate(id);
    expect(run.statusCode, run.body).toBe(200);
    expect((await store.get(id)).status).toBe('validated');
  }, 90_000);
});
