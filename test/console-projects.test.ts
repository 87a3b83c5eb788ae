import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ProjectView } from '../src/projects/index.js';
import { describeWithChromium, openConsole, screenshotPath, serveToChromium } from './support/browser.js';
import { tempHub } from './support/temp-hub.js';

describeWithChromium('project pages of the console: apply, review, my projects', () => {
  let env: Awaited<ReturnType<typeof tempHub>>;
  let served: Awaited<ReturnType<typeof serveToChromium>> | undefined;
  let base: string;
  let browser: Browser;
  const tokens = new Map<string, string>();
  const endDate = new Date(Date.now() + 60 * 86_400_000).toISOString().slice(0, 10);

  beforeAll(async () => {
    env = await tempHub('console-projects', { role: 'research' });
    tokens.set('researcher', await env.hub.tokens.create('mina', 'researcher'));
    tokens.set('steward', await env.hub.tokens.create('joon', 'steward'));
    served = await serveToChromium(env.hub);
    ({ base, browser } = served);
  });
  afterAll(async () => {
    await served?.close();
    await env?.cleanup();
  });

  async function signedIn(who: string): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
    const { page, errors, close } = await openConsole(browser, `${base}/`);
    await page.getByLabel('Access token').fill(tokens.get(who)!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('hub-name').waitFor();
    return { page, errors, close };
  }

  it('files an application from the form, which a steward approves with conditions and the applicant then sees', async () => {
    const applicant = await signedIn('researcher');
    const { page } = applicant;
    await page.getByRole('navigation').getByRole('link', { name: 'Apply for data' }).click();
    await page.getByLabel('Title').fill('Asthma in children');
    await page.getByLabel('Access ends after').fill(endDate);
    await page.getByLabel('view_condition').check();
    await page.getByRole('group', { name: 'view_condition' }).getByLabel('code_code').check();
    await page.getByRole('group', { name: 'view_condition' }).getByLabel('patient_key').check();
    await page.getByLabel('Ethics (IRB) approval reference').fill('IRB-77');
    // Every control of the form has a label.
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea')]
        .filter((el) => (el as HTMLInputElement).labels?.length === 0 && !el.getAttribute('aria-label'))
        .map((el) => el.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    // Without the data use agreement the hub refuses, naming the field.
    await page.getByRole('button', { name: 'Submit the request' }).click();
    await page.getByRole('alert').filter({ hasText: 'dataUseAgreement' }).waitFor();
    await page.getByLabel('I accept the data use agreement').check();
    await page.getByRole('button', { name: 'Submit the request' }).click();
    await page.getByRole('heading', { name: 'Asthma in children' }).waitFor();
    await page.getByRole('cell', { name: 'awaiting review' }).waitFor();
    await page.screenshot({ path: screenshotPath('projects-01-filed'), fullPage: true });
    const [filed] = await env.hub.projects.list({ name: 'mina', role: 'researcher' });
    expect(filed).toMatchObject({ title: 'Asthma in children', decision: 'pending', endDate });

    const steward = await signedIn('steward');
    await steward.page.getByRole('navigation').getByRole('link', { name: 'Review' }).click();
    await steward.page.getByRole('button', { name: 'Asthma in children' }).click();
    await steward.page.getByLabel('approved with conditions').check();
    await steward.page.getByLabel('Conditions', { exact: true }).fill('aggregate outputs only');
    await steward.page.getByLabel('Comment', { exact: true }).fill('fits the purpose');
    await steward.page.getByRole('button', { name: 'Record the decision' }).click();
    await steward.page.getByRole('cell', { name: 'aggregate outputs only', exact: true }).waitFor();
    await steward.page.screenshot({ path: screenshotPath('projects-02-reviewed'), fullPage: true });
    const view: ProjectView = await env.hub.projects.view(filed!.id);
    expect(view.hubs[0]).toMatchObject({ decision: 'approved-with-conditions', decidedBy: 'joon' });
    expect(view.hubs[0]?.tables).toEqual([{ name: 'condition', columns: ['code_code', 'patient_key'] }]);

    await page.getByRole('navigation').getByRole('link', { name: 'My projects' }).click();
    await page.getByRole('button', { name: 'Asthma in children' }).click();
    await page.getByRole('cell', { name: 'fits the purpose (conditions: aggregate outputs only)' }).waitFor();
    expect(applicant.errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    expect(steward.errors).toEqual([]);
    await applicant.close();
    await steward.close();
  });
});
