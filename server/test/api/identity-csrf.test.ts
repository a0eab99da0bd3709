import { describe, expect, it } from 'vitest';
import { signInToConsole, useIdentityTestApp } from '../support/identity.ts';
import { testEngines } from '../support/test-database.ts';

describe.each(testEngines)('CSRF tokens bound to the session on %s', (engine) => {
  const identityApp = useIdentityTestApp(engine);

  it('refuses an injected CSRF cookie and a matching header (a planted double-submit pair)', async () => {
    const cookies = await signInToConsole(identityApp);
    const planted = 'attacker-chosen-value';
    const response = await identityApp.post('/auth/logout', undefined, {
      cookies: { aihub_session: cookies.aihub_session!, aihub_csrf: planted },
      headers: { 'x-csrf-token': planted },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('csrf_failed');
  });

  it("refuses another session's CSRF token, and accepts the session's own even without the cookie", async () => {
    const victim = await signInToConsole(identityApp);
    const attacker = await signInToConsole(identityApp);
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
    const cookies = await signInToConsole(identityApp);
    const other = await signInToConsole(identityApp);
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

  it('refuses a header as long as the token but with a non-ASCII character, as a CSRF failure', async () => {
    const cookies = await signInToConsole(identityApp);
    // Same number of characters as the real token, more bytes: must not reach the constant-time compare unequal.
    const lookalike = `\u00e9${cookies.aihub_csrf!.slice(1)}`;
    const response = await identityApp.post('/auth/logout', undefined, {
      cookies: { aihub_session: cookies.aihub_session! },
      headers: { 'x-csrf-token': lookalike },
    });
    expect(response.statusCode).toBe(403);
    expect(response.json().code).toBe('csrf_failed');
  });
});
