import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goodPassword, registerAccount, startIdentityTestApp, type IdentityTestApp } from '../support/identity.ts';
import { testEngines } from '../support/test-database.ts';

/** Signs in as the console does and returns the cookies it was given. */
async function consoleSignIn(identityApp: IdentityTestApp): Promise<Record<string, string>> {
  const account = await registerAccount(identityApp);
  const login = await identityApp.post(
    '/auth/login',
    { email: account.email, password: goodPassword },
    { query: { session: 'cookie' } },
  );
  expect(login.statusCode).toBe(200);
  return Object.fromEntries(login.cookies.map((cookie) => [cookie.name, cookie.value]));
}

describe.each(testEngines)('CSRF tokens bound to the session on %s', (engine) => {
  let identityApp: IdentityTestApp;
  beforeAll(async () => {
    identityApp = await startIdentityTestApp(engine);
  });
  afterAll(async () => {
    await identityApp.close();
  });

  it('refuses an injected CSRF cookie and a matching header (a planted double-submit pair)', async () => {
    const cookies = await consoleSignIn(identityApp);
    const planted = 'attacker-chosen-value';
    const response = await identityApp.post('/auth/logout', undefined, {
      cookies: { aihub_session: cookies.aihub_session!, aihub_csrf: planted },
      headers: { 'x-csrf-token': planted },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('csrf_failed');
  });

  it("refuses another session's CSRF token, and accepts the session's own even without the cookie", async () => {
    const victim = await consoleSignIn(identityApp);
    const attacker = await consoleSignIn(identityApp);
    expect(attacker.aihub_csrf).not.toBe(victim.aihub_csrf);

    const crossed = await identityApp.post('/auth/logout', undefined, {
      cookies: { aihub_session: victim.aihub_session!, aihub_csrf: attacker.aihub_csrf! },
      headers: { 'x-csrf-token': attacker.aihub_csrf! },
    });
    expect(crossed.statusCode).toBe(403);

    const own = await identityApp.post('/auth/logout', undefined, {
      cookies: { aihub_session: victim.aihub_session! },
      headers: { 'x-csrf-token': victim.aihub_csrf! },
    });
    expect(own.statusCode).toBe(204);
  });

  it('checks the refresh cookie against the token of its own session, which stays the same across refreshes', async () => {
    const cookies = await consoleSignIn(identityApp);
    const other = await consoleSignIn(identityApp);
    const planted = await identityApp.post('/auth/refresh', undefined, {
      cookies: { aihub_refresh: cookies.aihub_refresh!, aihub_csrf: 'planted' },
      headers: { 'x-csrf-token': 'planted' },
    });
    expect(planted.statusCode).toBe(403);
    const crossed = await identityApp.post('/auth/refresh', undefined, {
      cookies: { aihub_refresh: cookies.aihub_refresh! },
      headers: { 'x-csrf-token': other.aihub_csrf! },
    });
    expect(crossed.statusCode).toBe(403);

    const refreshed = await identityApp.post('/auth/refresh', undefined, {
      cookies: { aihub_refresh: cookies.aihub_refresh! },
      headers: { 'x-csrf-token': cookies.aihub_csrf! },
    });
    expect(refreshed.statusCode).toBe(200);
    const renewed = Object.fromEntries(refreshed.cookies.map((cookie) => [cookie.name, cookie.value]));
    expect(renewed.aihub_csrf).toBe(cookies.aihub_csrf);
  });
});
