import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { buildServer } from '../src/server/index.js';
import { collectErrors, describeWithChromium, launchChromium, screenshotPath } from './support/browser.js';
import { tempHub } from './support/temp-hub.js';

/**
 * Issue 16 in the browser: a person signs in to the console with a sign-in name and password, an admin manages
 * accounts on the Accounts page, and signing out ends the session at the hub (its token refused at once).
 */
const PASSWORD = 'correct horse battery staple';

describeWithChromium('console sign-in with an account (chromium via playwright-core)', () => {
  let env: Awaited<ReturnType<typeof tempHub>>;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    env = await tempHub('console-accounts');
    await env.hub.accounts.create('test', {
      handle: 'choi.admin',
      role: 'admin',
      signInName: 'choi@cnuh.example.kr',
      password: PASSWORD,
    });
    app = await buildServer(env.hub);
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await env?.cleanup();
  });
  afterEach(async () => {
    await context?.close();
  });

  it('signs up, signs in with a password, approves and creates accounts on the Accounts page, and signs out', async () => {
    context = await browser.newContext({ locale: 'en-GB' });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${base}/`);
    // A person asks for an account; it waits for an admin.
    await page.locator('#sign-up-handle').fill('seo.applicant');
    await page.locator('#sign-up-password').fill(PASSWORD);
    await page.getByLabel('I am a').selectOption('developer');
    await page.getByRole('button', { name: 'Ask for an account' }).click();
    await page.getByRole('status').filter({ hasText: 'Account seo.applicant asked for' }).waitFor();
    expect((await env.hub.accounts.registry.get('seo.applicant')).status).toBe('pending');
    await page.getByLabel('Sign-in name').fill('choi@cnuh.example.kr');
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'The sign-in name or password is wrong.' }).waitFor();
    await page.getByLabel('Password').fill(PASSWORD);
    const errors = collectErrors(page);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('hub-name').waitFor();
    const token = await page.evaluate(() => sessionStorage.getItem('healthmesh.token'));
    expect(token).not.toMatch(/^hm_/);
    expect(await page.evaluate(() => sessionStorage.getItem('healthmesh.refresh'))).toMatch(/^hmr_/);

    await page.getByRole('navigation').getByRole('link', { name: 'Accounts' }).click();
    await page.getByTestId('accounts').getByText('choi.admin').waitFor();
    const applicant = page.getByTestId('accounts').locator('tr', { hasText: 'seo.applicant' });
    await applicant.getByText('waiting for approval').waitFor();
    await applicant.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(async () => (await env.hub.accounts.registry.get('seo.applicant')).status).toBe('active');
    await page.locator('#new-handle').fill('yoon.researcher');
    await page.locator('#new-password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByRole('status').filter({ hasText: 'Account yoon.researcher created.' }).waitFor();
    await page.getByLabel('Role of yoon.researcher').selectOption('steward');
    await expect.poll(async () => (await env.hub.accounts.registry.get('yoon.researcher')).role).toBe('steward');
    await page.getByTestId('accounts').getByText('yoon.researcher').waitFor();
    await page.locator('#reset-account').selectOption({ label: 'yoon.researcher' });
    await page.getByLabel('New password').fill('another long password');
    await page.getByRole('button', { name: 'Reset a password' }).click();
    await page.getByRole('status').filter({ hasText: 'Password of yoon.researcher reset' }).waitFor();
    const relogin = await app.inject({
      method: 'POST',
      url: '/auth/login',
      payload: { name: 'yoon.researcher', password: 'another long password' },
    });
    expect(relogin.statusCode).toBe(200);
    // A service token made from the console works at once, and fails at once when revoked there.
    const tokens = page.locator('section', { has: page.locator('h2#tokens') });
    await tokens.getByLabel('Holder').fill('lab-feed');
    await tokens.locator('select').selectOption('service');
    await tokens.getByRole('button', { name: 'Make a token' }).click();
    const labToken = (await page.getByTestId('new-token').textContent())!;
    const asLab = () => app.inject({ url: '/console/policy', headers: { authorization: `Bearer ${labToken}` } });
    expect((await asLab()).statusCode).toBe(200);
    await page
      .getByTestId('tokens')
      .locator('tr', { hasText: 'lab-feed' })
      .getByRole('button', { name: 'Revoke' })
      .click();
    await page.getByTestId('tokens').locator('tr', { hasText: 'lab-feed' }).waitFor({ state: 'detached' });
    expect((await asLab()).statusCode).toBe(401);
    await page.screenshot({ path: screenshotPath('accounts'), fullPage: true });
    expect(errors).toEqual([]);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to this hub' }).waitFor();
    const after = await app.inject({ url: '/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect(after.statusCode).toBe(401);
  });
});
