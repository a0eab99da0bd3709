import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import {
  callKeysApi,
  createKeyAs,
  createKeysWorld,
  keysUrl,
  type KeyBody,
  type KeysWorld,
  type ProblemBody,
} from './keys-support.ts';

type Route = readonly [
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  suffix: 'collection' | '' | '/rotate',
  body?: unknown,
];

/** Every keys route, with a body that would succeed for someone allowed to call it. */
const everyRoute: readonly Route[] = [
  ['POST', 'collection', { name: 'x' }],
  ['GET', 'collection'],
  ['GET', ''],
  ['PATCH', '', { name: 'renamed' }],
  ['POST', '/rotate', { grace_period_seconds: 60 }],
  ['DELETE', ''],
];

const routeName = ([method, suffix]: Route) =>
  `${method} ${suffix === 'collection' ? '/keys' : `/keys/{key_id}${suffix}`}`;

describe.each(testEngines)('who may use the API key routes on %s', (engine) => {
  let testApp: TestApp;
  let world: KeysWorld;
  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    world = await createKeysWorld(testApp);
  });
  afterAll(async () => {
    await testApp.close();
  });

  const call = (route: Route, caller: KeysWorld['owner'], orgId: string, keyId: string) => {
    const [method, suffix, body] = route;
    const url = suffix === 'collection' ? keysUrl(orgId) : keysUrl(orgId, keyId, suffix);
    return callKeysApi(testApp, caller, method, url, body === undefined ? {} : { body });
  };

  describe('another organization', () => {
    it.each(everyRoute.map((route) => [routeName(route), route] as const))(
      '%s answers 404 to a member of another organization',
      async (_name, route) => {
        const key = await createKeyAs(testApp, world.owner, world.orgId);
        const response = await call(route, world.outsider, world.orgId, key.id);
        expect(response.statusCode).toBe(404);
        expect(response.json<ProblemBody>().code).toBe('not_found');
        // And the key is untouched.
        const after = await callKeysApi(testApp, world.owner, 'GET', keysUrl(world.orgId, key.id));
        expect(after.json<KeyBody>()).toMatchObject({ name: 'key', status: 'active', expires_at: null });
      },
    );

    it.each(
      everyRoute.filter(([, suffix]) => suffix !== 'collection').map((route) => [routeName(route), route] as const),
    )('%s answers 404 for a key of another organization asked for under your own', async (_name, route) => {
      const key = await createKeyAs(testApp, world.owner, world.orgId);
      const response = await call(route, world.outsider, world.otherOrgId, key.id);
      expect(response.statusCode).toBe(404);
    });

    it('never lists keys of another organization', async () => {
      const key = await createKeyAs(testApp, world.owner, world.orgId);
      const response = await callKeysApi(testApp, world.outsider, 'GET', keysUrl(world.otherOrgId));
      expect(response.statusCode).toBe(200);
      expect(response.body).not.toContain(key.id);
    });
  });

  describe('roles', () => {
    it.each(everyRoute.map((route) => [routeName(route), route] as const))(
      '%s answers 403 to a viewer',
      async (_name, route) => {
        const key = await createKeyAs(testApp, world.owner, world.orgId);
        const response = await call(route, world.viewer, world.orgId, key.id);
        expect(response.statusCode).toBe(403);
        expect(response.json<ProblemBody>().code).toBe('forbidden');
      },
    );

    it('lets billing list (their own) keys but not create one', async () => {
      expect((await callKeysApi(testApp, world.billing, 'GET', keysUrl(world.orgId))).json()).toEqual({
        data: [],
        next_cursor: null,
      });
      const created = await callKeysApi(testApp, world.billing, 'POST', keysUrl(world.orgId), { body: { name: 'b' } });
      expect(created.statusCode).toBe(403);
    });

    it('shows members only their own keys; the owner and admins see every key', async () => {
      const own = await createKeyAs(testApp, world.member, world.orgId, { name: 'own' });
      const others = await createKeyAs(testApp, world.otherMember, world.orgId, { name: 'others' });

      const listed = async (caller: KeysWorld['owner']) =>
        (await callKeysApi(testApp, caller, 'GET', `${keysUrl(world.orgId)}?limit=200`))
          .json<{ data: KeyBody[] }>()
          .data.map((key) => key.id);
      const memberSees = await listed(world.member);
      expect(memberSees).toContain(own.id);
      expect(memberSees).not.toContain(others.id);
      expect(memberSees.length).toBeGreaterThan(0);
      for (const manager of [world.owner, world.admin]) {
        expect(await listed(manager)).toEqual(expect.arrayContaining([own.id, others.id]));
      }
      // Asking for another member's keys by filter shows nothing rather than widening the view.
      const filtered = await callKeysApi(
        testApp,
        world.member,
        'GET',
        `${keysUrl(world.orgId)}?user_id=${world.otherMember.userId}`,
      );
      expect(filtered.json<{ data: KeyBody[] }>().data).toEqual([]);
    });

    it.each(
      everyRoute.filter(([, suffix]) => suffix !== 'collection').map((route) => [routeName(route), route] as const),
    )("%s answers 404 to a member for another member's key, and works for its owner", async (_name, route) => {
      const others = await createKeyAs(testApp, world.otherMember, world.orgId);
      const refused = await call(route, world.member, world.orgId, others.id);
      expect(refused.statusCode).toBe(404);

      const own = await createKeyAs(testApp, world.member, world.orgId);
      const allowed = await call(route, world.member, world.orgId, own.id);
      expect(allowed.statusCode).toBeLessThan(300);
    });

    it.each(
      everyRoute.filter(([, suffix]) => suffix !== 'collection').map((route) => [routeName(route), route] as const),
    )("%s works for an admin on a member's key", async (_name, route) => {
      const key = await createKeyAs(testApp, world.member, world.orgId);
      const response = await call(route, world.admin, world.orgId, key.id);
      expect(response.statusCode).toBeLessThan(300);
    });

    it('lets admins create keys for another member, but not members', async () => {
      const forMember = await callKeysApi(testApp, world.admin, 'POST', keysUrl(world.orgId), {
        body: { name: 'issued', user_id: world.member.userId },
      });
      expect(forMember.statusCode).toBe(201);
      expect(forMember.json<KeyBody>().user_id).toBe(world.member.userId);
      const seen = await callKeysApi(testApp, world.member, 'GET', keysUrl(world.orgId, forMember.json<KeyBody>().id));
      expect(seen.statusCode).toBe(200);

      const byMember = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId), {
        body: { name: 'for someone', user_id: world.otherMember.userId },
      });
      expect(byMember.statusCode).toBe(403);
    });

    it('lets a platform admin who is no member manage keys of any organization', async () => {
      const platformAdmin = await createSignedInUser(testApp, { platformRole: 'admin' });
      const key = await createKeyAs(testApp, world.member, world.orgId);
      expect((await callKeysApi(testApp, platformAdmin, 'GET', keysUrl(world.orgId, key.id))).statusCode).toBe(200);
      expect((await callKeysApi(testApp, platformAdmin, 'DELETE', keysUrl(world.orgId, key.id))).statusCode).toBe(200);
    });
  });

  describe('team keys', () => {
    it('are created by the team admin or an organization admin, not by other members', async () => {
      const body = { name: 'team key', team_id: world.teamId };
      const byTeamAdmin = await callKeysApi(testApp, world.teamAdmin, 'POST', keysUrl(world.orgId), { body });
      const byOrgAdmin = await callKeysApi(testApp, world.admin, 'POST', keysUrl(world.orgId), { body });
      const byTeamMember = await callKeysApi(testApp, world.member, 'POST', keysUrl(world.orgId), { body });
      const byOtherMember = await callKeysApi(testApp, world.otherMember, 'POST', keysUrl(world.orgId), { body });

      expect(byTeamAdmin.statusCode).toBe(201);
      expect(byTeamAdmin.json<KeyBody>()).toMatchObject({ team_id: world.teamId, user_id: world.teamAdmin.userId });
      expect(byOrgAdmin.statusCode).toBe(201);
      expect(byTeamMember.statusCode).toBe(403);
      expect(byOtherMember.statusCode).toBe(403);
    });

    it('stay manageable by the team admin who made them, and no longer once they stop being team admin', async () => {
      const key = await createKeyAs(testApp, world.teamAdmin, world.orgId, { team_id: world.teamId });
      const rename = () =>
        callKeysApi(testApp, world.teamAdmin, 'PATCH', keysUrl(world.orgId, key.id), { body: { name: 'renamed' } });
      expect((await rename()).statusCode).toBe(200);

      await testApp.instance.services.database.db
        .updateTable('team_members')
        .set({ role: 'member' })
        .where('team_id', '=', world.teamId)
        .where('user_id', '=', world.teamAdmin.userId)
        .execute();
      try {
        expect((await rename()).statusCode).toBe(403);
        // Revoking never grants anything, so the key's owner may still end it.
        const revoked = await callKeysApi(testApp, world.teamAdmin, 'DELETE', keysUrl(world.orgId, key.id));
        expect(revoked.statusCode).toBe(200);
      } finally {
        await testApp.instance.services.database.db
          .updateTable('team_members')
          .set({ role: 'admin' })
          .where('team_id', '=', world.teamId)
          .where('user_id', '=', world.teamAdmin.userId)
          .execute();
      }
    });
  });

  it('answers 401 problem+json without credentials', async () => {
    const response = await testApp.instance.app.inject({ method: 'GET', url: keysUrl(world.orgId) });
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toContain('application/problem+json');
  });
});
