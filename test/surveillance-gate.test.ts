import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import type { Hub } from '../src/hub/index.js';
import { openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { hubWeeklySeries, isoDay } from '../src/surveillance/index.js';
import { generateRegion } from '../src/synth/index.js';
import { captureIo } from './support/cli-capture.js';

/**
 * Issue 14: forecasts served to a researcher were made from exact weekly counts (`forecast run`), so they revealed
 * weeks the released series suppress, and a researcher could overwrite the stored forecasts. Two hubs hold the
 * same records except one more ILI visit in a week under the threshold.
 */
describe('forecasts a researcher sees are made from released series only', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-forecast-gate-'));
  const hubs: { hub: Hub; researcher: string; admin: string }[] = [];
  let week = '';

  beforeAll(async () => {
    const input = join(root, 'synth');
    generateRegion({ region: 'busan', people: 400, seed: 'forecast-gate', out: input });
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    // Both hubs are "busan": their series differ in one suppressed week only. b starts as a copy of a's closed
    // directory (the same store, keys and audit log) instead of a second ingest of the same files.
    const dirA = join(root, 'a');
    expect(await main(['init', '--dir', dirA, '--name', 'busan'], captureIo().io)).toBe(0);
    expect(await main(['ingest', '--dir', dirA, '--source', 'synth-busan', ...files], captureIo().io)).toBe(0);
    cpSync(dirA, join(root, 'b'), { recursive: true });
    // The last week with at most threshold − 2 ILI visits (the oracle: hub a's exact series), and one more there in b.
    const a = await openHub(join(root, 'a'), { logger: silentLogger() });
    const ili = (await hubWeeklySeries(a)).ili;
    await a.close();
    let w = ili.values.length - 1;
    while (w > 0 && (ili.values[w] as number) > 8) w--;
    const end = ili.startDay + 7 * w;
    week = isoDay(end);
    const patient = JSON.parse(readFileSync(join(input, 'Patient.ndjson'), 'utf8').split('\n')[0]!) as { id: string };
    const extra = join(root, 'Condition.ndjson');
    writeFileSync(
      extra,
      `${JSON.stringify({
        resourceType: 'Condition',
        id: 'extra-ili-visit',
        subject: { reference: `Patient/${patient.id}` },
        code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'J11.1' }] },
        onsetDateTime: `${isoDay(end - 2)}T10:00:00Z`,
        recordedDate: `${isoDay(end - 2)}T10:00:00Z`,
      })}\n`,
    );
    expect(await main(['ingest', '--dir', join(root, 'b'), '--source', 'synth-busan', extra], captureIo().io)).toBe(0);
    for (const name of ['a', 'b']) {
      const dir = join(root, name);
      // The CLI's round: from the hub's exact weekly counts, stored.
      expect(await main(['forecast', 'run', '--dir', dir, '--out', join(root, `${name}.csv`)], captureIo().io)).toBe(0);
      const hub = await openHub(dir, { logger: silentLogger() });
      hubs.push({
        hub,
        researcher: await hub.tokens.create('analyst', 'researcher'),
        admin: readFileSync(join(dir, 'secrets', 'admin.token'), 'utf8').trim(),
      });
    }
  }, 600_000);

  afterAll(async () => {
    for (const h of hubs) await h.hub.close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  it('gives identical forecasts from two hubs that differ only in a suppressed week, and stores none for a researcher', async () => {
    const [a, b] = hubs;
    const exactA = await hubWeeklySeries(a!.hub);
    const exactB = await hubWeeklySeries(b!.hub);
    const w = (Date.parse(`${week}T00:00:00Z`) / 86_400_000 - exactA.ili.startDay) / 7;
    expect(exactB.ili.values[w]! - exactA.ili.values[w]!).toBe(1);
    expect(exactB.ili.values[w]!).toBeLessThan(10);
    const bodies: { stored: unknown; fresh: unknown; exact: unknown }[] = [];
    for (const h of hubs) {
      const app = await buildServer(h.hub);
      try {
        const as = (token: string) => ({ authorization: `Bearer ${token}` });
        const stored = await app.inject({ method: 'GET', url: '/surveillance/forecasts', headers: as(h.researcher) });
        const alerts = await app.inject({ method: 'GET', url: '/surveillance/alerts', headers: as(h.researcher) });
        const exact = await app.inject({ method: 'GET', url: '/surveillance/forecasts', headers: as(h.admin) });
        expect([stored.statusCode, alerts.statusCode, exact.statusCode]).toEqual([200, 200, 200]);
        // A researcher's round from the released series: answered, not stored.
        const fresh = await app.inject({
          method: 'POST',
          url: '/surveillance/$federated-forecast',
          headers: as(h.researcher),
          payload: { hubs: ['busan'] },
        });
        expect(fresh.statusCode).toBe(200);
        expect(fresh.json().stored).toBe(false);
        expect(fresh.json().forecasts.length).toBeGreaterThan(0);
        const after = await app.inject({ method: 'GET', url: '/surveillance/forecasts', headers: as(h.admin) });
        expect(after.json()).toEqual(exact.json()); // nothing overwritten or added
        bodies.push({
          stored: [stored.json(), alerts.json()],
          fresh: fresh.json().forecasts,
          exact: exact.json().forecasts,
        });
      } finally {
        await app.close();
      }
    }
    // The exact forecasts do tell the hubs apart (the attack); what a researcher gets does not.
    expect(bodies[0]!.exact).not.toEqual(bodies[1]!.exact);
    expect(bodies[0]!.stored).toEqual(bodies[1]!.stored);
    expect(bodies[0]!.fresh).toEqual(bodies[1]!.fresh);
  }, 300_000);
});
