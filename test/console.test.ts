import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { runCohort } from '../src/cohort/index.js';
import {
  evaluatePredictions,
  fitLogistic,
  hubModelRegistry,
  modelCard,
  predictLogistic,
  randomSplit,
  seededRandom,
  selectRows,
} from '../src/models/index.js';
import { releaseCount } from '../src/privacy/index.js';
import { buildServer } from '../src/server/index.js';
import {
  buildPanel,
  flusightBaseline,
  forecastRound,
  hubWeeklySeries,
  ILI_TARGET,
  raiseAlerts,
  saveForecasts,
} from '../src/surveillance/index.js';
import { generateRegion } from '../src/synth/index.js';
import { collectErrors, describeWithChromium, launchChromium, screenshotPath } from './support/browser.js';
import { simulateRisk } from './support/simulated-risk.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

const REGION = 'gwangju';
const PEOPLE = 300;

describeWithChromium('web console in a real browser (chromium via playwright-core)', () => {
  const input = mkdtempSync(join(tmpdir(), 'hm-console-synth-'));
  let env: Awaited<ReturnType<typeof tempHub>>;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let alerts = 0;

  beforeAll(async () => {
    // A hub with a synthetic population, a stored ILI forecast (and its alert) and a registered model, so that
    // every page has something real to show.
    generateRegion({ region: REGION, people: PEOPLE, seed: 'console', out: input });
    // A threshold other than the default 10, so the pages must say the hub's own ("fewer than 11").
    env = await tempHub(REGION, {
      surveillance: { epidemicThresholds: { [REGION]: { weeklyCount: 1 } }, alertQuantile: 0.975 },
      privacy: { birthDatePrecision: 'month', disclosure: { threshold: 11, rounding: 5, minCellSize: 10 } },
    });
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    await env.hub.ingest.ingestPaths(files, ingestOptions(env.hub, { source: `synth-${REGION}`, actor: 'cli' }));
    const series = await hubWeeklySeries(env.hub);
    const panel = buildPanel([series.ili]);
    const forecasts = forecastRound(panel, flusightBaseline({ nsims: 2000 }), panel.startDay + 7 * panel.weeks);
    await saveForecasts(env.hub, 'FluSight-baseline', ILI_TARGET, forecasts);
    alerts = (await raiseAlerts(env.hub, 'FluSight-baseline', ILI_TARGET, forecasts)).length;

    const { matrix } = simulateRisk(1500, 3, 11, true);
    const split = randomSplit(matrix.rows, 0.3, seededRandom(5), matrix.outcome);
    const train = selectRows(matrix, split.train);
    const test = selectRows(matrix, split.test);
    const model = fitLogistic(train);
    const sign = Array.from({ length: test.rows }, (_, i) => ((test.values[i * 3] ?? 0) >= 0 ? 'x0 ≥ 0' : 'x0 < 0'));
    const report = evaluatePredictions(predictLogistic(model, test), test.outcome!, {
      groupings: [{ name: 'x0 sign', labels: sign }],
    });
    const card = modelCard(model, train, {
      title: 'Simulated risk',
      cohort: { description: 'simulated adults', outcome: 'simulated event' },
      evaluations: [{ name: 'held-out 30%', report }],
      intendedUse: 'testing the console',
      limitations: ['simulated data'],
    });
    await (await hubModelRegistry(env.hub)).register('sim-risk', model, card, 'test');

    app = await buildServer(env.hub);
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await env?.cleanup();
    rmSync(input, { recursive: true, force: true });
  });

  async function openConsole(options: { locale?: string; width?: number } = {}): Promise<void> {
    context = await browser.newContext({
      locale: options.locale ?? 'en-GB',
      viewport: { width: options.width ?? 1280, height: 900 },
    });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    errors = collectErrors(page);
    await page.goto(`${base}/`);
  }

  async function signIn(): Promise<void> {
    await page.getByLabel(/Access token|접근 토큰/).fill(env.adminToken);
    await page.getByRole('button', { name: /Sign in|로그인/ }).click();
    await page.getByTestId('hub-name').waitFor();
  }

  async function go(hash: string): Promise<void> {
    await page.getByRole('navigation').getByRole('link', { name: hash }).click();
  }

  afterEach(async () => {
    await context?.close();
  });

  it('serves only the login page without a token, signs in with the admin token and shows the overview', async () => {
    const res = await fetch(`${base}/console/overview`);
    expect(res.status).toBe(401);
    await openConsole();
    await page.getByRole('heading', { name: 'Sign in to this hub' }).waitFor();
    await page.screenshot({ path: screenshotPath('01-login'), fullPage: true });
    await signIn();
    expect(await page.getByTestId('hub-name').textContent()).toBe(REGION);
    await expect(page.getByTestId('audit-status').textContent()).resolves.toMatch(/Hash chain intact: [\d,]+ entries/);
    const patients = (await env.hub.store.countByType()).Patient ?? 0;
    expect(patients).toBeGreaterThanOrEqual(PEOPLE);
    // The Patient bar shows the store's own count, formatted for English.
    const bar = page
      .getByRole('list', { name: 'Data by resource type' })
      .getByRole('listitem')
      .filter({ hasText: 'Patient' });
    await expect(bar.textContent()).resolves.toContain(patients.toLocaleString('en-GB'));
    await page.getByRole('cell', { name: 'synth-gwangju' }).first().waitFor();
    await page.getByText('This hub has no peers.').waitFor();
    await page.screenshot({ path: screenshotPath('02-overview'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('shows the data catalog with column descriptions, row counts and value distributions', async () => {
    await openConsole();
    await signIn();
    await go('Data catalog');
    await page.getByText('Counts below 11 are withheld.').waitFor();
    const patientRow = page.getByRole('row').filter({ has: page.getByRole('button', { name: 'view_patient' }) });
    const [tables] = await Promise.all([env.hub.tables.list(), patientRow.waitFor()]);
    const rows = tables.find((t) => t.view === 'patient')?.rows ?? 0;
    await expect(patientRow.textContent()).resolves.toContain(rows.toLocaleString('en-GB'));
    await page.getByRole('button', { name: 'view_patient' }).click();
    const gender = page.getByRole('list', { name: 'gender' });
    await gender.waitFor();
    await expect(gender.textContent()).resolves.toMatch(/female/);
    await page.getByText('Administrative gender').waitFor();
    await page.screenshot({ path: screenshotPath('03-catalog'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('builds a cohort from concept search, runs it on the hub and shows its released count and attrition', async () => {
    await openConsole();
    await signIn();
    await go('Cohorts');
    await page.getByLabel('Search concepts (code or name)').fill('hypertension');
    const hit = page
      .getByRole('list', { name: 'Concepts found' })
      .getByRole('listitem')
      .filter({ hasText: 'I10' })
      .first();
    await hit.getByRole('button', { name: /Entry event/ }).click();
    await page.getByLabel('Minimum age at entry').fill('40');
    await page.getByRole('button', { name: 'Run cohort' }).click();
    const persons = page.getByTestId('cohort-persons');
    await persons.waitFor();
    // The count the browser shows is the one the hub releases for the definition the form built.
    const definition = JSON.parse(await page.getByRole('textbox', { name: 'Definition as JSON' }).inputValue());
    expect(definition.inclusion).toEqual([{ name: 'age 40–', age: { min: 40 } }]);
    // The console names no purpose, so the hub runs the cohort for research (docs/consent.md).
    const raw = await runCohort(env.hub.db, definition, env.hub.clock, await env.hub.consent.filter('research'));
    const released = releaseCount(raw.persons, env.hub.config.privacy.disclosure);
    expect(released).not.toBeNull();
    expect(await persons.textContent()).toBe((released as number).toLocaleString('en-GB'));
    await expect(page.getByRole('list', { name: 'Attrition' }).getByRole('listitem').count()).resolves.toBe(
      raw.attrition.length,
    );
    await page.getByRole('list', { name: 'Age band' }).waitFor();
    await page.screenshot({ path: screenshotPath('04-cohort'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('shows the model registry, a model card, ROC and calibration plots and a subgroup table', async () => {
    await openConsole();
    await signIn();
    await go('Models');
    await page.getByRole('button', { name: 'Simulated risk (sim-risk)' }).click();
    await page.getByRole('heading', { name: 'Model card: Simulated risk' }).waitFor();
    await page.getByRole('img', { name: 'ROC curve' }).locator('canvas').waitFor();
    await page.getByRole('img', { name: 'Calibration' }).locator('canvas').waitFor();
    await page.getByRole('heading', { name: 'Subgroups by x0 sign' }).waitFor();
    const registered = await (await hubModelRegistry(env.hub)).get('sim-risk');
    const auroc = registered.card.evaluations[0]?.report.overall.auroc ?? Number.NaN;
    await page
      .getByRole('cell', { name: auroc.toLocaleString('en-GB', { maximumFractionDigits: 3 }) })
      .first()
      .waitFor();
    await page.screenshot({ path: screenshotPath('05-models'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('draws the forecast chart with its 50% and 95% bands over the observed series, and lists the alert', async () => {
    await openConsole();
    await signIn();
    await go('Surveillance');
    const chart = page.getByRole('img', { name: `Forecast of ${ILI_TARGET} for ${REGION}` });
    await chart.locator('canvas').waitFor();
    // The observed weeks under the forecast are the hub's own series, up to the week before the first forecast.
    const series = await hubWeeklySeries(env.hub);
    await expect(page.getByTestId('observed-weeks').textContent()).resolves.toBe(
      `Observed: the last ${Math.min(78, series.ili.values.length)} weeks of this hub’s counts before the forecast.`,
    );
    const table = page.getByTestId('forecast-table');
    await expect(table.locator('tbody tr').count()).resolves.toBe(4);
    // The legend names the observed series and both bands: the observed weeks loaded and were drawn.
    for (const label of ['observed', '50% interval ↑', '95% interval ↓', 'median']) {
      await page.locator('.u-legend').getByText(label, { exact: true }).waitFor();
    }
    // The alert the stored forecast raised (threshold 1 a week at the 97.5% quantile) is listed.
    expect(alerts).toBeGreaterThan(0);
    const alertRows = page.getByRole('row').filter({ hasText: 'FluSight-baseline' }).filter({ hasText: '(q0.975)' });
    await alertRows.first().waitFor();
    await expect(alertRows.count()).resolves.toBe(alerts);
    await page.screenshot({ path: screenshotPath('06-surveillance'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it('uploads a bundle and an NDJSON file with progress, counts what was stored and reports the rejects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hm-console-upload-'));
    try {
      const bundle = join(dir, 'clinic-bundle.json');
      writeFileSync(
        bundle,
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'batch',
          entry: [
            { resource: { resourceType: 'Patient', id: 'up-1', gender: 'female', birthDate: '1970-02-03' } },
            { resource: { resourceType: 'Patient', id: 'up-2', gender: 'male', birthDate: '1981-11-30' } },
            { resource: { resourceType: 'Patient', id: 'up-3', gender: 'not-a-gender' } },
          ].map((e) => ({ ...e, request: { method: 'PUT', url: `Patient/${e.resource.id}` } })),
        }),
      );
      const ndjson = join(dir, 'more.ndjson');
      writeFileSync(ndjson, `${JSON.stringify({ resourceType: 'Patient', id: 'up-4', gender: 'other' })}\n{not json\n`);
      const before = (await env.hub.store.countByType()).Patient ?? 0;
      await openConsole();
      await signIn();
      await go('Ingest');
      await page.getByLabel('Files', { exact: true }).setInputFiles([bundle, ndjson]);
      await page.getByLabel('Source system name').fill('clinic-upload');
      await page.getByRole('button', { name: 'Upload' }).click();
      const summaries = page.getByTestId('upload-summary');
      await summaries.nth(1).waitFor();
      await expect(summaries.nth(0).textContent()).resolves.toBe(
        'clinic-bundle.json: 2 created, 0 updated, 0 unchanged, 1 rejected',
      );
      await expect(summaries.nth(1).textContent()).resolves.toBe(
        'more.ndjson: 1 created, 0 updated, 0 unchanged, 1 rejected',
      );
      const rejects = page.getByTestId('rejects');
      await expect(rejects.nth(0).textContent()).resolves.toMatch(/FHIR_/);
      await expect(rejects.nth(1).textContent()).resolves.toMatch(/line 2.*INGEST_INVALID_JSON/);
      expect((await env.hub.store.countByType()).Patient).toBe(before + 3);
      // The uploads were read from memory: no copy of them sits anywhere under the hub's directory.
      const hubFiles = readdirSync(env.hub.paths.dir, { recursive: true }).map(String);
      expect(hubFiles.filter((f) => /uploads|clinic-bundle|more\.ndjson/.test(f))).toEqual([]);
      await page.screenshot({ path: screenshotPath('07-ingest'), fullPage: true });
      // The overview's history lists the upload with its rejects.
      await go('Overview');
      const row = page.getByRole('row').filter({ hasText: 'clinic-upload' }).first();
      await row.waitFor();
      await expect(row.textContent()).resolves.toContain('more.ndjson');
      expect(errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens in Korean when the browser prefers it, and the switch changes every page and number format', async () => {
    await openConsole({ locale: 'ko-KR' });
    await page.getByRole('heading', { name: '이 허브에 로그인' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('ko');
    await signIn();
    for (const [name, heading] of [
      ['데이터 카탈로그', '데이터 카탈로그'],
      ['코호트', '코호트'],
      ['모델', '모델'],
      ['감시', '감시'],
      ['데이터 적재', '데이터 적재'],
      ['개요', '개요'],
    ] as const) {
      await go(name);
      await page.getByRole('heading', { level: 1, name: heading }).waitFor();
      await page.getByLabel('언어').waitFor();
    }
    await page.getByText(/해시 체인 정상/).waitFor();
    await page.screenshot({ path: screenshotPath('08-overview-ko'), fullPage: true });
    await page.getByLabel('언어').selectOption('en');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    // The choice holds for the tab: a reload stays in English although the browser prefers Korean.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(errors).toEqual([]);
  });

  it('is usable at phone width and by keyboard', async () => {
    await openConsole({ width: 390 });
    await signIn();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // Tab from the top reaches the navigation; Enter on a link opens its page.
    await page.keyboard.press('Tab');
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate(() => document.activeElement?.textContent)) === 'Cohorts';
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Cohorts' }).waitFor();
    await page.screenshot({ path: screenshotPath('09-cohorts-phone'), fullPage: true });
    // Every form control on the page has a label.
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute('aria-label'))
        .map((el) => el.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('shows a message on the page when an API call fails, and refuses a wrong token on the login page', async () => {
    await openConsole();
    await page.getByLabel('Access token').fill('hm_not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'This hub does not accept that token.' }).waitFor();
    await signIn();
    // The hub's real failure: a catalog profile of a view that does not exist answers 404 VIEW_UNKNOWN.
    await page.evaluate(() => {
      location.hash = '#/catalog';
    });
    await page.route('**/console/catalog/patient', (route) =>
      route.continue({ url: route.request().url().replace('/patient', '/no_such_view') }),
    );
    await page.getByRole('button', { name: 'view_patient' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    await expect(alert.textContent()).resolves.toMatch(/no analytic table for view 'no_such_view'.*VIEW_UNKNOWN/);
    await page.screenshot({ path: screenshotPath('10-error'), fullPage: true });
    // The only console errors are the browser's own notes of the two refused requests.
    expect(errors).toHaveLength(2);
    for (const e of errors)
      expect(e).toMatch(/Failed to load resource: the server responded with a status of (401|404)/);
  });
});
