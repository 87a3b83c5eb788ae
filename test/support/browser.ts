import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { describe, it } from 'vitest';
import type { Hub } from '../../src/hub/index.js';
import { buildServer } from '../../src/server/index.js';

/** Debian's chromium (`apt-get install -y chromium`): playwright-core drives it and never downloads a browser. */
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);

/** Where the browser tests leave their screenshots (gitignored). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/console/', import.meta.url));

/**
 * A suite that drives the real browser: skipped with a visible notice where chromium is not installed, but
 * failing when CI=true, because CI installs it and a silent skip there would hide a broken setup.
 */
export function describeWithChromium(name: string, fn: () => void): void {
  if (hasChromium) {
    describe(name, fn);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs chromium, which CI installs', () => {
        throw new Error(`${CHROMIUM} is missing on CI (apt-get install -y chromium)`);
      });
    });
  } else {
    console.warn(`NOTICE: skipping "${name}": ${CHROMIUM} is absent (apt-get install -y chromium to run it).`);
    describe.skip(name, fn);
  }
}

export function launchChromium(): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Everything the page reports as an error: console errors and uncaught exceptions. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e: Error) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

/** A page of a fresh desktop-size browser context at `url`, with its errors collected; `close` ends the context. */
export async function openConsole(
  browser: Browser,
  url: string,
): Promise<{ page: Page; errors: string[]; close: () => Promise<void> }> {
  const context = await browser.newContext({
    locale: 'en-GB',
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const errors = collectErrors(page);
  await page.goto(url);
  return { page, errors, close: () => context.close() };
}

export function screenshotPath(name: string): string {
  return `${SCREENSHOTS}${name}.png`;
}

/** A hub's app listening on a free loopback port and a chromium to drive it; `close` stops both. */
export async function serveToChromium(
  hub: Hub,
): Promise<{ base: string; browser: Browser; close: () => Promise<void> }> {
  const app = await buildServer(hub);
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const browser = await launchChromium();
  return {
    base,
    browser,
    close: async () => {
      await browser.close();
      await app.close();
    },
  };
}
