import { describe, expect, it } from 'vitest';
import {
  bearer,
  goodPassword,
  loginWithPassword,
  registerAccount,
  signInToConsole,
  useIdentityTestApp,
  uniqueEmail,
  type BearerSession,
} from '../support/identity.ts';
import { testEngines } from '../support/test-database.ts';

let addressCounter = 0;
/** Each test signs in from its own address, so the per-IP counter of one test does not leak into another. */
function freshAddress(): string {
  addressCounter += 1;
  return `10.1.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
}

describe.each(testEngines)('sign-in on %s', (engine) => {
  const identityApp = useIdentityTestApp(engine);

  it('returns bearer tokens that sign the user in to the management API', async () => {
    const account = await registerAccount(identityApp);
    const response = await identityApp.post('/auth/login', {
      email: account.email.toUpperCase(),
      password: goodPassword,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json<BearerSession>();
    expect(body).toEqual({
      access_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: expect.any(String),
    });
    const me = await identityApp.get('/me', { headers: bearer(body.access_token) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: account.id, email: account.email });
  });

  it('answers an unknown email and a wrong password alike with 401 invalid_credentials', async () => {
    const account = await registerAccount(identityApp);
    const remoteAddress = freshAddress();
    const wrong = await identityApp.post(
      '/auth/login',
      { email: account.email, password: 'Not-The-Password-1' },
      { remoteAddress },
    );
    const unknown = await identityApp.post(
      '/auth/login',
      { email: uniqueEmail('ghost'), password: goodPassword },
      { remoteAddress },
    );
    for (const response of [wrong, unknown]) {
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'invalid_credentials' });
    }
    expect(wrong.json().detail).toBe(unknown.json().detail);
  });

  it('refuses a disabled account with 401', async () => {
    const account = await registerAccount(identityApp);
    await identityApp.testApp.instance.services.database.db
      .updateTable('users')
      .set({ disabled_at: Date.now() })
      .where('id', '=', account.id)
      .execute();
    const response = await identityApp.post('/auth/login', { email: account.email, password: goodPassword });
    expect(response.statusCode).toBe(401);
    expect(response.json().code).toBe('unauthenticated');
  });

  it('throttles an account from one address after 5 failures with 429 and Retry-After, even for the right password', async () => {
    const account = await registerAccount(identityApp);
    const remoteAddress = freshAddress();
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await identityApp.post(
        '/auth/login',
        { email: account.email, password: `Wrong-Password-${attempt}` },
        { remoteAddress },
      );
      expect(response.statusCode).toBe(401);
    }
    const blocked = await identityApp.post(
      '/auth/login',
      { email: account.email, password: goodPassword },
      { remoteAddress },
    );
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().code).toBe('too_many_attempts');
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
  });

  it('forgets an account’s failures after a successful sign-in', async () => {
    const account = await registerAccount(identityApp);
    const remoteAddress = freshAddress();
    const fail = () =>
      identityApp.post('/auth/login', { email: account.email, password: 'Wrong-Password-0' }, { remoteAddress });
    for (let attempt = 0; attempt < 4; attempt++) expect((await fail()).statusCode).toBe(401);
    await loginWithPassword(identityApp, account.email, goodPassword, remoteAddress);
    for (let attempt = 0; attempt < 4; attempt++) expect((await fail()).statusCode).toBe(401);
    await loginWithPassword(identityApp, account.email, goodPassword, remoteAddress);
  });

  it('throttles an address after 20 failures across accounts, and only that address', async () => {
    const remoteAddress = freshAddress();
    for (let attempt = 0; attempt < 20; attempt++) {
      const response = await identityApp.post(
        '/auth/login',
        { email: uniqueEmail('spray'), password: 'Wrong-Password-0' },
        { remoteAddress },
      );
      expect(response.statusCode).toBe(401);
    }
    const account = await registerAccount(identityApp);
    const blocked = await identityApp.post(
      '/auth/login',
      { email: account.email, password: goodPassword },
      { remoteAddress },
    );
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    await loginWithPassword(identityApp, account.email, goodPassword, freshAddress());
  });

  it('does not count successful sign-ins against the address', async () => {
    const account = await registerAccount(identityApp);
    const remoteAddress = freshAddress();
    for (let attempt = 0; attempt < 25; attempt++) {
      await loginWithPassword(identityApp, account.email, goodPassword, remoteAddress);
    }
  });

  describe('console sessions (cookies + CSRF)', () => {
    it('sets httpOnly session and refresh cookies and a readable CSRF cookie; the body holds no tokens', async () => {
      const account = await registerAccount(identityApp);
      const response = await identityApp.post(
        '/auth/login',
        { email: account.email, password: goodPassword },
        { query: { session: 'cookie' } },
      );
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ session: 'cookie', expires_in: 900 });
      const cookies = Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie]));
      expect(cookies.aihub_session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', maxAge: 900 });
      expect(cookies.aihub_refresh).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/api/v1/auth' });
      expect(cookies.aihub_csrf).toMatchObject({ sameSite: 'Lax', path: '/' });
      expect(cookies.aihub_csrf?.httpOnly).toBeFalsy();
      expect(cookies.aihub_session?.secure).toBeFalsy();
      expect(response.body).not.toContain(cookies.aihub_session!.value);
    });

    it('also answers to the x-aihub-client: console header', async () => {
      const account = await registerAccount(identityApp);
      const response = await identityApp.post(
        '/auth/login',
        { email: account.email, password: goodPassword },
        { headers: { 'x-aihub-client': 'console' } },
      );
      expect(response.json()).toEqual({ session: 'cookie', expires_in: 900 });
    });

    it('reads with the cookie, but refuses a write without x-csrf-token (403 csrf_failed) and accepts it with', async () => {
      const cookies = await signInToConsole(identityApp);
      const sessionCookies = { aihub_session: cookies.aihub_session!, aihub_csrf: cookies.aihub_csrf! };

      const me = await identityApp.get('/me', { cookies: sessionCookies });
      expect(me.statusCode).toBe(200);

      const withoutHeader = await identityApp.post('/auth/logout', undefined, { cookies: sessionCookies });
      expect(withoutHeader.statusCode).toBe(403);
      expect(withoutHeader.json().code).toBe('csrf_failed');

      const wrongHeader = await identityApp.post('/auth/logout', undefined, {
        cookies: sessionCookies,
        headers: { 'x-csrf-token': 'not-the-token' },
      });
      expect(wrongHeader.statusCode).toBe(403);

      const withHeader = await identityApp.post('/auth/logout', undefined, {
        cookies: sessionCookies,
        headers: { 'x-csrf-token': sessionCookies.aihub_csrf },
      });
      expect(withHeader.statusCode).toBe(204);
      const cleared = Object.fromEntries(withHeader.cookies.map((cookie) => [cookie.name, cookie]));
      expect(cleared.aihub_session?.value).toBe('');
      expect(cleared.aihub_refresh?.value).toBe('');
    });
  });

  describe('with email verification required', () => {
    const strictApp = useIdentityTestApp(engine, { requireEmailVerification: true });

    it('refuses sign-in with 403 until the address is verified, then lets the user in', async () => {
      const account = await registerAccount(strictApp);
      const refused = await strictApp.post('/auth/login', { email: account.email, password: goodPassword });
      expect(refused.statusCode).toBe(403);
      expect(refused.json().code).toBe('forbidden');

      const token = strictApp.mailer.tokenSentTo(account.email, '/verify-email');
      expect((await strictApp.post('/auth/email/verify', { token })).statusCode).toBe(204);
      await loginWithPassword(strictApp, account.email, goodPassword);
    });

    it('does not reveal the verification state to someone without the password', async () => {
      const account = await registerAccount(strictApp);
      const response = await strictApp.post('/auth/login', { email: account.email, password: 'Wrong-Password-0' });
      expect(response.statusCode).toBe(401);
    });
  });
});
