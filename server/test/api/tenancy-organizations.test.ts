import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, countRows, lastAuditEvent, problemCode, storedAuditEvents } from './tenancy-support.ts';

interface OrganizationBody {
  id: string;
  name: string;
  role: string | null;
  created_at: number;
  updated_at: number;
}

interface PageBody<Item> {
  data: Item[];
  next_cursor: string | null;
}

describe.each(testEngines)('organizations on %s', (engine) => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({ engine });
  });
  afterAll(async () => {
    await testApp.close();
  });

  const call = (...args: Parameters<typeof callApi> extends [unknown, ...infer Rest] ? Rest : never) =>
    callApi(testApp, ...args);

  describe('create', () => {
    it('makes the creator the owner and records organization.create with the request id and IP', async () => {
      const user = await createSignedInUser(testApp);
      const response = await call(user, 'POST', '/api/v1/organizations', { body: { name: '  Acme  ' } });
      expect(response.statusCode).toBe(201);
      const organization = response.json<OrganizationBody>();
      expect(organization).toEqual({
        id: expect.stringMatching(/^org_/),
        name: 'Acme',
        role: 'owner',
        created_at: expect.any(Number),
        updated_at: expect.any(Number),
      });
      const events = await storedAuditEvents(testApp, organization.id);
      expect(events).toEqual([
        {
          action: 'organization.create',
          actor_user_id: user.userId,
          target_type: 'organization',
          target_id: organization.id,
          before: null,
          after: { id: organization.id, name: 'Acme', owner_user_id: user.userId },
          ip: '127.0.0.1',
          request_id: response.headers['x-request-id'],
        },
      ]);
    });

    it('replays the first answer for a repeated Idempotency-Key and refuses a different body with 422', async () => {
      const user = await createSignedInUser(testApp);
      const headers = { 'idempotency-key': 'create-org-1' };
      const first = await call(user, 'POST', '/api/v1/organizations', { body: { name: 'Once' }, headers });
      const again = await call(user, 'POST', '/api/v1/organizations', { body: { name: 'Once' }, headers });
      expect(first.statusCode).toBe(201);
      expect(again.statusCode).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.json()).toEqual(first.json());
      const list = await call(user, 'GET', '/api/v1/organizations');
      expect(list.json<PageBody<OrganizationBody>>().data.map((organization) => organization.name)).toEqual(['Once']);
      const different = await call(user, 'POST', '/api/v1/organizations', { body: { name: 'Twice' }, headers });
      expect(different.statusCode).toBe(422);
      expect(problemCode(different)).toBe('unprocessable');
    });

    it('validates the name and refuses unknown fields with 400 problem+json', async () => {
      const user = await createSignedInUser(testApp);
      const blank = await call(user, 'POST', '/api/v1/organizations', { body: { name: '   ' } });
      expect(blank.statusCode).toBe(400);
      expect(blank.headers['content-type']).toMatch(/^application\/problem\+json/);
      const extra = await call(user, 'POST', '/api/v1/organizations', { body: { name: 'X', plan: 'gold' } });
      expect(extra.statusCode).toBe(400);
    });

    it('needs a signed-in caller', async () => {
      const response = await call(undefined, 'POST', '/api/v1/organizations', { body: { name: 'Nobody' } });
      expect(response.statusCode).toBe(401);
    });
  });

  describe('list', () => {
    let user: SignedInUser;
    beforeAll(async () => {
      user = await createSignedInUser(testApp);
      for (let index = 0; index < 7; index += 1) {
        await createOrganization(testApp, user, `list-org-${String(index).padStart(2, '0')}`);
      }
      const other = await createSignedInUser(testApp);
      await createOrganization(testApp, other, 'list-org-not-mine');
    });

    it('pages over more organizations than the page size, in name order, without repeats', async () => {
      const names: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor === null ? '' : `&cursor=${cursor}`;
        const response = await call(user, 'GET', `/api/v1/organizations?limit=3${query}`);
        expect(response.statusCode).toBe(200);
        const page = response.json<PageBody<OrganizationBody>>();
        names.push(...page.data.map((organization) => organization.name));
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor !== null);
      expect(pages).toBe(3);
      expect(names).toEqual([0, 1, 2, 3, 4, 5, 6].map((index) => `list-org-0${index}`));
    });

    it('sorts descending by created_at and filters by name', async () => {
      const sorted = await call(user, 'GET', '/api/v1/organizations?sort=-created_at&limit=2');
      const page = sorted.json<PageBody<OrganizationBody>>();
      expect(page.data[0]!.created_at).toBeGreaterThanOrEqual(page.data[1]!.created_at);
      const next = await call(user, 'GET', `/api/v1/organizations?sort=-created_at&limit=2&cursor=${page.next_cursor}`);
      expect(next.statusCode).toBe(200);
      const filtered = await call(user, 'GET', '/api/v1/organizations?q=ORG-03');
      expect(filtered.json<PageBody<OrganizationBody>>().data.map((organization) => organization.name)).toEqual([
        'list-org-03',
      ]);
      const wildcard = await call(user, 'GET', '/api/v1/organizations?q=%25');
      expect(wildcard.json<PageBody<OrganizationBody>>().data).toEqual([]);
    });

    it('answers malformed cursors, cursors of another sort and unknown sort fields with 400', async () => {
      const malformed = await call(user, 'GET', '/api/v1/organizations?cursor=not-a-cursor');
      expect(malformed.statusCode).toBe(400);
      expect(problemCode(malformed)).toBe('invalid_cursor');
      const byName = await call(user, 'GET', '/api/v1/organizations?limit=1');
      const cursor = byName.json<PageBody<OrganizationBody>>().next_cursor;
      const wrongSort = await call(user, 'GET', `/api/v1/organizations?sort=created_at&cursor=${cursor}`);
      expect(wrongSort.statusCode).toBe(400);
      expect(problemCode(wrongSort)).toBe('invalid_cursor');
      const badSort = await call(user, 'GET', '/api/v1/organizations?sort=secret');
      expect(badSort.statusCode).toBe(400);
      expect(badSort.json()).toMatchObject({ code: 'invalid_request', param: 'sort' });
      const badLimit = await call(user, 'GET', '/api/v1/organizations?limit=0');
      expect(badLimit.statusCode).toBe(400);
    });

    it('lists every organization only for platform admins asking with all=true', async () => {
      const forbidden = await call(user, 'GET', '/api/v1/organizations?all=true');
      expect(forbidden.statusCode).toBe(403);
      const admin = await createSignedInUser(testApp, { platformRole: 'admin' });
      const all = await call(admin, 'GET', '/api/v1/organizations?all=true&q=list-org&limit=200');
      const page = all.json<PageBody<OrganizationBody>>();
      expect(page.data).toHaveLength(8);
      expect(page.data.every((organization) => organization.role === null)).toBe(true);
      const mine = await call(admin, 'GET', '/api/v1/organizations');
      expect(mine.json<PageBody<OrganizationBody>>().data).toEqual([]);
    });
  });

  describe('read, rename, delete', () => {
    it('reads and renames with before/after in the audit log', async () => {
      const owner = await createSignedInUser(testApp);
      const orgId = await createOrganization(testApp, owner, 'Old name');
      const read = await call(owner, 'GET', `/api/v1/organizations/${orgId}`);
      expect(read.json()).toMatchObject({ id: orgId, name: 'Old name', role: 'owner' });
      const renamed = await call(owner, 'PATCH', `/api/v1/organizations/${orgId}`, { body: { name: 'New name' } });
      expect(renamed.statusCode).toBe(200);
      expect(renamed.json()).toMatchObject({ id: orgId, name: 'New name' });
      const events = await storedAuditEvents(testApp, orgId);
      expect(events.at(-1)).toMatchObject({
        action: 'organization.rename',
        before: { name: 'Old name' },
        after: { name: 'New name' },
        request_id: renamed.headers['x-request-id'],
      });
    });

    it('lets only the owner delete; a deleted organization is 404 everywhere at once but its rows are kept', async () => {
      const owner = await createSignedInUser(testApp);
      const admin = await createSignedInUser(testApp);
      const orgId = await createOrganization(testApp, owner, 'Doomed');
      await addMember(testApp, orgId, admin, 'admin');
      const team = await call(owner, 'POST', `/api/v1/organizations/${orgId}/teams`, { body: { name: 'Core' } });
      const teamId = team.json<{ id: string }>().id;

      const byAdmin = await call(admin, 'DELETE', `/api/v1/organizations/${orgId}`);
      expect(byAdmin.statusCode).toBe(403);
      const deleted = await call(owner, 'DELETE', `/api/v1/organizations/${orgId}`);
      expect(deleted.statusCode).toBe(204);

      for (const [method, url] of [
        ['GET', `/api/v1/organizations/${orgId}`],
        ['PATCH', `/api/v1/organizations/${orgId}`],
        ['DELETE', `/api/v1/organizations/${orgId}`],
        ['GET', `/api/v1/organizations/${orgId}/settings`],
        ['GET', `/api/v1/organizations/${orgId}/members`],
        ['GET', `/api/v1/organizations/${orgId}/teams`],
        ['GET', `/api/v1/organizations/${orgId}/teams/${teamId}`],
        ['GET', `/api/v1/organizations/${orgId}/invitations`],
        ['GET', `/api/v1/organizations/${orgId}/audit-events`],
        ['POST', `/api/v1/organizations/${orgId}/leave`],
      ] as const) {
        const body = method === 'PATCH' ? { name: 'Back' } : undefined;
        const response = await call(owner, method, url, { body });
        expect(response.statusCode, `${method} ${url}`).toBe(404);
      }
      const list = await call(owner, 'GET', '/api/v1/organizations');
      expect(list.json<PageBody<OrganizationBody>>().data.map((organization) => organization.id)).not.toContain(orgId);
      const me = await call(owner, 'GET', '/api/v1/me');
      expect(me.json<{ organizations: { id: string }[] }>().organizations.map((item) => item.id)).not.toContain(orgId);

      const row = await testApp.instance.services.database.db
        .selectFrom('organizations')
        .select(['deleted_at'])
        .where('id', '=', orgId)
        .executeTakeFirstOrThrow();
      expect(row.deleted_at).toEqual(expect.any(Number));
      const members = await testApp.instance.services.database.db
        .selectFrom('org_members')
        .select('user_id')
        .where('org_id', '=', orgId)
        .execute();
      expect(members).toHaveLength(2);
      expect(await lastAuditEvent(testApp, orgId, 'organization.delete')).toMatchObject({
        before: { deleted_at: null },
        after: { deleted_at: expect.any(Number), purge_after: expect.any(Number) },
      });
    });
  });

  describe('transfer ownership and leave', () => {
    it('moves ownership to a member; the previous owner becomes an admin', async () => {
      const owner = await createSignedInUser(testApp);
      const next = await createSignedInUser(testApp);
      const outsider = await createSignedInUser(testApp);
      const orgId = await createOrganization(testApp, owner);
      await addMember(testApp, orgId, next, 'member');
      const url = `/api/v1/organizations/${orgId}/transfer-ownership`;

      const toOutsider = await call(owner, 'POST', url, { body: { user_id: outsider.userId } });
      expect(toOutsider.statusCode).toBe(422);
      const byMember = await call(next, 'POST', url, { body: { user_id: next.userId } });
      expect(byMember.statusCode).toBe(403);
      const toSelf = await call(owner, 'POST', url, { body: { user_id: owner.userId } });
      expect(toSelf.statusCode).toBe(409);

      const transferred = await call(owner, 'POST', url, { body: { user_id: next.userId } });
      expect(transferred.statusCode).toBe(200);
      expect(transferred.json()).toMatchObject({
        owner: { user_id: next.userId, role: 'owner' },
        previous_owners: [{ user_id: owner.userId, role: 'admin' }],
      });
      const members = await call(next, 'GET', `/api/v1/organizations/${orgId}/members?sort=email`);
      const roles = Object.fromEntries(
        members.json<PageBody<{ user_id: string; role: string }>>().data.map((member) => [member.user_id, member.role]),
      );
      expect(roles).toEqual({ [owner.userId]: 'admin', [next.userId]: 'owner' });
      const again = await call(owner, 'POST', url, { body: { user_id: owner.userId } });
      expect(again.statusCode).toBe(403);
      expect(await lastAuditEvent(testApp, orgId, 'organization.transfer_ownership')).toMatchObject({
        action: 'organization.transfer_ownership',
        target_id: next.userId,
        before: { owners: [owner.userId] },
        after: { owners: [next.userId] },
      });
    });

    it('lets members leave (with their team memberships) but not the owner (409)', async () => {
      const owner = await createSignedInUser(testApp);
      const member = await createSignedInUser(testApp);
      const orgId = await createOrganization(testApp, owner);
      await addMember(testApp, orgId, member, 'member');
      const team = await call(owner, 'POST', `/api/v1/organizations/${orgId}/teams`, { body: { name: 'T' } });
      const teamId = team.json<{ id: string }>().id;
      await call(owner, 'POST', `/api/v1/organizations/${orgId}/teams/${teamId}/members`, {
        body: { user_id: member.userId },
      });

      const ownerLeaves = await call(owner, 'POST', `/api/v1/organizations/${orgId}/leave`);
      expect(ownerLeaves.statusCode).toBe(409);
      const left = await call(member, 'POST', `/api/v1/organizations/${orgId}/leave`);
      expect(left.statusCode).toBe(204);
      const after = await call(member, 'GET', `/api/v1/organizations/${orgId}`);
      expect(after.statusCode).toBe(404);
      const teamMembers = await call(owner, 'GET', `/api/v1/organizations/${orgId}/teams/${teamId}/members`);
      expect(teamMembers.json<PageBody<unknown>>().data).toEqual([]);
      expect(await lastAuditEvent(testApp, orgId, 'member.leave')).toMatchObject({
        action: 'member.leave',
        actor_user_id: member.userId,
        before: { user_id: member.userId, role: 'member' },
        after: { revoked_keys: 0 },
      });
    });

    it('creates nothing when a transaction fails part-way', async () => {
      const owner = await createSignedInUser(testApp);
      const orgId = await createOrganization(testApp, owner);
      const before = await countRows(testApp, 'audit_events');
      const first = await call(owner, 'POST', `/api/v1/organizations/${orgId}/teams`, { body: { name: 'Same' } });
      expect(first.statusCode).toBe(201);
      const duplicate = await call(owner, 'POST', `/api/v1/organizations/${orgId}/teams`, { body: { name: 'Same' } });
      expect(duplicate.statusCode).toBe(409);
      expect(await countRows(testApp, 'audit_events')).toBe(before + 1);
    });
  });
});
