import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import type { Hub } from '../src/hub/index.js';
import { buildHubFeatures } from '../src/models/index.js';
import { buildServer } from '../src/server/index.js';
import {
  CHROMIUM_PATH,
  jwsDigest,
  pdfJwsDigest,
  populationStabilityIndex,
  predictRowsWithSubmission,
  runValidation,
  submitModel,
  VALIDATION_PURPOSE,
} from '../src/validation/index.js';
import { ACME_INTERCEPT, ACME_WEIGHTS, acmeManifest } from './support/acme-model.js';
import { captureIo } from './support/cli-capture.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';
import { thirdPartyLogistic } from './support/third-party-onnx.js';
import { writeValidationPopulation } from './support/validation-population.js';

/**
 * Issue 17 items 5 and 4 (drift, PDF): served predictions of an approved third-party model are binned per day and compared with
 * the validation population; a stream with shifted feature means raises the alert, one like the population does not. The report's PDF names its signed file, and `report verify` checks the pair.
 */
type Drift = {
  status: string;
  predictions: number | null;
  score: { psi: number | null; drifted: boolean };
  features: { name: string; psi: number | null; drifted: boolean }[];
  calibration: { available: boolean };
};

describe('drift of a served third-party model', () => {
  let hub: Hub;
  let app: FastifyInstance;
  let cleanup: () => Promise<void>;
  let hubDir: string;
  let developer: string;
  let validator: string;
  let people: Record<string, number | null>[];
  const ids: string[] = [];
  const input = mkdtempSync(join(tmpdir(), 'hm-drift-synth-'));

  beforeAll(async () => {
    writeValidationPopulation(input, 400);
    const env = await tempHub('busan', { role: 'demonstration' });
    ({ hub, cleanup, dir: hubDir } = env);
    const files = readdirSync(input).map((f) => join(input, f));
    await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: 'synth-busan' }));
    developer = await hub.tokens.create('acme', 'developer');
    validator = await hub.tokens.create('val', 'validator');
    const model = thirdPartyLogistic(ACME_WEIGHTS, ACME_INTERCEPT);
    for (const version of ['2.3.1', '2.3.2']) {
      const s = await submitModel(hub, { ...acmeManifest, version }, model, 'acme');
      await runValidation(hub, s.id, 'val');
      ids.push(s.id);
    }
    // The population's own feature rows, as a caller would send them (null where a value is missing).
    const rows = await buildHubFeatures(hub, acmeManifest.featureSpec, { purpose: VALIDATION_PURPOSE });
    const names = rows.matrix.names;
    people = Array.from({ length: rows.matrix.rows }, (_, i) =>
      Object.fromEntries(
        names.map((n, j) => {
          const v = rows.matrix.values[i * names.length + j]!;
          return [n, Number.isNaN(v) ? null : v];
        }),
      ),
    );
    app = await buildServer(hub);
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await cleanup?.();
    rmSync(input, { recursive: true, force: true });
  });

  const call = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload && { payload }) });
  const drift = async (id: string, token = validator) => {
    const res = await call('GET', `/validation/submissions/${id}/drift`, token);
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as Drift;
  };

  it('computes the population stability index as defined', () => {
    expect(populationStabilityIndex([50, 50], [50, 50])).toBe(0);
    // (0.8 − 0.5)·ln(0.8/0.5) + (0.2 − 0.5)·ln(0.2/0.5)
    expect(populationStabilityIndex([5, 5], [8, 2])).toBeCloseTo(0.3 * Math.log(1.6) + -0.3 * Math.log(0.4), 12);
  });

  it('raises the alert for a stream with shifted feature means and not for one like the validation population', async () => {
    for (const id of ids) {
      expect(
        (await call('POST', `/validation/submissions/${id}/approve`, validator, { comment: 'ok' })).statusCode,
      ).toBe(200);
      // Approved but nothing served yet: no figure, no alert.
      expect((await drift(id)).status).toBe('too-few-predictions');
    }
    const [steady, shifted] = ids as [string, string];
    // Every second person of the validation population: the same distribution, sampled.
    const like = people.filter((_, i) => i % 2 === 0);
    await predictRowsWithSubmission(hub, steady, like);
    // Older people with higher blood pressure: age +12 years, systolic +25 mmHg.
    const older = like.map((p) => ({
      ...p,
      age: (p.age ?? 50) + 12,
      sbp: p.sbp === null || p.sbp === undefined ? null : p.sbp + 25,
    }));
    await predictRowsWithSubmission(hub, shifted, older);
    // One more through the served route, as a caller would.
    const one = await call('POST', `/validation/submissions/${steady}/predict`, developer, { features: like[0]! });
    expect(one.statusCode, one.body).toBe(200);

    const calm = await drift(steady, developer);
    expect(Math.abs(calm.predictions! - (like.length + 1))).toBeLessThanOrEqual(5); // rounded like any count
    expect(calm.status).toBe('stable');
    expect(calm.features.map((f) => f.name)).toEqual(['age', 'male', 'sbp', 'sbp_missing', 'bmi']);
    for (const f of calm.features) expect(f.psi, f.name).toBeLessThan(0.2);
    expect(calm.calibration.available).toBe(false);

    const alarm = await drift(shifted);
    expect(alarm.status).toBe('alert');
    const drifted = alarm.features.filter((f) => f.drifted).map((f) => f.name);
    expect(drifted).toEqual(['age', 'sbp']);
    expect(alarm.score.drifted).toBe(true);
    // The request's audit entry is written once its answer is sent: wait for it.
    const alerted = async () =>
      (await hub.audit.recent(50, ['validation-drift'])).some(
        (e) => e.detail?.drift === 'alert' && e.detail?.drifted === 'age,sbp',
      );
    const deadline = Date.now() + 5000;
    while (!(await alerted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await alerted()).toBe(true);
  }, 60_000);

  it('prints the report as PDF naming its signed file, which `report verify` checks with the file', async () => {
    if (!existsSync(CHROMIUM_PATH)) {
      const res = await call('GET', `/validation/submissions/${ids[0]}/report?format=pdf`, developer);
      expect(res.statusCode).toBe(503); // VALIDATION_PDF_UNAVAILABLE, said plainly
      return;
    }
    const res = await call('GET', `/validation/submissions/${ids[0]}/report?format=pdf`, developer);
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    const pdf = res.rawPayload;
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const jws = (await call('GET', `/validation/submissions/${ids[0]}/report?format=jws`, developer)).body;
    expect(pdfJwsDigest(pdf)).toBe(jwsDigest(jws));
    writeFileSync(join(input, 'report.pdf'), pdf);
    writeFileSync(join(input, 'report.jws'), jws);
    const ok = captureIo();
    const args = ['report', 'verify', join(input, 'report.pdf'), '--hub-dir', hubDir];
    expect(await main([...args, '--jws', join(input, 'report.jws')], ok.io)).toBe(0);
    // The other version's signed file is valid, but not the one this PDF was printed from.
    writeFileSync(
      join(input, 'other.jws'),
      (await call('GET', `/validation/submissions/${ids[1]}/report?format=jws`, developer)).body,
    );
    const bad = captureIo();
    expect(await main([...args, '--jws', join(input, 'other.jws')], bad.io)).toBe(1);
    expect(bad.err).toContain('VALIDATION_REPORT_INVALID');
  }, 60_000);

  it('shows a developer only the drift of their own submissions', async () => {
    const other = await hub.tokens.create('other-dev', 'developer');
    const res = await call('GET', `/validation/submissions/${ids[0]}/drift`, other);
    expect(res.statusCode).toBe(404);
  });
});
