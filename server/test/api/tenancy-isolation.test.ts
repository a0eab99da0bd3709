import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, countRows, problemCode, type Method } from './tenancy-support.ts';

interface RouteCall {
  readonly method: Method;
  readonly url: string;
  readonly body?: unknown;
}

/**
 * Every tenant-owned route of one organization: another tenant must get 404 on each, and a role without the right
 * must get 403, with nothing written either way.
 */
describe.each(testEngines)('tenant isolation and role checks on %s', (engine) => {
  let testApp: TestApp;
  let ownerA: SignedInUser;
  let memberA: SignedInUser;
  let ownerB: SignedInUser;
  let orgA: string;
  let orgB: string;
  let teamA: string;
  let teamB: string;
  let invitationA: string;
  const roleHolders = {} as Record<'admin' | 'billing' | 'member' | 'viewer', SignedInUser>;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    ownerA = await createSignedInUser(testApp);
    memberA = await createSignedInUser(testApp);
    ownerB = await createSignedInUser(testApp);
    orgA = await createOrganization(testApp, ownerA, 'Tenant A');
    orgB = await createOrganization(testApp, ownerB, 'Tenant B');
    await addMember(testApp, orgA, memberA, 'member');
    for (const role of ['admin', 'billing', 'member', 'viewer'] as const) {
      roleHolders[role] = await createSignedInUser(testApp);
      await addMember(testApp, orgA, roleHolders[role], role);
    }
    const team = await callApi(testApp, ownerA, 'POST', `/api/v1/organizations/${orgA}/teams`, {
      body: { name: 'A team' },
    });
    teamA = team.json<{ id: string }>().id;
    await callApi(testApp, ownerA, 'POST', `/api/v1/organizations/${orgA}/teams/${teamA}/members`, {
      body: { user_id: memberA.userId },
    });
    const other = await callApi(testApp, ownerB, 'POST', `/api/v1/organizations/${orgB}/teams`, {
      body: { name: 'B team' },
    });
    teamB = other.json<{ id: string }>().id;
    const invitation = await callApi(testApp, ownerA, 'POST', `/api/v1/organizations/${orgA}/invitations`, {
      body: { email: 'someone@example.com', role: 'viewer' },
    });
    invitationA = invitation.json<{ id: string }>().id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  /** Every route of organization A, as a caller would address it. */
  function routesOfA(): RouteCall[] {
    const org = `/api/v1/organizations/${orgA}`;
    return [
      { method: 'GET', url: org },
      { method: 'PATCH', url: org, body: { name: 'Taken over' } },
      { method: 'DELETE', url: org },
      { method: 'POST', url: `${org}/transfer-ownership`, body: { user_id: memberA.userId } },
      { method: 'GET', url: `${org}/settings` },
      { method: 'PATCH', url: `${org}/settings`, body: { request_body_logging: true } },
      { method: 'GET', url: `${org}/members` },
      { method: 'PATCH', url: `${org}/members/${memberA.userId}`, body: { role: 'viewer' } },
      { method: 'DELETE', url: `${org}/members/${memberA.userId}` },
      { method: 'GET', url: `${org}/invitations` },
      { method: 'POST', url: `${org}/invitations`, body: { email: 'intruder@example.com', role: 'viewer' } },
      { method: 'DELETE', url: `${org}/invitations/${invitationA}` },
      { method: 'GET', url: `${org}/teams` },
      { method: 'POST', url: `${org}/teams`, body: { name: 'Intruders' } },
      { method: 'GET', url: `${org}/teams/${teamA}` },
      { method: 'PATCH', url: `${org}/teams/${teamA}`, body: { name: 'Renamed' } },
      { method: 'DELETE', url: `${org}/teams/${teamA}` },
      { method: 'GET', url: `${org}/teams/${teamA}/members` },
      { method: 'POST', url: `${org}/teams/${teamA}/members`, body: { user_id: memberA.userId } },
      { method: 'PATCH', url: `${org}/teams/${teamA}/members/${memberA.userId}`, body: { role: 'admin' } },
      { method: 'DELETE', url: `${org}/teams/${teamA}/members/${memberA.userId}` },
      { method: 'GET', url: `${org}/audit-events` },
      { method: 'GET', url: `/api/v1/audit-events?org_id=${orgA}` },
      { method: 'POST', url: `${org}/leave` },
    ];
  }

  async function snapshot(): Promise<number[]> {
    return Promise.all(
      (['org_members', 'team_members', 'teams', 'invitations', 'audit_events', 'organizations'] as const).map((table) =>
        countRows(testApp, table),
      ),
    );
  }

  it('answers a member of another organization with 404 on every route of this one, writing nothing', async () => {
    const before = await snapshot();
    for (const route of routesOfA()) {
      const response = await callApi(testApp, ownerB, route.method, route.url, { body: route.body });
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(404);
      expect(problemCode(response)).toBe('not_found');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('keeps an API key inside its own organization', async () => {
    const { secret } = await testApp.instance.services.keys.create({
      name: 'B management',
      userId: ownerB.userId,
      orgId: orgB,
      scopes: ['management:read', 'management:write'],
    });
    const asKey = {
      userId: ownerB.userId,
      email: ownerB.email,
      accessToken: secret,
      headers: { authorization: `Bearer ${secret}` },
    };
    expect((await callApi(testApp, asKey, 'GET', `/api/v1/organizations/${orgB}`)).statusCode).toBe(200);
    expect((await callApi(testApp, asKey, 'GET', `/api/v1/organizations/${orgA}`)).statusCode).toBe(404);
    const listed = await callApi(testApp, asKey, 'GET', '/api/v1/organizations');
    expect(listed.json<{ data: { id: string }[] }>().data.map((organization) => organization.id)).toEqual([orgB]);
    const create = await callApi(testApp, asKey, 'POST', '/api/v1/organizations', { body: { name: 'Via key' } });
    expect(create.statusCode).toBe(403);
  });

  it("answers another organization's ids inside your own organization with 404", async () => {
    const org = `/api/v1/organizations/${orgB}`;
    const crossIds: RouteCall[] = [
      { method: 'GET', url: `${org}/teams/${teamA}` },
      { method: 'PATCH', url: `${org}/teams/${teamA}`, body: { name: 'Mine now' } },
      { method: 'DELETE', url: `${org}/teams/${teamA}` },
      { method: 'GET', url: `${org}/teams/${teamA}/members` },
      { method: 'POST', url: `${org}/teams/${teamA}/members`, body: { user_id: ownerB.userId } },
      { method: 'DELETE', url: `${org}/teams/${teamA}/members/${memberA.userId}` },
      { method: 'PATCH', url: `${org}/members/${memberA.userId}`, body: { role: 'viewer' } },
      { method: 'DELETE', url: `${org}/members/${memberA.userId}` },
      { method: 'DELETE', url: `${org}/invitations/${invitationA}` },
    ];
    const before = await snapshot();
    for (const route of crossIds) {
      const response = await callApi(testApp, ownerB, route.method, route.url, { body: route.body });
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(404);
    }
    // A member of A cannot reach B's team through A's path either.
    const viaA = await callApi(testApp, ownerA, 'GET', `/api/v1/organizations/${orgA}/teams/${teamB}`);
    expect(viaA.statusCode).toBe(404);
    const addOutsider = await callApi(testApp, ownerB, 'POST', `${org}/teams/${teamB}/members`, {
      body: { user_id: memberA.userId },
    });
    expect(addOutsider.statusCode).toBe(422);
    expect(await snapshot()).toEqual(before);
  });

  it('answers roles without the right with 403, writing nothing', async () => {
    const org = `/api/v1/organizations/${orgA}`;
    const managerOnly: RouteCall[] = [
      { method: 'PATCH', url: org, body: { name: 'Taken over' } },
      { method: 'PATCH', url: `${org}/settings`, body: { request_body_logging: true } },
      { method: 'PATCH', url: `${org}/members/${memberA.userId}`, body: { role: 'viewer' } },
      { method: 'DELETE', url: `${org}/members/${memberA.userId}` },
      { method: 'GET', url: `${org}/invitations` },
      { method: 'POST', url: `${org}/invitations`, body: { email: 'intruder@example.com', role: 'viewer' } },
      { method: 'DELETE', url: `${org}/invitations/${invitationA}` },
      { method: 'POST', url: `${org}/teams`, body: { name: 'Intruders' } },
      { method: 'PATCH', url: `${org}/teams/${teamA}`, body: { name: 'Renamed' } },
      { method: 'DELETE', url: `${org}/teams/${teamA}` },
      { method: 'POST', url: `${org}/teams/${teamA}/members`, body: { user_id: memberA.userId } },
      { method: 'DELETE', url: `${org}/teams/${teamA}/members/${memberA.userId}` },
      { method: 'GET', url: `${org}/audit-events` },
    ];
    const ownerOnly: RouteCall[] = [
      { method: 'DELETE', url: org },
      { method: 'POST', url: `${org}/transfer-ownership`, body: { user_id: memberA.userId } },
    ];
    const before = await snapshot();
    for (const role of ['billing', 'member', 'viewer'] as const) {
      for (const route of [...managerOnly, ...ownerOnly]) {
        const response = await callApi(testApp, roleHolders[role], route.method, route.url, { body: route.body });
        expect(response.statusCode, `${role}: ${route.method} ${route.url}`).toBe(403);
        expect(problemCode(response)).toBe('forbidden');
      }
    }
    for (const route of ownerOnly) {
      const response = await callApi(testApp, roleHolders.admin, route.method, route.url, { body: route.body });
      expect(response.statusCode, `admin: ${route.method} ${route.url}`).toBe(403);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('lets every role read the organization, its settings, members and teams', async () => {
    const org = `/api/v1/organizations/${orgA}`;
    for (const role of ['billing', 'member', 'viewer'] as const) {
      for (const url of [org, `${org}/settings`, `${org}/members`, `${org}/teams`, `${org}/teams/${teamA}/members`]) {
        const response = await callApi(testApp, roleHolders[role], 'GET', url);
        expect(response.statusCode, `${role}: GET ${url}`).toBe(200);
      }
    }
  });

  it('lets a platform admin who is not a member act, rank as owner, and still never grant owner', async () => {
    const platformAdmin = await createSignedInUser(testApp, { platformRole: 'admin' });
    const org = `/api/v1/organizations/${orgA}`;
    const read = await callApi(testApp, platformAdmin, 'GET', org);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ role: null });
    const demote = await callApi(testApp, platformAdmin, 'PATCH', `${org}/members/${roleHolders.admin.userId}`, {
      body: { role: 'member' },
    });
    expect(demote.statusCode).toBe(200);
    const restore = await callApi(testApp, platformAdmin, 'PATCH', `${org}/members/${roleHolders.admin.userId}`, {
      body: { role: 'admin' },
    });
    expect(restore.statusCode).toBe(200);
    const grantOwner = await callApi(testApp, platformAdmin, 'PATCH', `${org}/members/${memberA.userId}`, {
      body: { role: 'owner' },
    });
    expect(grantOwner.statusCode).toBe(403);
    const leave = await callApi(testApp, platformAdmin, 'POST', `${org}/leave`);
    expect(leave.statusCode).toBe(404);
  });
});
