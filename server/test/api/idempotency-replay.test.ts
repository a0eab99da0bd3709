import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, problemCode } from './tenancy-support.ts';

const hour = 60 * 60 * 1000;

describe.each(testEngines)('idempotent replays on %s', (engine) => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let orgId: string;
  let keyCounter = 0;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    owner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Replays Ltd');
  });
  afterAll(async () => {
    await testApp.close();
  });

  const db = () => testApp.instance.services.database.db;
  const freshKey = () => {
    keyCounter += 1;
    return `replay-${keyCounter}`;
  };
  const invite = (by: SignedInUser, key: string, email: string) =>
    callApi(testApp, by, 'POST', `/api/v1/organizations/${orgId}/invitations`, {
      body: { email, role: 'member' },
      headers: { 'idempotency-key': key },
    });
  const storedRecord = (key: string) =>
    db().selectFrom('idempotency_records').selectAll().where('key', '=', key).executeTakeFirstOrThrow();
  const setRole = (user: SignedInUser, role: 'admin' | 'viewer') =>
    db()
      .updateTable('org_members')
      .set({ role })
      .where('org_id', '=', orgId)
      .where('user_id', '=', user.userId)
      .execute();

  it('re-runs authorization: an admin demoted since the first request gets 403, not the stored answer', async () => {
    const admin = await createSignedInUser(testApp);
    await addMember(testApp, orgId, admin, 'admin');
    const key = freshKey();
    const first = await invite(admin, key, 'demoted@example.com');
    expect(first.statusCode).toBe(201);

    await setRole(admin, 'viewer');
    const replayed = await invite(admin, key, 'demoted@example.com');
    expect(replayed.statusCode).toBe(403);
    expect(problemCode(replayed)).toBe('forbidden');
    expect(replayed.headers['idempotent-replayed']).toBeUndefined();

    await setRole(admin, 'admin');
    const again = await invite(admin, key, 'demoted@example.com');
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
  });

  it('re-runs authorization: a member removed since the first request gets 404', async () => {
    const admin = await createSignedInUser(testApp);
    await addMember(testApp, orgId, admin, 'admin');
    const key = freshKey();
    expect((await invite(admin, key, 'removed@example.com')).statusCode).toBe(201);
    await db().deleteFrom('org_members').where('org_id', '=', orgId).where('user_id', '=', admin.userId).execute();
    const replayed = await invite(admin, key, 'removed@example.com');
    expect(replayed.statusCode).toBe(404);
  });

  it('never stores an invitation token or its link, and replays the redacted body', async () => {
    const key = freshKey();
    const first = await invite(owner, key, 'secretless@example.com');
    const created = first.json<{ id: string; token: string; accept_url: string }>();
    expect(created.token.length).toBeGreaterThan(20);

    const record = await storedRecord(key);
    expect(record.response).not.toContain(created.token);
    expect(record.response).not.toContain(encodeURIComponent(created.token));
    expect(JSON.parse(record.response ?? '{}')).not.toHaveProperty('accept_url');

    const replayed = await invite(owner, key, 'secretless@example.com');
    expect(replayed.statusCode).toBe(201);
    expect(replayed.json()).toMatchObject({ id: created.id, email: 'secretless@example.com' });
    expect(replayed.json()).not.toHaveProperty('token');
    expect(replayed.json()).not.toHaveProperty('accept_url');
  });

  it('never stores an API key secret', async () => {
    const key = freshKey();
    const created = await callApi(testApp, owner, 'POST', `/api/v1/organizations/${orgId}/keys`, {
      body: { name: 'idempotent key' },
      headers: { 'idempotency-key': key },
    });
    expect(created.statusCode).toBe(201);
    const secret = created.json<{ secret: string }>().secret;
    expect((await storedRecord(key)).response).not.toContain(secret);
  });

  it('runs afresh once a record has expired (24 hours by default)', async () => {
    const key = freshKey();
    const first = await invite(owner, key, 'expiring@example.com');
    expect(first.statusCode).toBe(201);
    await db()
      .updateTable('idempotency_records')
      .set({ created_at: Date.now() - 25 * hour })
      .where('key', '=', key)
      .execute();
    // Another body under the same key: refused with 422 while the record lives, a new request once it expired.
    const later = await invite(owner, key, 'expiring-later@example.com');
    expect(later.statusCode).toBe(201);
    expect(later.headers['idempotent-replayed']).toBeUndefined();
    expect(later.json<{ email: string }>().email).toBe('expiring-later@example.com');
  });

  it('answers 409 while the first request runs, but takes over a pending record abandoned past its lease', async () => {
    const key = freshKey();
    const scope = `${owner.userId}:POST:/api/v1/organizations/:org_id/invitations:${JSON.stringify({ org_id: orgId })}`;
    const first = await invite(owner, key, 'pending@example.com');
    expect(first.statusCode).toBe(201);
    const record = await storedRecord(key);
    expect(record.scope).toBe(scope);

    await db()
      .updateTable('idempotency_records')
      .set({ status: null, response: null, created_at: Date.now() })
      .where('key', '=', key)
      .execute();
    const running = await invite(owner, key, 'pending@example.com');
    expect(running.statusCode).toBe(409);
    expect(problemCode(running)).toBe('idempotency_conflict');

    // The first request died (a crash) two minutes ago: its record no longer blocks the key.
    await db()
      .updateTable('idempotency_records')
      .set({ created_at: Date.now() - 2 * 60 * 1000 })
      .where('key', '=', key)
      .execute();
    await db().deleteFrom('invitations').where('email', '=', 'pending@example.com').execute();
    const retried = await invite(owner, key, 'pending@example.com');
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect((await storedRecord(key)).status).toBe(201);
  });

  it('replays a refusal as the same problem+json', async () => {
    const key = freshKey();
    const member = await createSignedInUser(testApp);
    await addMember(testApp, orgId, member, 'member');
    const first = await invite(owner, key, member.email);
    expect(first.statusCode).toBe(409);
    const replayed = await invite(owner, key, member.email);
    expect(replayed.statusCode).toBe(409);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(replayed.json()).toEqual(first.json());
  });

  it('lets only one of several concurrent first requests run; the others get 409 or the replay', async () => {
    const key = freshKey();
    const responses = await Promise.all(Array.from({ length: 6 }, () => invite(owner, key, 'racing@example.com')));
    const ran = responses.filter(
      (response) => response.statusCode === 201 && response.headers['idempotent-replayed'] === undefined,
    );
    expect(ran).toHaveLength(1);
    for (const response of responses) {
      if (response === ran[0]) continue;
      expect([409, 201]).toContain(response.statusCode);
      if (response.statusCode === 201) expect(response.headers['idempotent-replayed']).toBe('true');
    }
    const rows = await db().selectFrom('invitations').select('id').where('email', '=', 'racing@example.com').execute();
    expect(rows).toHaveLength(1);
  });

  it('answers 503 database_unavailable, not 409, when the idempotency store fails', async () => {
    await db().schema.alterTable('idempotency_records').renameTo('idempotency_records_away').execute();
    try {
      const response = await invite(owner, freshKey(), 'outage@example.com');
      expect(response.statusCode).toBe(503);
      expect(problemCode(response)).toBe('database_unavailable');
    } finally {
      await db().schema.alterTable('idempotency_records_away').renameTo('idempotency_records').execute();
    }
    expect(
      await db().selectFrom('invitations').select('id').where('email', '=', 'outage@example.com').execute(),
    ).toEqual([]);
  });
});

describe.each(testEngines)('idempotency record sweep on %s', (engine) => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({ engine, overrides: { idempotencyTtlSeconds: 3600 } });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('deletes records older than the configured lifetime, and keeps younger ones', async () => {
    const owner = await createSignedInUser(testApp);
    const orgId = await createOrganization(testApp, owner);
    const db = testApp.instance.services.database.db;
    const now = Date.now();
    const row = { scope: 'someone:POST:/x:{}', request_hash: 'h', status: 201, response: '{}', authorizations: '[]' };
    await db
      .insertInto('idempotency_records')
      .values([
        { ...row, key: 'old', created_at: now - 2 * hour },
        { ...row, key: 'young', created_at: now - hour / 2 },
      ])
      .execute();

    const response = await callApi(testApp, owner, 'POST', `/api/v1/organizations/${orgId}/teams`, {
      body: { name: 'Sweepers' },
      headers: { 'idempotency-key': 'sweep-trigger' },
    });
    expect(response.statusCode).toBe(201);
    const keys = await db.selectFrom('idempotency_records').select('key').orderBy('key').execute();
    expect(keys.map((record) => record.key)).toEqual(['sweep-trigger', 'young']);
  });
});
