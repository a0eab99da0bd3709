import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type AppInstance } from '../../src/http/create-app.ts';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { asKey, callKeysApi, createKeyAs, eventually, keysUrl } from '../api/keys-support.ts';
import { problemCode } from '../api/tenancy-support.ts';

const chatPayload = { model: 'test', messages: [{ role: 'user', content: 'hello' }] };

/**
 * Disabling an account (`POST /api/v1/users/{user_id}/disable`, platform admins) ends what the account authorized:
 * its keys are refused through the gateway at once on the instance that disabled it and within one revocation poll
 * on another instance sharing the database, its sessions and refresh tokens end, and the management API refuses it.
 * Enabling it lets the same keys work again.
 */
describe.each(testEngines)('disabling and enabling an account, on %s', (engine) => {
  let testApp: TestApp;
  let other: AppInstance;
  let otherDataDir: string;
  let platformAdmin: SignedInUser;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    otherDataDir = mkdtempSync(path.join(tmpdir(), 'aihub-other-instance-'));
    other = await createApp(
      { ...testApp.config, dataDir: otherDataDir },
      { database: testApp.database.reopen(), logger: false },
    );
    platformAdmin = await createSignedInUser(testApp, { platformRole: 'admin' });
  });
  afterAll(async () => {
    await other.close();
    await testApp.close();
    rmSync(otherDataDir, { recursive: true, force: true });
  });

  const chat = (instance: AppInstance, secret: string) =>
    instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      payload: chatPayload,
    });
  const errorCode = (response: { json<Body>(): Body }) => response.json<{ error: { code: string } }>().error.code;
  const setStatus = (caller: Pick<SignedInUser, 'headers'>, userId: string, verb: 'disable' | 'enable') =>
    callKeysApi(testApp, caller, 'POST', `/api/v1/users/${userId}/${verb}`);

  async function personWithKey(): Promise<{
    owner: SignedInUser;
    person: SignedInUser;
    orgId: string;
    secret: string;
    keyId: string;
  }> {
    const owner = await createSignedInUser(testApp);
    const orgId = await createOrganization(testApp, owner, `Disable ${engine}`);
    const person = await createSignedInUser(testApp);
    await addMember(testApp, orgId, person, 'member');
    const key = await createKeyAs(testApp, person, orgId, {
      name: 'personal',
      scopes: ['chat', 'management:read', 'management:write'],
    });
    return { owner, person, orgId, secret: key.secret, keyId: key.id };
  }

  it('refuses the keys at once here and within a poll elsewhere, ends sessions, and enabling restores the keys', async () => {
    const { person, orgId, secret, keyId } = await personWithKey();
    const session = await testApp.instance.services.api.identity.sessions.startSession(person.userId, {});
    expect((await chat(testApp.instance, secret)).statusCode).toBe(200);
    expect((await chat(other, secret)).statusCode).toBe(200);
    expect((await callKeysApi(testApp, asKey(secret), 'GET', keysUrl(orgId, keyId))).statusCode).toBe(200);

    const disabled = await setStatus(platformAdmin, person.userId, 'disable');
    expect(disabled.statusCode, disabled.body).toBe(200);
    expect(disabled.json<{ id: string; disabled_at: number | null }>()).toMatchObject({ id: person.userId });
    expect(disabled.json<{ disabled_at: number | null }>().disabled_at).toEqual(expect.any(Number));

    // The gateway: at once on this instance, within one revocation poll on the other.
    const here = await chat(testApp.instance, secret);
    expect(here.statusCode).toBe(401);
    expect(errorCode(here)).toBe('revoked_api_key');
    expect(await eventually(async () => (await chat(other, secret)).statusCode === 401, 2_000)).toBe(true);
    expect(errorCode(await chat(other, secret))).toBe('revoked_api_key');

    // The management API, with the key, the session's access token, or a refresh token.
    expect((await callKeysApi(testApp, asKey(secret), 'GET', keysUrl(orgId, keyId))).statusCode).toBe(401);
    expect((await callKeysApi(testApp, person, 'GET', '/api/v1/me')).statusCode).toBe(401);
    const sessionCall = await callKeysApi(
      testApp,
      { headers: { authorization: `Bearer ${session.accessToken}` } },
      'GET',
      '/api/v1/me',
    );
    expect(sessionCall.statusCode).toBe(401);
    const refreshed = await testApp.instance.app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: session.refreshToken },
    });
    expect(refreshed.statusCode).toBe(401);
    const liveTokens = await testApp.instance.services.database.db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('user_id', '=', person.userId)
      .where('revoked_at', 'is', null)
      .execute();
    expect(liveTokens).toEqual([]);

    const events = await testApp.instance.services.database.db
      .selectFrom('audit_events')
      .select(['action', 'actor_user_id', 'org_id'])
      .where('target_id', '=', person.userId)
      .execute();
    expect(events).toEqual([{ action: 'user.disable', actor_user_id: platformAdmin.userId, org_id: null }]);

    const enabled = await setStatus(platformAdmin, person.userId, 'enable');
    expect(enabled.statusCode, enabled.body).toBe(200);
    expect(enabled.json<{ disabled_at: number | null }>().disabled_at).toBeNull();
    expect((await chat(testApp.instance, secret)).statusCode).toBe(200);
    expect(await eventually(async () => (await chat(other, secret)).statusCode === 200, 2_000)).toBe(true);
    expect((await callKeysApi(testApp, asKey(secret), 'GET', keysUrl(orgId, keyId))).statusCode).toBe(200);
    // Sessions ended by disabling stay ended.
    expect((await callKeysApi(testApp, person, 'GET', '/api/v1/me')).statusCode).toBe(401);
  });

  it('disabling twice or enabling an active account changes nothing and records nothing more', async () => {
    const { person } = await personWithKey();
    expect((await setStatus(platformAdmin, person.userId, 'enable')).statusCode).toBe(200);
    const first = await setStatus(platformAdmin, person.userId, 'disable');
    const second = await setStatus(platformAdmin, person.userId, 'disable');
    expect(second.statusCode).toBe(200);
    expect(second.json<{ disabled_at: number }>().disabled_at).toBe(first.json<{ disabled_at: number }>().disabled_at);
    const actions = await testApp.instance.services.database.db
      .selectFrom('audit_events')
      .select('action')
      .where('target_id', '=', person.userId)
      .execute();
    expect(actions.map((event) => event.action)).toEqual(['user.disable']);
  });

  it('refuses anyone but a platform admin with 403, and a platform admin key bound to an organization too', async () => {
    const { owner, person, secret } = await personWithKey();
    for (const caller of [owner, person, asKey(secret)]) {
      for (const verb of ['disable', 'enable'] as const) {
        const response = await setStatus(caller, person.userId, verb);
        expect(response.statusCode, response.body).toBe(403);
        expect(problemCode(response)).toBe('forbidden');
      }
    }
    const adminOrg = await createOrganization(testApp, platformAdmin, 'Admin org');
    const adminKey = await createKeyAs(testApp, platformAdmin, adminOrg, {
      name: 'admin key',
      scopes: ['chat', 'management:read', 'management:write'],
    });
    expect((await setStatus(asKey(adminKey.secret), person.userId, 'disable')).statusCode).toBe(403);
    const user = await testApp.instance.services.users.findById(person.userId);
    expect(user?.disabled_at).toBeNull();
    expect((await chat(testApp.instance, secret)).statusCode).toBe(200);
  });

  it('refuses disabling yourself with 409, and an unknown user with 404', async () => {
    const self = await setStatus(platformAdmin, platformAdmin.userId, 'disable');
    expect(self.statusCode).toBe(409);
    expect(problemCode(self)).toBe('conflict');
    expect((await testApp.instance.services.users.findById(platformAdmin.userId))?.disabled_at).toBeNull();
    expect((await setStatus(platformAdmin, 'no-such-user', 'disable')).statusCode).toBe(404);
    expect((await setStatus(platformAdmin, 'no-such-user', 'enable')).statusCode).toBe(404);
  });

  it('never disables the last active platform admin, even when two admins disable each other at once', async () => {
    const db = testApp.instance.services.database.db;
    const first = await createSignedInUser(testApp, { platformRole: 'admin' });
    const second = await createSignedInUser(testApp, { platformRole: 'admin' });
    // Only these two remain active admins (the bootstrap admin and the others are set aside by hand).
    await db
      .updateTable('users')
      .set({ disabled_at: 1 })
      .where('role', '=', 'admin')
      .where('id', 'not in', [first.userId, second.userId])
      .execute();

    const answers = await Promise.all([
      setStatus(first, second.userId, 'disable'),
      setStatus(second, first.userId, 'disable'),
    ]);
    const statuses = answers.map((answer) => answer.statusCode).sort();
    // One wins; the other is the last admin (409) or was already disabled when its request was authenticated (401).
    expect(statuses[0]).toBe(200);
    expect([401, 409]).toContain(statuses[1]);
    const active = await db
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'admin')
      .where('disabled_at', 'is', null)
      .execute();
    expect(active).toHaveLength(1);
  });
});
