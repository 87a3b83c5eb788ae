import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { silentLogger } from '../src/core/index.js';
import { openHub } from '../src/hub/index.js';
import { buildServer } from '../src/server/index.js';
import { ILI_TARGET, isoDay, parseModelOutputCsv } from '../src/surveillance/index.js';
import { generateRegion } from '../src/synth/index.js';
import { captureIo } from './support/cli-capture.js';

/**
 * Two locations, 30 weeks ending on Saturdays from 2023-09-02: "01" in a growing epidemic (about 20 → 500 a week,
 * growth 12% a week with a little deterministic noise), "02" flat near 30.
 */
function targetData(): string {
  const lines = ['date,location,location_name,value'];
  const start = Date.UTC(2023, 8, 2);
  for (let w = 0; w < 30; w++) {
    const date = new Date(start + w * 7 * 86_400_000).toISOString().slice(0, 10);
    lines.push(`${date},01,Rising,${Math.round(20 * 1.12 ** w + (w % 3) * 2)}`);
    lines.push(`${date},02,Flat,${30 + (w % 4)}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('healthmesh forecast run | score, alerts and the surveillance API', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-forecast-cli-'));
  const dir = join(root, 'hub');
  const series = join(root, 'target-data.csv');
  const out = join(root, 'forecast.csv');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('prints help with examples', async () => {
    for (const cmd of [
      ['forecast', 'run'],
      ['forecast', 'score'],
    ]) {
      const c = captureIo();
      expect(await main([...cmd, '--help'], c.io)).toBe(0);
      expect(c.out).toMatch(/Examples?:/);
    }
  });

  it('forecasts from a target-data file, writes hubverse CSV, stores it and raises an alert where the threshold is crossed', async () => {
    expect(await main(['init', '--dir', dir, '--name', 'gyeonggi'], captureIo().io)).toBe(0);
    const configPath = join(dir, 'hub.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
    // 01: a weekly count far below its forecast; 02: 2 per 1,000 of 100,000 = 200 a week, far above ~30.
    config.surveillance = {
      epidemicThresholds: { '01': { weeklyCount: 100 }, '02': { ratePer1000: 2, population: 100_000 } },
      alertQuantile: 0.5,
    };
    writeFileSync(configPath, JSON.stringify(config));
    writeFileSync(series, targetData());
    const c = captureIo();
    const code = await main(
      ['forecast', 'run', '--dir', dir, '--series', series, '--reference-date', '2024-01-06', '--out', out],
      c.io,
    );
    expect(c.err).toContain('ALERT 01');
    expect(code).toBe(0);
    expect(c.err).not.toContain('ALERT 02');
    const forecasts = parseModelOutputCsv(readFileSync(out, 'utf8'), { file: out });
    expect(forecasts.length).toBe(2 * 4);
    expect(new Set(forecasts.map((f) => f.location))).toEqual(new Set(['01', '02']));
  }, 120_000);

  it('refuses a reference date that is not a date, naming the option', async () => {
    const c = captureIo();
    expect(
      await main(['forecast', 'run', '--dir', dir, '--series', series, '--reference-date', '2024-13-06'], c.io),
    ).toBe(1);
    expect(c.err).toContain('SURVEILLANCE_BAD_DATE');
    expect(c.err).toContain('--reference-date');
  });

  it('keeps an alert once raised when a later run of the same round no longer crosses the threshold', async () => {
    const configPath = join(dir, 'hub.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as {
      surveillance: { epidemicThresholds: Record<string, unknown> };
    };
    config.surveillance.epidemicThresholds['01'] = { weeklyCount: 100_000 };
    writeFileSync(configPath, JSON.stringify(config));
    const c = captureIo();
    const args = ['forecast', 'run', '--dir', dir, '--series', series, '--reference-date', '2024-01-06'];
    expect(await main([...args, '--out', join(root, 'again.csv')], c.io)).toBe(0);
    expect(c.err).not.toContain('ALERT');
    config.surveillance.epidemicThresholds['01'] = { weeklyCount: 100 };
    writeFileSync(configPath, JSON.stringify(config));
  }, 120_000);

  it('scores the forecast against the truth, by location and horizon, with relative WIS against the baseline', async () => {
    const c = captureIo();
    expect(await main(['forecast', 'score', '--forecasts', out, '--truth', series], c.io)).toBe(0);
    for (const group of ['all', 'location 01', 'location 02', 'horizon 0', 'horizon 3']) expect(c.out).toContain(group);
    const json = captureIo();
    expect(await main(['forecast', 'score', '--forecasts', out, '--truth', series, '--json'], json.io)).toBe(0);
    const scores = (
      JSON.parse(json.out) as {
        scores: { group: string; count: number; meanWis: number; relativeWis: number; coverage95: number }[];
      }
    ).scores;
    const all = scores.find((s) => s.group === 'all');
    expect(all?.count).toBe(8);
    expect(Number.isFinite(all?.meanWis)).toBe(true);
    expect(all?.relativeWis).toBeGreaterThan(0);
    console.log(`forecast score (synthetic two-location file): ${JSON.stringify(all)}`);
    // Kept in the hub with --dir, and served over the API; a re-score replaces rather than adds.
    for (let i = 0; i < 2; i++)
      expect(
        await main(['forecast', 'score', '--forecasts', out, '--truth', series, '--dir', dir], captureIo().io),
      ).toBe(0);
    const hub = await openHub(dir, { logger: silentLogger() });
    const app = await buildServer(hub);
    try {
      const token = readFileSync(join(dir, 'secrets', 'admin.token'), 'utf8').trim();
      const res = await app.inject({
        method: 'GET',
        url: '/surveillance/scores',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode).toBe(200);
      const stored = (
        res.json() as { scores: { group: string; forecasts: number; meanWis: number; relativeWis: number }[] }
      ).scores;
      expect(stored.map((x) => x.group).sort()).toEqual(scores.map((x) => x.group).sort());
      const storedAll = stored.find((x) => x.group === 'all');
      expect(storedAll?.forecasts).toBe(8);
      expect(storedAll?.meanWis).toBeCloseTo(all?.meanWis ?? Number.NaN, 12);
      expect(storedAll?.relativeWis).toBeCloseTo(all?.relativeWis ?? Number.NaN, 12);
    } finally {
      await app.close();
      await hub.close();
    }
  });

  it('serves the stored forecasts and the kept alert over the API, to authenticated callers only', async () => {
    const hub = await openHub(dir, { logger: silentLogger() });
    const token = readFileSync(join(dir, 'secrets', 'admin.token'), 'utf8').trim();
    const app = await buildServer(hub);
    try {
      const auth = { authorization: `Bearer ${token}` };
      const f = await app.inject({ method: 'GET', url: '/surveillance/forecasts?location=01', headers: auth });
      expect(f.statusCode).toBe(200);
      const body = f.json() as { forecasts: { location: string; horizon: number; quantiles: number[] }[] };
      expect(body.forecasts.map((x) => x.horizon).sort()).toEqual([0, 1, 2, 3]);
      expect(body.forecasts.every((x) => x.location === '01' && x.quantiles.length === 23)).toBe(true);
      const a = await app.inject({ method: 'GET', url: '/surveillance/alerts', headers: auth });
      expect(a.statusCode).toBe(200);
      const alerts = (
        a.json() as { alerts: { location: string; threshold: number; forecastValue: number; referenceDate: string }[] }
      ).alerts;
      expect(alerts.map((x) => x.location)).toEqual(['01']);
      expect(alerts[0]?.threshold).toBe(100);
      expect(alerts[0]?.forecastValue).toBeGreaterThanOrEqual(100);
      expect(alerts[0]?.referenceDate).toBe('2024-01-06');
      const bad = await app.inject({ method: 'GET', url: '/surveillance/alerts?reference_date=soon', headers: auth });
      expect(bad.statusCode).toBe(400);
      const anonymous = await app.inject({ method: 'GET', url: '/surveillance/forecasts' });
      expect(anonymous.statusCode).toBe(401);
    } finally {
      await app.close();
      await hub.close();
    }
  });
});

describe('healthmesh forecast run from the hub’s own records', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-forecast-hub-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('counts weekly ILI visits from ingested FHIR and forecasts the week after the last data week', async () => {
    const dir = join(root, 'hub');
    const input = join(root, 'synth');
    generateRegion({ region: 'busan', people: 200, seed: 'forecast-cli', out: input });
    expect(await main(['init', '--dir', dir, '--name', 'busan'], captureIo().io)).toBe(0);
    // The resource files only: truth/ holds the generator's answers, not FHIR.
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    expect(await main(['ingest', '--dir', dir, '--source', 'synth-busan', ...files], captureIo().io)).toBe(0);
    const out = join(root, 'ili.csv');
    const c = captureIo();
    expect(await main(['forecast', 'run', '--dir', dir, '--out', out], c.io)).toBe(0);
    const text = readFileSync(out, 'utf8');
    const forecasts = parseModelOutputCsv(text, { file: out, target: ILI_TARGET });
    expect(forecasts.map((f) => f.location)).toEqual(['busan', 'busan', 'busan', 'busan']);
    // The synthetic history ends 2025-12-31, in the week ending Saturday 2026-01-03: the round is the week after.
    expect(new Set(forecasts.map((f) => isoDay(f.referenceDay)))).toEqual(new Set(['2026-01-10']));
    expect(c.err).toContain('wk inc ili');
  }, 300_000);
});
