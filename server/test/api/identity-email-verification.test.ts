import { describe, expect, it } from 'vitest';
import {
  auditEventsFor,
  bearer,
  goodPassword,
  loginWithPassword,
  registerAccount,
  useIdentityTestApp,
} from '../support/identity.ts';
import { testEngines } from '../support/test-database.ts';

describe.each(testEngines)('email verification on %s', (engine) => {
  const identityApp = useIdentityTestApp(engine);

  it('sends no email at registration when verification is optional', async () => {
    const account = await registerAccount(identityApp);
    expect(identityApp.mailer.to(account.email)).toEqual([]);
  });

  it('emails a link on request, verifies with it once (410 after), and audits it', async () => {
    const account = await registerAccount(identityApp);
    const session = await loginWithPassword(identityApp, account.email, goodPassword);
    const request = await identityApp.post('/auth/email/verify-request', undefined, {
      headers: bearer(session.access_token),
    });
    expect(request.statusCode).toBe(202);
    const token = identityApp.mailer.tokenSentTo(account.email, '/verify-email');

    const verify = await identityApp.post('/auth/email/verify', { token });
    expect(verify.statusCode).toBe(204);
    const me = await identityApp.testApp.instance.services.database.db
      .selectFrom('users')
      .select('email_verified_at')
      .where('id', '=', account.id)
      .executeTakeFirstOrThrow();
    expect(me.email_verified_at).not.toBeNull();
    expect(await auditEventsFor(identityApp, 'user.email_verify', account.id)).toHaveLength(1);

    const again = await identityApp.post('/auth/email/verify', { token });
    expect(again.statusCode).toBe(410);

    const afterVerified = await identityApp.post('/auth/email/verify-request', undefined, {
      headers: bearer(session.access_token),
    });
    expect(afterVerified.statusCode).toBe(202);
    expect(identityApp.mailer.to(account.email)).toHaveLength(1);
  });

  it('refuses an expired verification link with 410', async () => {
    const account = await registerAccount(identityApp);
    const session = await loginWithPassword(identityApp, account.email, goodPassword);
    await identityApp.post('/auth/email/verify-request', undefined, { headers: bearer(session.access_token) });
    const token = identityApp.mailer.tokenSentTo(account.email, '/verify-email');
    await identityApp.testApp.instance.services.database.db
      .updateTable('user_tokens')
      .set({ expires_at: Date.now() - 1 })
      .where('user_id', '=', account.id)
      .execute();
    expect((await identityApp.post('/auth/email/verify', { token })).statusCode).toBe(410);
  });

  it('needs a signed-in caller to request a link', async () => {
    expect((await identityApp.post('/auth/email/verify-request')).statusCode).toBe(401);
  });

  it('throttles verification emails per user', async () => {
    const account = await registerAccount(identityApp);
    const session = await loginWithPassword(identityApp, account.email, goodPassword);
    const request = () =>
      identityApp.post('/auth/email/verify-request', undefined, { headers: bearer(session.access_token) });
    for (let attempt = 0; attempt < 5; attempt++) expect((await request()).statusCode).toBe(202);
    expect((await request()).statusCode).toBe(429);
  });

  describe('when required', () => {
    const strictApp = useIdentityTestApp(engine, { requireEmailVerification: true });

    it('emails the link at registration', async () => {
      const account = await registerAccount(strictApp);
      const [message] = strictApp.mailer.to(account.email);
      expect(message?.text).toContain('http://hub.test/verify-email?token=');
    });
  });
});
