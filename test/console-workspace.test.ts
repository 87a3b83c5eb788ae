import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateRegion } from '../src/synth/index.js';
import { describeWithChromium, openConsole, screenshotPath, serveToChromium } from './support/browser.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';

const REGION = 'gyeonggi';
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/**
 * Issue 16 in the browser on a research hub: a member runs a cohort, counts people in a view and forecasts the ILI
 * series in the workspace of an approved project (the forecast leaves at once through the airlock), and asks to
 * release a figure; the steward looks at it and releases it; the member downloads it.
 */
describeWithChromium('project workspace and output checking in the console (chromium)', () => {
  const input = mkdtempSync(join(tmpdir(), 'hm-workspace-synth-'));
  let env: Awaited<ReturnType<typeof tempHub>>;
  let served: Awaited<ReturnType<typeof serveToChromium>> | undefined;
  let base: string;
  let browser: Browser;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    generateRegion({ region: REGION, people: 40, seed: 'workspace', out: input });
    env = await tempHub(REGION, { role: 'research' });
    const files = readdirSync(input)
      .filter((f) => f.endsWith('.ndjson'))
      .map((f) => join(input, f));
    await env.hub.ingest.ingestPaths(files, ingestOptions(env.hub, { source: `synth-${REGION}`, actor: 'test' }));
    tokens.set('researcher', await env.hub.tokens.create('mina', 'researcher'));
    tokens.set('steward', await env.hub.tokens.create('joon', 'steward'));
    const mina = { name: 'mina', role: 'researcher' as const };
    const project = await env.hub.projects.file(mina, {
      title: 'Outpatient care',
      purpose: 'research',
      tables: [
        { name: 'encounter', columns: ['patient_key', 'class_code'] },
        { name: 'condition', columns: ['code_code', 'onset_start'] },
      ],
      endDate: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10),
      members: [],
      ethicsApproval: 'IRB-1',
      dataUseAgreement: true,
    });
    await env.hub.projects.review({ name: 'joon', role: 'steward' }, project.id, {
      decision: 'approve',
      comment: 'ok',
    });
    writeFileSync(join(input, 'curve.png'), PNG);
    served = await serveToChromium(env.hub);
    ({ base, browser } = served);
  }, 120_000);
  afterAll(async () => {
    await served?.close();
    await env?.cleanup();
    rmSync(input, { recursive: true, force: true });
  });

  async function signedIn(who: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
    const { page, errors, close } = await openConsole(browser, `${base}/`);
    await page.getByLabel('Access token').fill(tokens.get(who)!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation').waitFor();
    return { page, errors, close };
  }

  it('runs a cohort and asks for a figure; the steward releases it; the member downloads it', async () => {
    const member = await signedIn('researcher');
    const nav = member.page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Workspace' }).click();
    await member.page.getByRole('button', { name: 'Run' }).click();
    await member.page.getByTestId('cohort-answer').getByText(`${REGION}:`).waitFor();
    // A view counted inside the workspace: people by encounter class, as the gate publishes them.
    await member.page.getByLabel('View (an approved table').fill('encounter');
    await member.page.getByLabel('Rows: column').fill('class_code');
    await member.page.getByRole('button', { name: 'Count', exact: true }).click();
    await member.page.getByTestId('tabulation').getByRole('rowheader', { name: 'AMB' }).waitFor();
    // A forecast inside the workspace; it leaves through the airlock, which releases it at once (released series).
    await member.page.getByLabel('Forecaster').selectOption('baseline');
    await member.page.getByRole('button', { name: 'Forecast', exact: true }).click();
    await member.page.getByTestId('project-forecast').getByRole('rowheader', { name: REGION }).first().waitFor();
    await member.page.getByRole('button', { name: 'Ask to release the forecast' }).click();
    await member.page.getByRole('status').filter({ hasText: '(released)' }).waitFor();
    await member.page.getByLabel('Title').fill('Survival curve');
    await member.page.getByLabel('Image (PNG or SVG)').setInputFiles(join(input, 'curve.png'));
    await member.page.getByRole('button', { name: 'Ask to release a figure' }).click();
    await member.page.getByRole('status').filter({ hasText: 'Survival curve (waiting for a steward)' }).waitFor();
    await member.page.screenshot({ path: screenshotPath('workspace-01-member'), fullPage: true });

    const steward = await signedIn('steward');
    await steward.page.getByRole('navigation').getByRole('link', { name: 'Outputs to check' }).click();
    const card = steward.page.getByRole('region', { name: 'Survival curve' });
    await card.getByRole('img', { name: 'Survival curve' }).waitFor();
    await card.getByLabel('Comment').fill('A curve of a large group: fine');
    await card.getByRole('button', { name: 'Release' }).click();
    await steward.page.getByText('No output is waiting for a decision.').waitFor();
    expect(steward.errors, steward.errors.join('\n')).toEqual([]);
    await steward.close();

    await nav.getByRole('link', { name: 'Overview' }).click();
    await nav.getByRole('link', { name: 'Workspace' }).click();
    const row = member.page.getByTestId('outputs').getByRole('row', { name: /Survival curve/ });
    await row.getByText('released').waitFor();
    const download = member.page.waitForEvent('download');
    await row.getByRole('button', { name: 'Download' }).click();
    expect(readFileSync((await (await download).path())!).equals(PNG)).toBe(true);
    expect(member.errors).toEqual([]);
    await member.close();
  }, 120_000);
});
