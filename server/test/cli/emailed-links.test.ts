import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, goodPassword, loginWithPassword, registerAccount, useIdentityTestApp } from '../support/identity.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';

/**
 * Every link AI Hub mails leads to a page that works: a real browser opens the mailed /reset-password and
 * /verify-email links, fills the form, and the API confirms the effect.
 */

const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
];
const newPassword = 'Copper-Heron-Meadow-77';

describe('pages behind the mailed links', () => {
  const identityApp = useIdentityTestApp('sqlite');
  let origin: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    origin = await listenOnLoopback(identityApp.testApp.instance.app);
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** The mailed link's path and query, opened on this server (the mail names the configured public URL). */
  function mailedLink(email: string, path: string): string {
    const link = identityApp.mailer.linkSentTo(email, path);
    return `${origin}${link.pathname}${link.search}`;
  }

  async function openBrowser(): Promise<Browser> {
    expect(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: apt-get install -y chromium`).toBe(true);
    browser ??= await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    return browser;
  }

  it('answers every mailed link and the console with an HTML page that keeps the token to itself', async () => {
    const account = await registerAccount(identityApp);
    const session = await loginWithPassword(identityApp, account.email, goodPassword);
    await identityApp.post('/auth/password/reset-request', { email: account.email });
    await identityApp.post('/auth/email/verify-request', undefined, { headers: bearer(session.access_token) });

    for (const url of [
      mailedLink(account.email, '/reset-password'),
      mailedLink(account.email, '/verify-email'),
      `${origin}/console`,
    ]) {
      const response = await fetch(url);
      expect(response.status, url).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(await response.text()).toMatch(/<form id="[a-z-]+-form" data-endpoint="\/api\/v1\/auth\//);
    }
    const root = await fetch(`${origin}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/console');
  });

  it('sets a new password from the mailed reset link in a real browser', async () => {
    const account = await registerAccount(identityApp);
    await identityApp.post('/auth/password/reset-request', { email: account.email });
    const page = await (await openBrowser()).newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));

    await page.goto(mailedLink(account.email, '/reset-password'));
    await page.fill('#new-password', newPassword);
    await page.fill('#confirm-password', newPassword);
    await page.click('button[type=submit]');
    await page.locator('[role=status].ok').waitFor({ timeout: 10_000 });

    expect(await page.locator('[role=status]').textContent()).toBe(
      'Your password is set. Sign in with it from now on.',
    );
    expect(pageErrors).toEqual([]);
    expect((await identityApp.post('/auth/login', { email: account.email, password: newPassword })).statusCode).toBe(
      200,
    );
    expect((await identityApp.post('/auth/login', { email: account.email, password: goodPassword })).statusCode).toBe(
      401,
    );
    await page.close();
  });

  it('verifies the address from the mailed link after a click, and shows the API refusal for a used link', async () => {
    const account = await registerAccount(identityApp);
    const session = await loginWithPassword(identityApp, account.email, goodPassword);
    await identityApp.post('/auth/email/verify-request', undefined, { headers: bearer(session.access_token) });
    const link = mailedLink(account.email, '/verify-email');
    const page = await (await openBrowser()).newPage();

    await page.goto(link);
    await page.click('button[type=submit]');
    await page.locator('[role=status].ok').waitFor({ timeout: 10_000 });
    expect(await page.locator('[role=status]').textContent()).toBe('Your email address is verified.');
    const user = await identityApp.testApp.instance.services.database.db
      .selectFrom('users')
      .select('email_verified_at')
      .where('email', '=', account.email)
      .executeTakeFirstOrThrow();
    expect(user.email_verified_at).toEqual(expect.any(Number));

    await page.goto(link);
    await page.click('button[type=submit]');
    await page.locator('[role=status].error').waitFor({ timeout: 10_000 });
    expect((await page.locator('[role=status]').textContent())?.length).toBeGreaterThan(0);
    await page.close();
  });
});
