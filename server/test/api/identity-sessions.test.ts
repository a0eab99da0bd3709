import { describe, expect, it } from 'vitest';
import {
  auditEventsFor,
  bearer,
  goodPassword,
  loginWithPassword,
  registerAccount,
  signInToConsole,
  useIdentityTestApp,
  type BearerSession,
} from '../support/identity.ts';
import { testEngines } from '../support/test-database.ts';

describe.each(testEngines)('sessions on %s', (engine) => {
  const identityApp = useIdentityTestApp(engine);

  const refresh = (refreshToken: string) => identityApp.post('/auth/refresh', { refresh_token: refreshToken });
  const me = (accessToken: string) => identityApp.get('/me', { headers: bearer(accessToken) });

  it('rotates: a refresh returns a new pair in the same session and retires the old refresh token', async () => {
    const account = await registerAccount(identityApp);
    const first = await loginWithPassword(identityApp, account.email, goodPassword);
    const response = await refresh(first.refresh_token);
    expect(response.statusCode).toBe(200);
    const second = response.json<BearerSession>();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await me(second.access_token)).statusCode).toBe(200);
    expect((await me(first.access_token)).statusCode).toBe(200);

    const rows = await identityApp.testApp.instance.services.database.db
      .selectFrom('refresh_tokens')
      .select(['family_id', 'replaced_by', 'revoked_at', 'token_hash'])
      .where('user_id', '=', account.id)
      .execute();
    expect(rows).toHaveLength(2);
    expect(new Set(rows.map((row) => row.family_id)).size).toBe(1);
    expect(rows.filter((row) => row.replaced_by !== null)).toHaveLength(1);
    for (const row of rows) expect(row.token_hash).not.toBe(first.refresh_token);

    const third = await refresh(second.refresh_token);
    expect(third.statusCode).toBe(200);
  });

  it('treats reuse of a retired refresh token as theft: the whole session ends and it is audited', async () => {
    const account = await registerAccount(identityApp);
    const first = await loginWithPassword(identityApp, account.email, goodPassword);
    const second = (await refresh(first.refresh_token)).json<BearerSession>();

    const replay = await refresh(first.refresh_token);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().code).toBe('unauthenticated');

    // The legitimate holder's newer tokens die with the family.
    expect((await refresh(second.refresh_token)).statusCode).toBe(401);
    expect((await me(second.access_token)).statusCode).toBe(401);
    expect(await auditEventsFor(identityApp, 'session.reuse_detected', account.id)).toHaveLength(1);
  });

  it('leaves the user’s other sessions alone when one is revoked for reuse', async () => {
    const account = await registerAccount(identityApp);
    const stolen = await loginWithPassword(identityApp, account.email, goodPassword);
    const other = await loginWithPassword(identityApp, account.email, goodPassword);
    await refresh(stolen.refresh_token);
    await refresh(stolen.refresh_token);
    expect((await me(other.access_token)).statusCode).toBe(200);
    expect((await refresh(other.refresh_token)).statusCode).toBe(200);
  });

  it('refuses an unknown or expired refresh token with 401', async () => {
    expect((await refresh('not-a-refresh-token')).statusCode).toBe(401);
    const account = await registerAccount(identityApp);
    const session = await loginWithPassword(identityApp, account.email, goodPassword);
    await identityApp.testApp.instance.services.database.db
      .updateTable('refresh_tokens')
      .set({ expires_at: Date.now() - 1000 })
      .where('user_id', '=', account.id)
      .execute();
    expect((await refresh(session.refresh_token)).statusCode).toBe(401);
  });

  it('refreshes a console session from the refresh cookie, only with the CSRF header', async () => {
    const cookies = await signInToConsole(identityApp);
    const refreshCookies = { aihub_refresh: cookies.aihub_refresh!, aihub_csrf: cookies.aihub_csrf! };

    const withoutHeader = await identityApp.post('/auth/refresh', undefined, { cookies: refreshCookies });
    expect(withoutHeader.statusCode).toBe(403);
    expect(withoutHeader.json().code).toBe('csrf_failed');

    const withHeader = await identityApp.post('/auth/refresh', undefined, {
      cookies: refreshCookies,
      headers: { 'x-csrf-token': refreshCookies.aihub_csrf },
    });
    expect(withHeader.statusCode).toBe(200);
    expect(withHeader.json()).toEqual({ session: 'cookie', expires_in: 900 });
    const renewed = Object.fromEntries(withHeader.cookies.map((cookie) => [cookie.name, cookie.value]));
    expect(renewed.aihub_refresh).toBeDefined();
    expect(renewed.aihub_refresh).not.toBe(refreshCookies.aihub_refresh);
    expect(renewed.aihub_session).toBeDefined();
  });

  it('answers a refresh with neither a token nor a cookie with 401', async () => {
    const response = await identityApp.post('/auth/refresh');
    expect(response.statusCode).toBe(401);
  });

  it('sign-out makes the access token unusable at once and the refresh token too', async () => {
    const account = await registerAccount(identityApp);
    const session = await loginWithPassword(identityApp, account.email, goodPassword);
    const other = await loginWithPassword(identityApp, account.email, goodPassword);
    const logout = await identityApp.post('/auth/logout', undefined, { headers: bearer(session.access_token) });
    expect(logout.statusCode).toBe(204);
    expect((await me(session.access_token)).statusCode).toBe(401);
    expect((await refresh(session.refresh_token)).statusCode).toBe(401);
    expect((await me(other.access_token)).statusCode).toBe(200);
  });

  it('sign-out everywhere ends every session of the user and is audited', async () => {
    const account = await registerAccount(identityApp);
    const sessions = [
      await loginWithPassword(identityApp, account.email, goodPassword),
      await loginWithPassword(identityApp, account.email, goodPassword),
    ];
    const bystander = await registerAccount(identityApp);
    const bystanderSession = await loginWithPassword(identityApp, bystander.email, goodPassword);

    const response = await identityApp.post('/auth/logout-all', undefined, {
      headers: bearer(sessions[0]!.access_token),
    });
    expect(response.statusCode).toBe(204);
    for (const session of sessions) {
      expect((await me(session.access_token)).statusCode).toBe(401);
      expect((await refresh(session.refresh_token)).statusCode).toBe(401);
    }
    expect((await me(bystanderSession.access_token)).statusCode).toBe(200);
    const events = await auditEventsFor(identityApp, 'session.revoke_all', account.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ org_id: null, actor_user_id: account.id });
    expect(JSON.parse(events[0]!.after ?? '{}')).toEqual({ sessions_ended: 2 });
  });

  it('requires a signed-in caller for sign-out', async () => {
    const response = await identityApp.post('/auth/logout');
    expect(response.statusCode).toBe(401);
  });

  it('refuses to sign out an API key (it has no session)', async () => {
    const response = await identityApp.post('/auth/logout', undefined, { headers: bearer(identityApp.testApp.key) });
    expect(response.statusCode).toBe(400);
  });
});
