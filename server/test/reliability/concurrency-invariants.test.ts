import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, problemCode } from '../api/tenancy-support.ts';

/**
 * The invariants AI Hub documents, attacked by concurrent requests on both engines. SQLite runs one writer at a time,
 * so there the races mostly exercise the in-transaction checks; on PostgreSQL the requests really interleave on
 * separate connections, and only what the database enforces (unique partial indexes, compare-and-set updates,
 * row locks) holds. Each case fires N identical or conflicting requests at once and counts the winners.
 */

/**
 * How many of `responses` answered `status`, checking that every other one is a clean problem: 409, or 403 where a
 * loser's own right was gone by the time it was authorized (the winner had already committed).
 */
function countWinners(
  responses: readonly LightMyRequestResponse[],
  status: number,
  loserStatuses: readonly number[] = [409],
): number {
  for (const response of responses) {
    if (response.statusCode === status) continue;
    expect(loserStatuses, response.body).toContain(response.statusCode);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemCode(response)).toBe(response.statusCode === 409 ? 'conflict' : 'forbidden');
  }
  return responses.filter((response) => response.statusCode === status).length;
}

describe.each(testEngines)('invariants under concurrent requests on %s', (engine) => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({ engine });
  });
  afterAll(async () => {
    await testApp.close();
  });

  const db = () => testApp.instance.services.database.db;
  const base = (orgId: string) => `/api/v1/organizations/${orgId}`;

  async function organizationWith(roles: Record<string, 'admin' | 'member' | 'viewer'>) {
    const owner = await createSignedInUser(testApp);
    const orgId = await createOrganization(testApp, owner, `Race ${engine}`);
    const people: Record<string, SignedInUser> = {};
    for (const [name, role] of Object.entries(roles)) {
      people[name] = await createSignedInUser(testApp);
      await addMember(testApp, orgId, people[name], role);
    }
    return { owner, orgId, people };
  }

  const owners = async (orgId: string) =>
    (
      await db()
        .selectFrom('org_members')
        .select('user_id')
        .where('org_id', '=', orgId)
        .where('role', '=', 'owner')
        .execute()
    ).map((row) => row.user_id);

  it('8 concurrent rotations of one key: exactly one successor, seven 409s', async () => {
    const { owner, orgId } = await organizationWith({});
    const created = await callApi(testApp, owner, 'POST', `${base(orgId)}/keys`, { body: { name: 'rotated' } });
    expect(created.statusCode).toBe(201);
    const keyId = created.json<{ id: string }>().id;

    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        callApi(testApp, owner, 'POST', `${base(orgId)}/keys/${keyId}/rotate`, { body: {} }),
      ),
    );

    expect(countWinners(responses, 201)).toBe(1);
    const successors = await db().selectFrom('api_keys').select('id').where('rotated_from', '=', keyId).execute();
    expect(successors).toHaveLength(1);
  });

  it('3 concurrent ownership transfers: exactly one owner, two refused', async () => {
    const { owner, orgId, people } = await organizationWith({ first: 'admin', second: 'admin', third: 'member' });
    const targets = [people.first, people.second, people.third].map((person) => person?.userId ?? '');

    const responses = await Promise.all(
      targets.map((userId) =>
        callApi(testApp, owner, 'POST', `${base(orgId)}/transfer-ownership`, { body: { user_id: userId } }),
      ),
    );

    expect(countWinners(responses, 200, [409, 403])).toBe(1);
    const remaining = await owners(orgId);
    expect(remaining).toHaveLength(1);
    expect(targets).toContain(remaining[0]);
  });

  it('6 concurrent invitations for one email: exactly one pending, five 409s', async () => {
    const { owner, orgId } = await organizationWith({});
    const email = `race-${engine}@example.com`;

    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        callApi(testApp, owner, 'POST', `${base(orgId)}/invitations`, {
          body: { email: index % 2 === 0 ? email : email.toUpperCase(), role: 'member' },
        }),
      ),
    );

    expect(countWinners(responses, 201)).toBe(1);
    const pending = await db()
      .selectFrom('invitations')
      .select('id')
      .where('org_id', '=', orgId)
      .where('email', '=', email)
      .execute();
    expect(pending).toHaveLength(1);
  });

  it('lets a new invitation replace one that expired unanswered, still one pending', async () => {
    const { owner, orgId } = await organizationWith({});
    const email = `expired-${engine}@example.com`;
    const invite = () =>
      callApi(testApp, owner, 'POST', `${base(orgId)}/invitations`, { body: { email, role: 'viewer' } });
    expect((await invite()).statusCode).toBe(201);
    await db().updateTable('invitations').set({ expires_at: 1 }).where('org_id', '=', orgId).execute();

    const responses = await Promise.all([invite(), invite(), invite()]);

    expect(countWinners(responses, 201)).toBe(1);
    const rows = await db().selectFrom('invitations').selectAll().where('org_id', '=', orgId).execute();
    expect(rows).toHaveLength(2);
    expect(rows.filter((row) => row.expires_at > Date.now())).toHaveLength(1);
  });

  it('5 concurrent teams with one name: exactly one team, four 409s', async () => {
    const { owner, orgId } = await organizationWith({});
    const responses = await Promise.all(
      Array.from({ length: 5 }, () =>
        callApi(testApp, owner, 'POST', `${base(orgId)}/teams`, { body: { name: 'Platform' } }),
      ),
    );
    expect(countWinners(responses, 201)).toBe(1);
    const teams = await db().selectFrom('teams').select('id').where('org_id', '=', orgId).execute();
    expect(teams).toHaveLength(1);
  });

  it('4 concurrent additions of one person to a team: one membership, three 409s', async () => {
    const { owner, orgId, people } = await organizationWith({ person: 'member' });
    const team = await callApi(testApp, owner, 'POST', `${base(orgId)}/teams`, { body: { name: 'Core' } });
    const teamId = team.json<{ id: string }>().id;
    const responses = await Promise.all(
      Array.from({ length: 4 }, () =>
        callApi(testApp, owner, 'POST', `${base(orgId)}/teams/${teamId}/members`, {
          body: { user_id: people.person?.userId },
        }),
      ),
    );
    expect(countWinners(responses, 201)).toBe(1);
    const rows = await db().selectFrom('team_members').select('user_id').where('team_id', '=', teamId).execute();
    expect(rows).toHaveLength(1);
  });

  it('a role change racing a transfer to the same member never leaves the organization without an owner', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { owner, orgId, people } = await organizationWith({ target: 'member', admin: 'admin' });
      const target = people.target?.userId ?? '';
      const [transfer, demotion] = await Promise.all([
        callApi(testApp, owner, 'POST', `${base(orgId)}/transfer-ownership`, { body: { user_id: target } }),
        callApi(testApp, people.admin, 'PATCH', `${base(orgId)}/members/${target}`, { body: { role: 'viewer' } }),
      ]);
      // Either may win; the loser is refused (409, or 403 when the target already outranks the admin).
      expect([transfer.statusCode, demotion.statusCode]).toContain(200);
      expect(await owners(orgId)).toHaveLength(1);
    }
  });

  it('a member leaving while ownership is transferred to them never leaves the organization without an owner', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { owner, orgId, people } = await organizationWith({ target: 'member' });
      const target = people.target?.userId ?? '';
      await Promise.all([
        callApi(testApp, owner, 'POST', `${base(orgId)}/transfer-ownership`, { body: { user_id: target } }),
        callApi(testApp, people.target, 'POST', `${base(orgId)}/leave`),
      ]);
      const remaining = await owners(orgId);
      expect(remaining).toHaveLength(1);
      const members = await db().selectFrom('org_members').select('user_id').where('org_id', '=', orgId).execute();
      expect(members.map((member) => member.user_id)).toContain(remaining[0]);
    }
  });

  it('a key created while its owner is removed never outlives the membership', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { owner, orgId, people } = await organizationWith({ leaver: 'member' });
      const leaver = people.leaver;
      await Promise.all([
        callApi(testApp, leaver, 'POST', `${base(orgId)}/keys`, { body: { name: 'late' } }),
        callApi(testApp, owner, 'DELETE', `${base(orgId)}/members/${leaver?.userId ?? ''}`),
      ]);
      const active = await db()
        .selectFrom('api_keys')
        .select('id')
        .where('org_id', '=', orgId)
        .where('user_id', '=', leaver?.userId ?? '')
        .where('revoked_at', 'is', null)
        .execute();
      expect(active).toEqual([]);
    }
  });

  it('a team key created while its team is deleted never outlives the team', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { owner, orgId } = await organizationWith({});
      const team = await callApi(testApp, owner, 'POST', `${base(orgId)}/teams`, { body: { name: `T${round}` } });
      const teamId = team.json<{ id: string }>().id;
      await Promise.all([
        callApi(testApp, owner, 'POST', `${base(orgId)}/keys`, { body: { name: 'late', team_id: teamId } }),
        callApi(testApp, owner, 'DELETE', `${base(orgId)}/teams/${teamId}`),
      ]);
      const active = await db()
        .selectFrom('api_keys')
        .select('id')
        .where('team_id', '=', teamId)
        .where('revoked_at', 'is', null)
        .execute();
      expect(active).toEqual([]);
    }
  });
});
