import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { recordAuditEvent } from '../../src/modules/audit/index.ts';
import { callApi, problemCode } from './tenancy-support.ts';

interface AuditEventBody {
  id: string;
  org_id: string;
  actor_user_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  request_id: string | null;
  created_at: number;
}
interface PageBody {
  data: AuditEventBody[];
  next_cursor: string | null;
}

describe.each(testEngines)('audit events on %s', (engine) => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let admin: SignedInUser;
  let member: SignedInUser;
  let orgId: string;
  const requestIds: string[] = [];

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    owner = await createSignedInUser(testApp);
    admin = await createSignedInUser(testApp);
    member = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Audited');
    await addMember(testApp, orgId, admin, 'admin');
    await addMember(testApp, orgId, member, 'member');
    for (const name of ['One', 'Two', 'Three', 'Four', 'Five']) {
      const response = await callApi(testApp, admin, 'POST', `/api/v1/organizations/${orgId}/teams`, {
        body: { name },
      });
      requestIds.push(String(response.headers['x-request-id']));
    }
    await callApi(testApp, owner, 'PATCH', `/api/v1/organizations/${orgId}`, { body: { name: 'Audited Inc' } });
    const other = await createOrganization(testApp, member, 'Elsewhere');
    await callApi(testApp, member, 'PATCH', `/api/v1/organizations/${other}`, { body: { name: 'Elsewhere Inc' } });
  });
  afterAll(async () => {
    await testApp.close();
  });

  const list = (user: SignedInUser, query = '') =>
    callApi(testApp, user, 'GET', `/api/v1/organizations/${orgId}/audit-events${query}`);

  it('shows owners and admins the events of their organization only, newest first', async () => {
    const response = await list(admin);
    expect(response.statusCode).toBe(200);
    const events = response.json<PageBody>().data;
    expect(events.map((event) => event.action)).toEqual([
      'organization.rename',
      'team.create',
      'team.create',
      'team.create',
      'team.create',
      'team.create',
    ]);
    expect(events.every((event) => event.org_id === orgId)).toBe(true);
    expect(events[0]).toMatchObject({
      actor_user_id: owner.userId,
      target_type: 'organization',
      target_id: orgId,
      before: { name: 'Audited' },
      after: { name: 'Audited Inc' },
      ip: '127.0.0.1',
      request_id: expect.stringMatching(/^req_/),
    });
    expect(
      events
        .slice(1)
        .map((event) => event.request_id)
        .sort(),
    ).toEqual([...requestIds].sort());
    expect(events.map((event) => event.created_at)).toEqual(
      events.map((event) => event.created_at).sort((a, b) => b - a),
    );
    expect((await list(member)).statusCode).toBe(403);
  });

  it('filters by action, actor, target type and time', async () => {
    const byAction = await list(owner, '?action=team.create');
    expect(byAction.json<PageBody>().data).toHaveLength(5);
    const byActor = await list(owner, `?actor_user_id=${owner.userId}`);
    expect(byActor.json<PageBody>().data.map((event) => event.action)).toEqual(['organization.rename']);
    const byTarget = await list(owner, '?target_type=organization');
    expect(byTarget.json<PageBody>().data).toHaveLength(1);
    const all = (await list(owner)).json<PageBody>().data;
    const oldest = all.at(-1)!;
    const since = await list(owner, `?since=${encodeURIComponent(new Date(oldest.created_at + 1).toISOString())}`);
    expect(since.json<PageBody>().data.length).toBeLessThan(all.length);
    const until = await list(owner, `?until=${encodeURIComponent(new Date(oldest.created_at).toISOString())}`);
    expect(until.json<PageBody>().data).toEqual([]);
    const badTime = await list(owner, '?since=yesterday');
    expect(badTime.statusCode).toBe(400);
    expect(badTime.json()).toMatchObject({ param: 'since' });
  });

  it('pages with cursors and rejects malformed ones', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const suffix: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = (await list(owner, `?limit=4${suffix}`)).json<PageBody>();
      seen.push(...page.data.map((event) => event.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual((await list(owner)).json<PageBody>().data.map((event) => event.id));
    const malformed = await list(owner, '?cursor=%%%');
    expect(malformed.statusCode).toBe(400);
    const wrongType = await list(owner, `?cursor=${Buffer.from('["a","b"]').toString('base64url')}`);
    expect(wrongType.statusCode).toBe(400);
    expect(problemCode(wrongType)).toBe('invalid_cursor');
  });

  it('lists events of one millisecond newest first, exactly as they were recorded (monotonic ids)', async () => {
    const quickOrg = await createOrganization(testApp, owner, 'Quick');
    const db = testApp.instance.services.database.db;
    const sameMillisecond = Date.now();
    const names = Array.from({ length: 20 }, (_, index) => `step-${index}`);
    for (const name of names) {
      await recordAuditEvent(
        db,
        { orgId: quickOrg, actor: null, action: 'test.step', targetType: 'test', targetId: name },
        sameMillisecond,
      );
    }
    const response = await callApi(testApp, owner, 'GET', `/api/v1/organizations/${quickOrg}/audit-events?limit=50`);
    const events = response.json<PageBody>().data;
    expect(events.map((event) => event.target_id)).toEqual([...names].reverse());
    expect(new Set(events.map((event) => event.created_at))).toEqual(new Set([sameMillisecond]));
  });

  it('stores snapshots with the API’s snake_case field names and no secrets', async () => {
    const keyedOrg = await createOrganization(testApp, owner, 'Keyed');
    const created = await callApi(testApp, owner, 'POST', `/api/v1/organizations/${keyedOrg}/keys`, {
      body: { name: 'audited key', allowed_models: ['gpt-test'] },
    });
    expect(created.statusCode).toBe(201);
    const secret = created.json<{ secret: string }>().secret;
    const events = (
      await callApi(testApp, owner, 'GET', `/api/v1/organizations/${keyedOrg}/audit-events?action=key.create`)
    ).json<PageBody>().data;
    expect(events).toHaveLength(1);
    const after = events[0]!.after as Record<string, unknown>;
    expect(after).toMatchObject({ name: 'audited key', allowed_models: ['gpt-test'], org_id: keyedOrg });
    const fieldNames = (value: unknown): string[] =>
      value && typeof value === 'object'
        ? Object.entries(value).flatMap(([field, child]) => [field, ...fieldNames(child)])
        : [];
    expect(fieldNames(after).filter((field) => /[A-Z]/.test(field))).toEqual([]);
    expect(JSON.stringify(events[0])).not.toContain(secret);
  });

  it('answers the same list at /audit-events?org_id=', async () => {
    const response = await callApi(testApp, admin, 'GET', `/api/v1/audit-events?org_id=${orgId}&limit=2`);
    expect(response.statusCode).toBe(200);
    expect(response.json<PageBody>().data.map((event) => event.action)).toEqual(['organization.rename', 'team.create']);
    const missing = await callApi(testApp, admin, 'GET', '/api/v1/audit-events');
    expect(missing.statusCode).toBe(400);
  });

  it('has no route that changes or deletes audit events', async () => {
    const [event] = (await list(owner, '?limit=1')).json<PageBody>().data;
    for (const method of ['PATCH', 'DELETE'] as const) {
      const response = await callApi(
        testApp,
        owner,
        method,
        `/api/v1/organizations/${orgId}/audit-events/${event!.id}`,
      );
      expect(response.statusCode).toBe(404);
    }
  });
});
