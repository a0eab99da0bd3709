import { describe, expect, it } from 'vitest';
import {
  auditEventsFor,
  bearer,
  goodPassword,
  loginWithPassword,
  registerAccount,
  useIdentityTestApp,
  uniqueEmail,
} from '../support/identity.ts';
import { testEngines } from '../support/test-database.ts';

const newPassword = 'Harbour-Quartz-Mosaic-77';

describe.each(testEngines)('passwords on %s', (engine) => {
  const identityApp = useIdentityTestApp(engine, { publicUrl: 'https://hub.example.com' });

  const me = (accessToken: string) => identityApp.get('/me', { headers: bearer(accessToken) });
  const login = (email: string, password: string) => identityApp.post('/auth/login', { email, password });

  describe('change', () => {
    it('sets the new password, keeps this session, ends the others, and is audited', async () => {
      const account = await registerAccount(identityApp);
      const current = await loginWithPassword(identityApp, account.email, goodPassword);
      const other = await loginWithPassword(identityApp, account.email, goodPassword);
      const response = await identityApp.post(
        '/auth/password/change',
        { current_password: goodPassword, new_password: newPassword },
        { headers: bearer(current.access_token) },
      );
      expect(response.statusCode).toBe(204);
      expect((await me(current.access_token)).statusCode).toBe(200);
      expect((await me(other.access_token)).statusCode).toBe(401);
      expect((await login(account.email, goodPassword)).statusCode).toBe(401);
      expect((await login(account.email, newPassword)).statusCode).toBe(200);
      const events = await auditEventsFor(identityApp, 'user.password_change', account.id);
      expect(events).toHaveLength(1);
      expect(events[0]!.after).not.toContain(newPassword);
    });

    it('refuses a wrong current password, a weak or unchanged new one, with 400 and no change', async () => {
      const account = await registerAccount(identityApp);
      const session = await loginWithPassword(identityApp, account.email, goodPassword);
      const change = (body: Record<string, string>) =>
        identityApp.post('/auth/password/change', body, { headers: bearer(session.access_token) });

      const wrong = await change({ current_password: 'Not-The-Password-1', new_password: newPassword });
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json()).toMatchObject({ code: 'invalid_request', param: 'current_password' });

      const weak = await change({ current_password: goodPassword, new_password: 'short' });
      expect(weak.statusCode).toBe(400);
      expect(weak.json()).toMatchObject({ code: 'weak_password', param: 'new_password' });
      expect(weak.json().detail).toContain('rule: min_length');

      const same = await change({ current_password: goodPassword, new_password: goodPassword });
      expect(same.statusCode).toBe(400);
      expect(same.json().detail).toContain('rule: same_as_current');

      expect((await login(account.email, goodPassword)).statusCode).toBe(200);
      expect(await auditEventsFor(identityApp, 'user.password_change', account.id)).toHaveLength(0);
    });

    it('needs a signed-in caller', async () => {
      const response = await identityApp.post('/auth/password/change', {
        current_password: goodPassword,
        new_password: newPassword,
      });
      expect(response.statusCode).toBe(401);
    });
  });

  describe('reset', () => {
    it('works end to end: 202, an emailed link, a new password, every session ended, audited', async () => {
      const account = await registerAccount(identityApp);
      const session = await loginWithPassword(identityApp, account.email, goodPassword);

      const request = await identityApp.post('/auth/password/reset-request', {
        email: ` ${account.email.toUpperCase()}`,
      });
      expect(request.statusCode).toBe(202);
      const [message] = identityApp.mailer.to(account.email);
      expect(message?.subject).toMatch(/reset/i);
      expect(message?.text).toContain('https://hub.example.com/reset-password?token=');
      const token = identityApp.mailer.tokenSentTo(account.email, '/reset-password');

      const stored = await identityApp.testApp.instance.services.database.db
        .selectFrom('user_tokens')
        .select(['token_hash', 'expires_at', 'purpose'])
        .where('user_id', '=', account.id)
        .executeTakeFirstOrThrow();
      expect(stored.purpose).toBe('password_reset');
      expect(stored.token_hash).not.toBe(token);
      expect(stored.expires_at - Date.now()).toBeLessThanOrEqual(60 * 60 * 1000);

      const reset = await identityApp.post('/auth/password/reset', { token, new_password: newPassword });
      expect(reset.statusCode).toBe(204);
      expect((await me(session.access_token)).statusCode).toBe(401);
      expect((await login(account.email, goodPassword)).statusCode).toBe(401);
      expect((await login(account.email, newPassword)).statusCode).toBe(200);
      expect(await auditEventsFor(identityApp, 'user.password_reset', account.id)).toHaveLength(1);

      const again = await identityApp.post('/auth/password/reset', { token, new_password: 'Another-Fine-Phrase-88' });
      expect(again.statusCode).toBe(410);
      expect(again.json().code).toBe('gone');
    });

    it('answers 202 for an unknown address and sends nothing', async () => {
      const email = uniqueEmail('nobody');
      const response = await identityApp.post('/auth/password/reset-request', { email });
      expect(response.statusCode).toBe(202);
      expect(identityApp.mailer.to(email)).toEqual([]);
    });

    it('refuses an expired link with 410 and changes nothing', async () => {
      const account = await registerAccount(identityApp);
      await identityApp.post('/auth/password/reset-request', { email: account.email });
      const token = identityApp.mailer.tokenSentTo(account.email, '/reset-password');
      await identityApp.testApp.instance.services.database.db
        .updateTable('user_tokens')
        .set({ expires_at: Date.now() - 1000 })
        .where('user_id', '=', account.id)
        .execute();
      const response = await identityApp.post('/auth/password/reset', { token, new_password: newPassword });
      expect(response.statusCode).toBe(410);
      expect((await login(account.email, goodPassword)).statusCode).toBe(200);
    });

    it('refuses an unknown token with 410', async () => {
      const response = await identityApp.post('/auth/password/reset', { token: 'made-up', new_password: newPassword });
      expect(response.statusCode).toBe(410);
    });

    it('keeps the link usable when the new password is weak (nothing is spent)', async () => {
      const account = await registerAccount(identityApp);
      await identityApp.post('/auth/password/reset-request', { email: account.email });
      const token = identityApp.mailer.tokenSentTo(account.email, '/reset-password');
      const weak = await identityApp.post('/auth/password/reset', { token, new_password: 'password1234' });
      expect(weak.statusCode).toBe(400);
      expect(weak.json().code).toBe('weak_password');
      expect((await identityApp.post('/auth/password/reset', { token, new_password: newPassword })).statusCode).toBe(
        204,
      );
    });

    it('spends older reset links when one is used', async () => {
      const account = await registerAccount(identityApp);
      await identityApp.post('/auth/password/reset-request', { email: account.email });
      const older = identityApp.mailer.tokenSentTo(account.email, '/reset-password');
      await identityApp.post('/auth/password/reset-request', { email: account.email });
      const newer = identityApp.mailer.tokenSentTo(account.email, '/reset-password');
      expect(newer).not.toBe(older);
      expect(
        (await identityApp.post('/auth/password/reset', { token: newer, new_password: newPassword })).statusCode,
      ).toBe(204);
      expect(
        (await identityApp.post('/auth/password/reset', { token: older, new_password: newPassword })).statusCode,
      ).toBe(410);
    });

    it('throttles reset requests per address with 429', async () => {
      const email = uniqueEmail('flood');
      for (let attempt = 0; attempt < 5; attempt++) {
        expect((await identityApp.post('/auth/password/reset-request', { email })).statusCode).toBe(202);
      }
      const blocked = await identityApp.post('/auth/password/reset-request', { email });
      expect(blocked.statusCode).toBe(429);
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    });
  });

  it('marks cookies Secure when the public URL is https', async () => {
    const account = await registerAccount(identityApp);
    const response = await identityApp.post(
      '/auth/login',
      { email: account.email, password: goodPassword },
      { query: { session: 'cookie' } },
    );
    for (const cookie of response.cookies) expect(cookie.secure).toBe(true);
  });
});
