import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CohortFederation } from '../src/cohort/index.js';
import { silentLogger } from '../src/core/index.js';
import type { Federation } from '../src/federation/index.js';
import type { Hub } from '../src/hub/index.js';
import { initHub, openHub } from '../src/hub/index.js';
import { ModelFederation } from '../src/models/index.js';
import { buildServer, hubValidation, openHubFederation } from '../src/server/index.js';
import { SeriesFederation } from '../src/surveillance/index.js';
import { generateRegion } from '../src/synth/index.js';
import { describeWithChromium, launchChromium, openConsole, screenshotPath } from './support/browser.js';
import { peerEachOther } from './support/peer-servers.js';
import { ingestOptions } from './support/temp-hub.js';
import { testStore } from './support/test-engine.js';

const PASSWORD = 'a long enough passphrase';
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const HUBS = [
  ['gyeonggi', 'research', 60],
  ['gwangju', 'data', 60],
  ['busan', 'demonstration', 0],
] as const;

/**
 * Issue 16's first check, in one browser on three hubs serving over real HTTP: a researcher signs up at the
 * research hub, whose admin approves the account on the Accounts page, and applies for a project reaching the data hub; the stewards of both approve; the researcher runs a
 * federated cohort and a federated model in the workspace and asks to release a table (the automatic check releases
 * it) and a figure (it waits for the steward, who releases it); the researcher downloads both.
 */
describeWithChromium('the whole path from sign-up to released outputs, on three hubs (chromium)', () => {
  const root = mkdtempSync(join(tmpdir(), 'hm-three-hubs-'));
  const hubs = new Map<string, Hub>();
  const servers = new Map<string, { app: FastifyInstance; federation: Federation }>();
  const drops: (() => Promise<void>)[] = [];
  const stewards = new Map<string, string>();
  const admins = new Map<string, string>();
  let browser: Browser;

  beforeAll(async () => {
    for (const [name, role, people] of HUBS) {
      const dir = join(root, name);
      const { store, drop } = await testStore();
      drops.push(drop);
      const { adminToken } = await initHub(dir, { name, config: { role, store, name }, logger: silentLogger() });
      admins.set(name, adminToken);
      const hub = await openHub(dir, { logger: silentLogger() });
      hubs.set(name, hub);
      if (people > 0) {
        const input = join(root, `${name}-synth`);
        generateRegion({ region: name, people, seed: 'three-hubs', out: input });
        const files = readdirSync(input)
          .filter((f) => f.endsWith('.ndjson'))
          .map((f) => join(input, f));
        await hub.ingest.ingestPaths(files, ingestOptions(hub, { source: `synth-${name}`, actor: 'test' }));
      }
      stewards.set(name, await hub.tokens.create(`steward-${name}`, 'steward'));
      // The sides a served hub answers with (as the demo serves them: cli/demo-federation.ts).
      const cohorts = new CohortFederation(hub);
      const series = new SeriesFederation(hub);
      const sides = { validation: hubValidation(hub), models: new ModelFederation(hub) };
      const federation = await openHubFederation(hub, cohorts, series, sides);
      const app = await buildServer(hub, { federation: federation!, cohorts, series, ...sides });
      await app.listen({ port: 0, host: '127.0.0.1' });
      servers.set(name, { app, federation: federation! });
    }
    peerEachOther(servers);
    writeFileSync(join(root, 'curve.png'), PNG);
    browser = await launchChromium();
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    for (const { app } of servers.values()) await app.close();
    for (const hub of hubs.values()) await hub.close();
    for (const drop of drops) await drop();
    rmSync(root, { recursive: true, force: true });
  });

  const base = (hub: string) => servers.get(hub)!.app.listeningOrigin;
  async function open(hub: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
    const { page, errors, close } = await openConsole(browser, `${base(hub)}/`);
    return { page, errors, close };
  }
  async function signInWithToken(hub: string, token: string) {
    const s = await open(hub);
    await s.page.getByLabel('Access token').fill(token);
    await s.page.getByRole('button', { name: 'Sign in' }).click();
    await s.page.getByRole('navigation').waitFor();
    return s;
  }
  const steward = (hub: string) => signInWithToken(hub, stewards.get(hub)!);
  /**
   * Click a steward's decision and wait for the hub's answer, which must be 200: a refusal fails here with the hub's
   * own message instead of as a card that never leaves the queue. The answer may take longer than a locator's 20 s
   * when CI's two cores are saturated (one CI run timed out waiting for the card to leave, with no sign of why).
   */
  async function decide(page: Page, button: Locator): Promise<void> {
    const answer = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/decision'), {
      timeout: 60_000,
    });
    await button.click();
    const res = await answer;
    expect(res.status(), await res.text()).toBe(200);
  }
  async function approve(hub: string, title: string): Promise<void> {
    const s = await steward(hub);
    await s.page.getByRole('navigation').getByRole('link', { name: 'Review' }).click();
    await s.page.getByRole('button', { name: title }).click();
    await s.page.getByLabel('approved', { exact: true }).check();
    await s.page.getByLabel('Comment', { exact: true }).fill(`fine for ${hub}`);
    await s.page.getByRole('button', { name: 'Record the decision' }).click();
    await s.page.getByRole('cell', { name: `fine for ${hub}` }).waitFor();
    expect(s.errors).toEqual([]);
    await s.close();
  }

  it('signs up, applies, is approved by two stewards, works in the workspace and downloads what the airlock released', async () => {
    const gyeonggi = hubs.get('gyeonggi')!;
    const researcher = await open('gyeonggi');
    const { page } = researcher;
    await page.locator('#sign-up-handle').fill('mina.kim');
    await page.locator('#sign-up-password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Ask for an account' }).click();
    await page.getByRole('status').filter({ hasText: 'Account mina.kim asked for' }).waitFor();
    // The hub's admin lets the applicant in, on the Accounts page of the hub's own console.
    expect((await gyeonggi.accounts.registry.get('mina.kim')).status).toBe('pending');
    const admin = await signInWithToken('gyeonggi', admins.get('gyeonggi')!);
    await admin.page.getByRole('navigation').getByRole('link', { name: 'Accounts' }).click();
    const applicant = admin.page.getByTestId('accounts').locator('tr', { hasText: 'mina.kim' });
    await applicant.getByText('waiting for approval').waitFor();
    await applicant.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(async () => (await gyeonggi.accounts.registry.get('mina.kim')).status).toBe('active');
    expect(admin.errors).toEqual([]);
    await admin.close();
    await page.getByLabel('Sign-in name').fill('mina.kim');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const nav = page.getByRole('navigation');
    await nav.waitFor();

    // The application: tables and variables at the research hub and the data hub.
    await nav.getByRole('link', { name: 'Apply for data' }).click();
    const title = 'Blood pressure across regions';
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Access ends after').fill(new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10));
    for (const [view, columns] of [
      ['patient', ['gender', 'birth_date']],
      ['observation', ['code_code', 'value_quantity']],
      ['condition', ['code_code']],
      ['encounter', ['class_code']],
    ] as const) {
      await page.getByLabel(`view_${view}`, { exact: true }).check();
      for (const c of columns)
        await page
          .getByRole('group', { name: `view_${view}` })
          .getByLabel(c, { exact: true })
          .check();
    }
    await page.getByRole('checkbox', { name: 'gwangju' }).check();
    await page.getByLabel('Ethics (IRB) approval reference').fill('IRB-2026-0316');
    await page.getByLabel('I accept the data use agreement').check();
    await page.getByRole('button', { name: 'Submit the request' }).click();
    await page.getByRole('heading', { name: title }).waitFor();

    // The stewards of both hubs approve, each on their own hub's console.
    await approve('gyeonggi', title);
    await approve('gwangju', title);

    // The workspace: a cohort across both hubs.
    await nav.getByRole('link', { name: 'Workspace' }).click();
    const section = (id: string) => page.locator('section', { has: page.locator(`h2#${id}`) });
    const runAt = section('run-cohort');
    await runAt.getByRole('checkbox', { name: 'gwangju' }).waitFor();
    await runAt.getByRole('button', { name: 'Run' }).click();
    const answer = page.getByTestId('cohort-answer');
    await answer.getByText('gwangju:').waitFor();
    await answer.getByText('gyeonggi:').waitFor();
    // A model across both hubs, registered in the project.
    const training = section('train-model');
    await training.getByRole('button', { name: 'Train', exact: true }).click();
    await page.getByTestId('trained-model').filter({ hasText: 'at gwangju, gyeonggi' }).waitFor({ timeout: 30_000 });
    const models = page.getByTestId('project-models');
    await models.getByRole('rowheader', { name: 'sprain-workspace' }).waitFor();
    // Its card leaves the workspace only through the airlock, decided by the steward.
    await models.getByRole('button', { name: 'Ask to release the card' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Model card: sprain-workspace (waiting for a steward)' })
      .waitFor();
    // A table the rules cover: people by sex at both hubs (each hub's table summed), released at once by the
    // automatic check.
    await page.getByLabel('View (an approved table').fill('patient');
    await page.getByLabel('Rows: column').fill('gender');
    await page.getByRole('button', { name: 'Count', exact: true }).click();
    await page.getByTestId('tabulation').getByRole('rowheader', { name: 'female' }).waitFor();
    await page.getByRole('button', { name: 'Ask to release this table' }).click();
    await page.getByRole('status').filter({ hasText: 'patient: gender at gwangju, gyeonggi (released)' }).waitFor();
    // A figure the rules cannot read: it waits for the steward.
    await page.getByLabel('Title', { exact: true }).fill('Risk by age');
    await page.getByLabel('Image (PNG or SVG)').setInputFiles(join(root, 'curve.png'));
    await page.getByRole('button', { name: 'Ask to release a figure' }).click();
    await page.getByRole('status').filter({ hasText: 'Risk by age (waiting for a steward)' }).waitFor();
    await page.screenshot({ path: screenshotPath('three-hubs-01-workspace'), fullPage: true });

    const checker = await steward('gyeonggi');
    await checker.page.getByRole('navigation').getByRole('link', { name: 'Outputs to check' }).click();
    const card = checker.page.getByRole('region', { name: 'Risk by age' });
    await card.getByLabel('Comment').fill('an aggregate figure: fine');
    await decide(checker.page, card.getByRole('button', { name: 'Release' }));
    // The queue reloads after each decision: the figure leaves it before the card is decided.
    await card.waitFor({ state: 'detached' });
    const modelCard = checker.page.getByRole('region', { name: 'Model card: sprain-workspace' });
    await modelCard.getByTestId('model-card').getByText('Ankle sprain, 5-year risk').waitFor();
    await modelCard.getByLabel('Comment').fill('aggregates only: fine');
    await decide(checker.page, modelCard.getByRole('button', { name: 'Release' }));
    await checker.page.getByText('No output is waiting for a decision.').waitFor();
    expect(checker.errors).toEqual([]);
    await checker.close();

    await nav.getByRole('link', { name: 'Overview' }).click();
    await nav.getByRole('link', { name: 'Workspace' }).click();
    const outputs = page.getByTestId('outputs');
    const download = async (name: RegExp): Promise<Buffer> => {
      const row = outputs.getByRole('row', { name });
      await row.getByText('released').waitFor();
      const file = page.waitForEvent('download');
      await row.getByRole('button', { name: 'Download' }).click();
      return readFileSync((await (await file).path())!);
    };
    const csv = (await download(/patient: gender/)).toString('utf8');
    expect(csv.split('\n')[0]).toContain('total');
    expect(csv).toMatch(/female,\d+/);
    expect((await download(/Risk by age/)).equals(PNG)).toBe(true);
    expect(JSON.parse((await download(/Model card/)).toString('utf8'))).toMatchObject({
      model: 'sprain-workspace',
      card: { title: 'Ankle sprain, 5-year risk' },
    });
    await page.screenshot({ path: screenshotPath('three-hubs-02-downloaded'), fullPage: true });
    expect(researcher.errors).toEqual([]);
    await researcher.close();
  }, 120_000);
});
