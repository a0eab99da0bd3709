import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

/** Debian's Chromium: Playwright's own browser downloads are not available here; CI installs the package. */
const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Overwritten on every run, outside the work tree, for a person to look at what the browser drew. */
const screenshotPath = path.join(tmpdir(), 'aihub-api-docs.png');

describe('the API docs page in a real browser', () => {
  let testApp: TestApp;
  let origin: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    testApp = await startTestApp();
    origin = await listenOnLoopback(testApp.instance.app);
  });
  afterAll(async () => {
    await browser?.close();
    await testApp?.close();
  });

  it('renders the title and the operations list from the served document', async () => {
    // Fail, never skip: a docs page nobody renders is the regression this test exists to catch.
    expect(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: apt-get install -y chromium`).toBe(true);
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Everything the page needs is served by the app itself (no CDN, no validator badge).
    const foreignRequests: string[] = [];
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(`${origin}/`) && !url.startsWith('data:')) foreignRequests.push(url);
    });
    const response = await page.goto(`${origin}/api/docs`);
    expect(response?.ok()).toBe(true);

    const me = page.locator('.opblock-get', { has: page.locator('[data-path="/api/v1/me"]') });
    await me.waitFor({ state: 'visible', timeout: 20_000 });
    expect((await me.locator('.opblock-summary-method').textContent())?.trim()).toBe('GET');
    expect(await me.locator('.opblock-summary-path').textContent()).toContain('/api/v1/me');
    const title = page.locator('.info .title');
    expect(await title.isVisible()).toBe(true);
    expect(await title.textContent()).toContain('AI Hub API');
    // Every documented operation is on the page, not just the first few.
    const documented = await page.evaluate(async () => {
      const served = await fetch('/api/openapi.json');
      const paths = ((await served.json()) as { paths: Record<string, object> }).paths;
      return Object.values(paths).reduce((count, item) => count + Object.keys(item).length, 0);
    });
    expect(await page.locator('.opblock').count()).toBe(documented);
    const deprecated = page.locator('.opblock-deprecated [data-path="/api/v1/organizations/{org_id}"]');
    expect(await deprecated.count()).toBe(1);
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);

    await page.screenshot({ path: screenshotPath, fullPage: true });
    expect(statSync(screenshotPath).size).toBeGreaterThan(10_000);
    await page.close();
  });
});
