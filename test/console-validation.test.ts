import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ACME_INTERCEPT, ACME_WEIGHTS, acmeManifest, approvedValidationProject } from './support/acme-model.js';
import { describeWithChromium, openConsole, screenshotPath, serveToChromium } from './support/browser.js';
import { ingestOptions, tempHub } from './support/temp-hub.js';
import { thirdPartyLogistic } from './support/third-party-onnx.js';
import { writeValidationPopulation } from './support/validation-population.js';

/**
 * Issue 17 item 6 in the browser on a demonstration hub: a developer uploads an ONNX model and its manifest; a
 * validator validates it, reads the report, downloads the signed file, verifies it and approves the model to serve.
 */
describeWithChromium('model validation in the console (chromium)', () => {
  const input = mkdtempSync(join(tmpdir(), 'hm-console-validation-'));
  const files = mkdtempSync(join(tmpdir(), 'hm-console-validation-files-'));
  let env: Awaited<ReturnType<typeof tempHub>>;
  let served: Awaited<ReturnType<typeof serveToChromium>> | undefined;
  let base: string;
  let browser: Browser;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    writeValidationPopulation(input, 200);
    env = await tempHub('busan', { role: 'demonstration' });
    const data = readdirSync(input).map((f) => join(input, f));
    await env.hub.ingest.ingestPaths(data, ingestOptions(env.hub, { source: 'synth-busan' }));
    tokens.set('developer', await env.hub.tokens.create('acme', 'developer'));
    tokens.set('validator', await env.hub.tokens.create('val', 'validator'));
    writeFileSync(join(files, 'acme.onnx'), thirdPartyLogistic(ACME_WEIGHTS, ACME_INTERCEPT));
    // A submission is work inside a project approved here for AI validation (the manifest names it).
    const projectId = await approvedValidationProject(env.hub, { name: 'acme', role: 'developer' });
    writeFileSync(join(files, 'manifest.json'), JSON.stringify({ ...acmeManifest, projectId }));
    served = await serveToChromium(env.hub);
    ({ base, browser } = served);
  }, 120_000);
  afterAll(async () => {
    await served?.close();
    await env?.cleanup();
    rmSync(input, { recursive: true, force: true });
    rmSync(files, { recursive: true, force: true });
  });

  async function signedIn(who: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
    const { page, errors, close } = await openConsole(browser, `${base}/`);
    await page.getByLabel('Access token').fill(tokens.get(who)!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation').waitFor();
    return { page, errors, close };
  }

  it('files an ai-validation project from the Apply page; a non-validation purpose is refused naming the field', async () => {
    const dev = await signedIn('developer');
    const { page } = dev;
    await page.getByRole('navigation').getByRole('link', { name: 'Apply for data' }).click();
    // A demonstration hub offers AI validation as the only purpose.
    const purpose = page.getByLabel('Purpose', { exact: true });
    await expect.poll(() => purpose.locator('option').allTextContents()).toEqual(['ai-validation']);
    await page.getByLabel('Title').fill('External validation of a sepsis alert');
    await page.getByLabel('Access ends after').fill(new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10));
    await page.getByLabel('view_encounter').check();
    await page.getByRole('group', { name: 'view_encounter' }).getByLabel('patient_key').check();
    await page.getByLabel('Ethics (IRB) approval reference').fill('IRB-SEPSIS-9');
    await page.getByLabel('I accept the data use agreement').check();
    // A client that sends another purpose (an older console, a hand-made request) is refused by the hub, and the
    // page names the field: the request leaves the page as filled, its purpose replaced on the way.
    await page.route('**/projects', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const body = route.request().postDataJSON() as Record<string, unknown>;
      await route.continue({ postData: JSON.stringify({ ...body, purpose: 'research' }) });
    });
    await page.getByRole('button', { name: 'Submit the request' }).click();
    await page
      .getByRole('alert')
      .filter({ hasText: 'purpose:' })
      .filter({ hasText: 'PROJECT_INVALID_APPLICATION' })
      .waitFor();
    await page.unroute('**/projects');
    await page.getByRole('button', { name: 'Submit the request' }).click();
    await page.getByRole('heading', { name: 'External validation of a sepsis alert' }).waitFor();
    await page.getByRole('cell', { name: 'awaiting review' }).waitFor();
    const filed = (await env.hub.projects.list({ name: 'acme', role: 'developer' })).filter(
      (p) => p.title === 'External validation of a sepsis alert',
    );
    expect(filed.map((p) => [p.purpose, p.decision])).toEqual([['ai-validation', 'pending']]);
    expect(dev.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    await dev.close();
  }, 60_000);

  it('submits a model, validates it, opens and verifies its report, approves it', async () => {
    const dev = await signedIn('developer');
    await dev.page.getByRole('navigation').getByRole('link', { name: 'Submit a model' }).click();
    await dev.page.getByLabel('Model (ONNX file)').setInputFiles(join(files, 'acme.onnx'));
    await dev.page.getByLabel('Manifest (JSON file)').setInputFiles(join(files, 'manifest.json'));
    await dev.page.getByRole('button', { name: 'Submit' }).click();
    await dev.page
      .getByRole('status')
      .filter({ hasText: 'Submitted ACME hypertension risk 2.3.1: submitted.' })
      .waitFor();
    expect(dev.errors, dev.errors.join('\n')).toEqual([]);
    await dev.close();

    const val = await signedIn('validator');
    const nav = val.page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Model validations' }).click();
    await val.page.getByTestId('submissions').getByRole('button', { name: 'Open' }).click();
    await val.page.getByRole('button', { name: 'Validate on this hub' }).click();
    const report = val.page.getByTestId('validation-report');
    await report.getByText('Verdict:').waitFor();
    await report.getByText('AUROC (95% CI)').waitFor();
    const download = val.page.waitForEvent('download');
    await report.getByRole('button', { name: 'Download signed file (.jws)' }).click();
    const jwsPath = join(files, 'report.jws');
    writeFileSync(jwsPath, readFileSync((await (await download).path())!));
    await val.page.getByLabel('Comment or reason').fill('Report reviewed: calibration adequate');
    await val.page.getByRole('button', { name: 'Approve to serve' }).click();
    await val.page.getByTestId('submission-status').getByText('approved to serve').waitFor();
    await val.page.getByText('Too few predictions served yet to measure drift').waitFor();
    await val.page.screenshot({ path: screenshotPath('validation-01-approved'), fullPage: true });

    await nav.getByRole('link', { name: 'Verify a report' }).click();
    await val.page.getByLabel('Signed report').setInputFiles(jwsPath);
    await val.page.getByRole('button', { name: 'Verify' }).click();
    await val.page.getByRole('status').filter({ hasText: 'Valid: signed by busan' }).waitFor();
    // One changed byte in the signed file: not valid.
    const jws = readFileSync(jwsPath, 'utf8');
    const i = jws.indexOf('.') + 10;
    const tampered = join(files, 'tampered.jws');
    writeFileSync(tampered, `${jws.slice(0, i)}${jws[i] === 'A' ? 'B' : 'A'}${jws.slice(i + 1)}`);
    await val.page.getByLabel('Signed report').setInputFiles(tampered);
    await val.page.getByRole('button', { name: 'Verify' }).click();
    await val.page.getByRole('status').filter({ hasText: 'Not valid' }).waitFor();
    expect(val.errors, val.errors.join('\n')).toEqual([]);
    await val.close();
  }, 120_000);
});
