import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, lastAuditEvent, problemCode } from './tenancy-support.ts';

interface PageBody<Item> {
  data: Item[];
  next_cursor: string | null;
}
interface MemberBody {
  user_id: string;
  email: string;
  role: string;
}

type Role = 'owner' | 'admin' | 'billing' | 'member' | 'viewer';

describe.each(testEngines)('members and teams on %s', (engine) => {
  let testApp: TestApp;
  let orgId: string;
  const people = {} as Record<Role | 'admin2' | 'member2', SignedInUser>;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    people.owner = await createSignedInUser(testApp, { name: 'Olive Owner' });
    orgId = await createOrganization(testApp, people.owner, 'Members Inc');
    for (const role of ['admin', 'admin2', 'billing', 'member', 'member2', 'viewer'] as const) {
      people[role] = await createSignedInUser(testApp, { name: `Person ${role}` });
      await addMember(testApp, orgId, people[role], role.replace(/2$/, '') as Role);
    }
  });
  afterAll(async () => {
    await testApp.close();
  });

  const call = (...args: Parameters<typeof callApi> extends [unknown, ...infer Rest] ? Rest : never) =>
    callApi(testApp, ...args);
  const memberUrl = (user: SignedInUser) => `/api/v1/organizations/${orgId}/members/${user.userId}`;

  describe('members', () => {
    it('lists members to every role, with role and text filters and pagination', async () => {
      const all = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/members?limit=3&sort=email`);
      expect(all.statusCode).toBe(200);
      const first = all.json<PageBody<MemberBody>>();
      expect(first.data).toHaveLength(3);
      const rest = await call(
        people.viewer,
        'GET',
        `/api/v1/organizations/${orgId}/members?limit=10&sort=email&cursor=${first.next_cursor}`,
      );
      const emails = [...first.data, ...rest.json<PageBody<MemberBody>>().data].map((member) => member.email);
      expect(emails).toHaveLength(7);
      expect(new Set(emails).size).toBe(7);
      const admins = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/members?role=admin`);
      expect(
        admins
          .json<PageBody<MemberBody>>()
          .data.map((member) => member.user_id)
          .sort(),
      ).toEqual([people.admin.userId, people.admin2.userId].sort());
      const byName = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/members?q=olive`);
      expect(byName.json<PageBody<MemberBody>>().data.map((member) => member.user_id)).toEqual([people.owner.userId]);
      const badRole = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/members?role=king`);
      expect(badRole.statusCode).toBe(400);
    });

    it('lets managers change roles within the rank rules and records before/after', async () => {
      const promoted = await call(people.admin, 'PATCH', memberUrl(people.member2), { body: { role: 'billing' } });
      expect(promoted.statusCode).toBe(200);
      expect(promoted.json()).toMatchObject({ user_id: people.member2.userId, role: 'billing' });
      expect(await lastAuditEvent(testApp, orgId, 'member.role_change')).toMatchObject({
        action: 'member.role_change',
        actor_user_id: people.admin.userId,
        target_id: people.member2.userId,
        before: { role: 'member' },
        after: { role: 'billing' },
      });
      const back = await call(people.owner, 'PATCH', memberUrl(people.member2), { body: { role: 'member' } });
      expect(back.statusCode).toBe(200);
    });

    it('refuses escalation with 403 and changes nothing', async () => {
      const attempts: [SignedInUser, SignedInUser, Role][] = [
        [people.admin, people.member, 'owner'], // nobody grants owner by a role change
        [people.owner, people.admin, 'owner'],
        [people.admin, people.admin2, 'member'], // an admin cannot demote a peer
        [people.admin, people.admin, 'owner'], // nor promote themselves
        [people.admin, people.owner, 'admin'], // nor touch the owner
        [people.owner, people.owner, 'admin'], // the owner's role moves only by transfer
        [people.member, people.member, 'admin'], // members cannot manage anyone
        [people.billing, people.viewer, 'member'],
        [people.viewer, people.viewer, 'admin'],
      ];
      for (const [actor, target, role] of attempts) {
        const response = await call(actor, 'PATCH', memberUrl(target), { body: { role } });
        expect(response.statusCode, `${role} for ${target.email}`).toBe(403);
        expect(problemCode(response)).toBe('forbidden');
      }
      const members = await call(people.owner, 'GET', `/api/v1/organizations/${orgId}/members?limit=50`);
      const roles = Object.fromEntries(
        members.json<PageBody<MemberBody>>().data.map((member) => [member.user_id, member.role]),
      );
      expect(roles[people.owner.userId]).toBe('owner');
      expect(roles[people.admin.userId]).toBe('admin');
      expect(roles[people.admin2.userId]).toBe('admin');
      expect(roles[people.member.userId]).toBe('member');
    });

    it('removes members (owner never; admins only below them) and 404s unknown members', async () => {
      const extra = await createSignedInUser(testApp);
      await addMember(testApp, orgId, extra, 'viewer');
      expect((await call(people.admin, 'DELETE', memberUrl(people.owner))).statusCode).toBe(403);
      expect((await call(people.owner, 'DELETE', memberUrl(people.owner))).statusCode).toBe(403);
      expect((await call(people.admin, 'DELETE', memberUrl(people.admin2))).statusCode).toBe(403);
      expect((await call(people.member, 'DELETE', memberUrl(extra))).statusCode).toBe(403);
      const removed = await call(people.admin, 'DELETE', memberUrl(extra));
      expect(removed.statusCode).toBe(204);
      expect((await call(people.admin, 'DELETE', memberUrl(extra))).statusCode).toBe(404);
      expect((await call(extra, 'GET', `/api/v1/organizations/${orgId}`)).statusCode).toBe(404);
      expect(await lastAuditEvent(testApp, orgId, 'member.remove')).toMatchObject({
        action: 'member.remove',
        target_id: extra.userId,
        before: { role: 'viewer' },
        after: { revoked_keys: 0 },
      });
    });
  });

  describe('teams', () => {
    let teamId: string;

    it('lets managers create teams (idempotently) and everyone list them', async () => {
      const denied = await call(people.member, 'POST', `/api/v1/organizations/${orgId}/teams`, {
        body: { name: 'Nope' },
      });
      expect(denied.statusCode).toBe(403);
      const headers = { 'idempotency-key': 'team-platform' };
      const created = await call(people.admin, 'POST', `/api/v1/organizations/${orgId}/teams`, {
        body: { name: 'Platform' },
        headers,
      });
      expect(created.statusCode).toBe(201);
      const replay = await call(people.admin, 'POST', `/api/v1/organizations/${orgId}/teams`, {
        body: { name: 'Platform' },
        headers,
      });
      expect(replay.json()).toEqual(created.json());
      teamId = created.json<{ id: string }>().id;
      for (const name of ['Alpha', 'Beta', 'Gamma']) {
        await call(people.owner, 'POST', `/api/v1/organizations/${orgId}/teams`, { body: { name } });
      }
      const list = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/teams?limit=2`);
      const page = list.json<PageBody<{ name: string }>>();
      expect(page.data.map((team) => team.name)).toEqual(['Alpha', 'Beta']);
      const next = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/teams?cursor=${page.next_cursor}`);
      expect(next.json<PageBody<{ name: string }>>().data.map((team) => team.name)).toEqual(['Gamma', 'Platform']);
      const read = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/teams/${teamId}`);
      expect(read.json()).toMatchObject({ id: teamId, org_id: orgId, name: 'Platform' });
      const missing = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/teams/team_nope`);
      expect(missing.statusCode).toBe(404);
    });

    it('creates one team when two requests race for the same name; the other gets 409', async () => {
      const answers = await Promise.all(
        [0, 1, 2].map(() =>
          call(people.owner, 'POST', `/api/v1/organizations/${orgId}/teams`, { body: { name: 'Racing' } }),
        ),
      );
      expect(answers.map((answer) => answer.statusCode).sort()).toEqual([201, 409, 409]);
      const list = await call(people.owner, 'GET', `/api/v1/organizations/${orgId}/teams?q=racing`);
      const racing = list.json<PageBody<{ id: string }>>().data;
      expect(racing).toHaveLength(1);
      expect(
        (await call(people.owner, 'DELETE', `/api/v1/organizations/${orgId}/teams/${racing[0]!.id}`)).statusCode,
      ).toBe(204);
    });

    it('adds only organization members to a team, once', async () => {
      const url = `/api/v1/organizations/${orgId}/teams/${teamId}/members`;
      const outsider = await createSignedInUser(testApp);
      const notMember = await call(people.admin, 'POST', url, { body: { user_id: outsider.userId } });
      expect(notMember.statusCode).toBe(422);
      const added = await call(people.admin, 'POST', url, { body: { user_id: people.member.userId, role: 'admin' } });
      expect(added.statusCode).toBe(201);
      expect(added.json()).toMatchObject({ user_id: people.member.userId, role: 'admin' });
      const twice = await call(people.admin, 'POST', url, { body: { user_id: people.member.userId } });
      expect(twice.statusCode).toBe(409);
      expect(await lastAuditEvent(testApp, orgId, 'team_member.add')).toMatchObject({
        action: 'team_member.add',
        target_type: 'team_member',
        target_id: people.member.userId,
        after: { team_id: teamId, user_id: people.member.userId, role: 'admin' },
      });
    });

    it('lets a team admin manage their own team but not other teams, and not demote another team admin', async () => {
      const teamAdmin = people.member; // org member, team admin of Platform
      const url = `/api/v1/organizations/${orgId}/teams/${teamId}/members`;
      const added = await call(teamAdmin, 'POST', url, { body: { user_id: people.viewer.userId } });
      expect(added.statusCode).toBe(201);
      const promoted = await call(teamAdmin, 'PATCH', `${url}/${people.viewer.userId}`, { body: { role: 'admin' } });
      expect(promoted.statusCode).toBe(200);
      const demotePeer = await call(teamAdmin, 'PATCH', `${url}/${people.viewer.userId}`, {
        body: { role: 'member' },
      });
      expect(demotePeer.statusCode).toBe(403);
      const removePeer = await call(teamAdmin, 'DELETE', `${url}/${people.viewer.userId}`);
      expect(removePeer.statusCode).toBe(403);
      const byOrgAdmin = await call(people.admin, 'PATCH', `${url}/${people.viewer.userId}`, {
        body: { role: 'member' },
      });
      expect(byOrgAdmin.statusCode).toBe(200);
      const removed = await call(teamAdmin, 'DELETE', `${url}/${people.viewer.userId}`);
      expect(removed.statusCode).toBe(204);

      const renamed = await call(teamAdmin, 'PATCH', `/api/v1/organizations/${orgId}/teams/${teamId}`, {
        body: { name: 'Platform Eng' },
      });
      expect(renamed.statusCode).toBe(200);
      const list = await call(teamAdmin, 'GET', `/api/v1/organizations/${orgId}/teams?q=alpha`);
      const alphaId = list.json<PageBody<{ id: string }>>().data[0]!.id;
      const otherTeam = await call(teamAdmin, 'POST', `/api/v1/organizations/${orgId}/teams/${alphaId}/members`, {
        body: { user_id: people.viewer.userId },
      });
      expect(otherTeam.statusCode).toBe(403);
      const deleteTeam = await call(teamAdmin, 'DELETE', `/api/v1/organizations/${orgId}/teams/${teamId}`);
      expect(deleteTeam.statusCode).toBe(403);
    });

    it('refuses a duplicate name on rename and deletes teams with their memberships', async () => {
      const conflict = await call(people.owner, 'PATCH', `/api/v1/organizations/${orgId}/teams/${teamId}`, {
        body: { name: 'Alpha' },
      });
      expect(conflict.statusCode).toBe(409);
      const members = await call(people.viewer, 'GET', `/api/v1/organizations/${orgId}/teams/${teamId}/members`);
      expect(members.json<PageBody<MemberBody>>().data.map((member) => member.user_id)).toEqual([people.member.userId]);
      const deleted = await call(people.admin, 'DELETE', `/api/v1/organizations/${orgId}/teams/${teamId}`);
      expect(deleted.statusCode).toBe(204);
      expect((await call(people.admin, 'GET', `/api/v1/organizations/${orgId}/teams/${teamId}`)).statusCode).toBe(404);
      const rows = await testApp.instance.services.database.db
        .selectFrom('team_members')
        .select('user_id')
        .where('team_id', '=', teamId)
        .execute();
      expect(rows).toEqual([]);
      expect((await call(people.member, 'GET', `/api/v1/organizations/${orgId}`)).statusCode).toBe(200);
      expect(await lastAuditEvent(testApp, orgId, 'team.delete')).toMatchObject({
        action: 'team.delete',
        before: { id: teamId, name: 'Platform Eng', member_count: 1 },
      });
    });
  });
});
