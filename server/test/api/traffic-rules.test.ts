import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodBounds, trafficEpochName } from '../../src/modules/traffic/index.ts';
import { addMember, createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, lastAuditEvent, problemCode, type Method } from './tenancy-support.ts';

interface Rule {
  id: string;
  subject: { type: string; id: string };
}

describe.each(testEngines)('limits, budgets and budget alerts API on %s', (engine) => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let billing: SignedInUser;
  let member: SignedInUser;
  let otherMember: SignedInUser;
  let outsider: SignedInUser;
  let orgId: string;
  let teamId: string;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    owner = await createSignedInUser(testApp);
    billing = await createSignedInUser(testApp);
    member = await createSignedInUser(testApp);
    otherMember = await createSignedInUser(testApp);
    outsider = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Traffic Co');
    await addMember(testApp, orgId, billing, 'billing');
    await addMember(testApp, orgId, member, 'member');
    await addMember(testApp, orgId, otherMember, 'member');
    await createOrganization(testApp, outsider, 'Elsewhere');
    const team = await callApi(testApp, owner, 'POST', `/api/v1/organizations/${orgId}/teams`, {
      body: { name: 'Platform team' },
    });
    expect(team.statusCode, team.body).toBe(201);
    teamId = team.json<{ id: string }>().id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  const db = () => testApp.instance.services.database.db;
  const readEpoch = async (name = trafficEpochName) =>
    (await db().selectFrom('cache_epochs').select('epoch').where('name', '=', name).executeTakeFirst())?.epoch ?? 0;
  const as = (user: SignedInUser, method: Method, path: string, body?: unknown) =>
    callApi(testApp, user, method, `/api/v1/organizations/${orgId}${path}`, body === undefined ? {} : { body });
  const expectInvalid = async (response: Awaited<ReturnType<typeof as>>, param: string) => {
    expect(response.statusCode, response.body).toBe(400);
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(response.json()).toMatchObject({ code: 'invalid_request', param });
  };

  it('creates, reads, changes and removes a limit, audited, each change moving the traffic epoch', async () => {
    const epoch = await readEpoch();
    const created = await as(owner, 'POST', '/limits', {
      subject: { type: 'team', id: teamId },
      model: 'gpt-test',
      rpm_limit: 60,
      concurrency_limit: 4,
    });
    expect(created.statusCode, created.body).toBe(201);
    const limit = created.json<Rule & Record<string, unknown>>();
    expect(limit).toMatchObject({
      org_id: orgId,
      subject: { type: 'team', id: teamId },
      model: 'gpt-test',
      rpm_limit: 60,
      tpm_limit: null,
      concurrency_limit: 4,
    });
    expect(await readEpoch()).toBe(epoch + 1);
    expect(await lastAuditEvent(testApp, orgId, 'traffic_limit.create')).toMatchObject({
      actor_user_id: owner.userId,
      target_type: 'traffic_limit',
      target_id: limit.id,
      after: { subject: { type: 'team', id: teamId }, model: 'gpt-test', rpm_limit: 60 },
    });

    expect((await as(member, 'GET', `/limits/${limit.id}`)).json()).toEqual(limit);
    const changed = await as(owner, 'PATCH', `/limits/${limit.id}`, { tpm_limit: 10_000, concurrency_limit: null });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ rpm_limit: 60, tpm_limit: 10_000, concurrency_limit: null });
    expect(await lastAuditEvent(testApp, orgId, 'traffic_limit.update')).toMatchObject({
      before: { tpm_limit: null, concurrency_limit: 4 },
      after: { tpm_limit: 10_000, concurrency_limit: null },
    });
    expect(await readEpoch()).toBe(epoch + 2);

    expect((await as(owner, 'DELETE', `/limits/${limit.id}`)).statusCode).toBe(204);
    expect((await as(owner, 'GET', `/limits/${limit.id}`)).statusCode).toBe(404);
    expect(await lastAuditEvent(testApp, orgId, 'traffic_limit.delete')).toMatchObject({ target_id: limit.id });
    expect(await readEpoch()).toBe(epoch + 3);
  });

  it('refuses bad limits with a 400 naming the field, and a second rule for the same subject and model with 409', async () => {
    const organization = { type: 'organization', id: orgId };
    await expectInvalid(await as(owner, 'POST', '/limits', { subject: organization, rpm_limit: -1 }), 'rpm_limit');
    await expectInvalid(await as(owner, 'POST', '/limits', { subject: organization, tpm_limit: 0 }), 'tpm_limit');
    await expectInvalid(
      await as(owner, 'POST', '/limits', { subject: organization, concurrency_limit: 1_000_000 }),
      'concurrency_limit',
    );
    await expectInvalid(await as(owner, 'POST', '/limits', { subject: organization }), 'rpm_limit');
    await expectInvalid(
      await as(owner, 'POST', '/limits', { subject: { type: 'team', id: 'team_missing' }, rpm_limit: 1 }),
      'subject.id',
    );
    await expectInvalid(
      await as(owner, 'POST', '/limits', { subject: { type: 'user', id: outsider.userId }, rpm_limit: 1 }),
      'subject.id',
    );
    const first = await as(owner, 'POST', '/limits', { subject: organization, rpm_limit: 100 });
    expect(first.statusCode, first.body).toBe(201);
    const again = await as(owner, 'POST', '/limits', { subject: organization, model: null, tpm_limit: 5 });
    expect(again.statusCode, again.body).toBe(409);
    expect(problemCode(again)).toBe('conflict');
    const perModel = await as(owner, 'POST', '/limits', { subject: organization, model: 'gpt-test', tpm_limit: 5 });
    expect(perModel.statusCode, perModel.body).toBe(201);
    await as(owner, 'DELETE', `/limits/${first.json<Rule>().id}`);
    await as(owner, 'DELETE', `/limits/${perModel.json<Rule>().id}`);
  });

  it('creates a budget with its live figures, accepts one below what was spent, and refuses bad ones by field', async () => {
    const epoch = await readEpoch();
    const created = await as(billing, 'POST', '/budgets', {
      subject: { type: 'organization', id: orgId },
      amount_micros: 0,
      period: 'day',
      alert_thresholds: [100, 25, 25],
    });
    expect(created.statusCode, created.body).toBe(201);
    const budget = created.json<Rule & Record<string, number | null>>();
    const bounds = periodBounds('day', 'UTC', Date.now());
    expect(budget).toMatchObject({
      amount_micros: 0,
      period: 'day',
      alert_thresholds: [25, 100],
      spent_micros: 0,
      reserved_micros: 0,
      remaining_micros: 0,
      period_start: bounds.start,
      resets_at: bounds.end,
    });
    expect(await readEpoch()).toBe(epoch + 1);
    expect(await lastAuditEvent(testApp, orgId, 'budget.create')).toMatchObject({
      actor_user_id: billing.userId,
      target_type: 'budget',
      target_id: budget.id,
    });
    const duplicate = await as(owner, 'POST', '/budgets', {
      subject: { type: 'organization', id: orgId },
      amount_micros: 5,
      period: 'day',
    });
    expect(duplicate.statusCode).toBe(409);

    const organization = { type: 'organization', id: orgId };
    await expectInvalid(
      await as(owner, 'POST', '/budgets', { subject: organization, amount_micros: -1, period: 'week' }),
      'amount_micros',
    );
    await expectInvalid(
      await as(owner, 'POST', '/budgets', { subject: organization, amount_micros: 1, period: 'fortnight' }),
      'period',
    );
    await expectInvalid(
      await as(owner, 'POST', '/budgets', {
        subject: organization,
        amount_micros: 1,
        period: 'week',
        alert_thresholds: [0],
      }),
      'alert_thresholds[0]',
    );
    const changed = await as(owner, 'PATCH', `/budgets/${budget.id}`, { amount_micros: 2_500_000, period: 'total' });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({
      amount_micros: 2_500_000,
      period: 'total',
      period_start: 0,
      resets_at: null,
    });
    expect(await lastAuditEvent(testApp, orgId, 'budget.update')).toMatchObject({
      before: { amount_micros: 0, period: 'day' },
      after: { amount_micros: 2_500_000, period: 'total' },
    });
    expect((await as(owner, 'DELETE', `/budgets/${budget.id}`)).statusCode).toBe(204);
    expect(await lastAuditEvent(testApp, orgId, 'budget.delete')).toMatchObject({ target_id: budget.id });
    expect(await readEpoch()).toBe(epoch + 3);
  });

  it("shows everyone the organization's and teams' rules and their own, and other members' only to readers of all", async () => {
    const mine = await as(owner, 'POST', '/limits', { subject: { type: 'user', id: member.userId }, rpm_limit: 5 });
    const theirs = await as(owner, 'POST', '/limits', {
      subject: { type: 'user', id: otherMember.userId },
      rpm_limit: 5,
    });
    const team = await as(owner, 'POST', '/limits', { subject: { type: 'team', id: teamId }, rpm_limit: 5 });
    const theirBudget = await as(owner, 'POST', '/budgets', {
      subject: { type: 'user', id: otherMember.userId },
      amount_micros: 10,
      period: 'month',
    });
    for (const response of [mine, theirs, team, theirBudget]) expect(response.statusCode, response.body).toBe(201);
    const ids = (response: Awaited<ReturnType<typeof as>>) =>
      response.json<{ data: Rule[] }>().data.map((rule) => rule.id);

    const memberList = ids(await as(member, 'GET', '/limits'));
    expect(memberList).toContain(mine.json<Rule>().id);
    expect(memberList).toContain(team.json<Rule>().id);
    expect(memberList).not.toContain(theirs.json<Rule>().id);
    expect((await as(member, 'GET', `/limits/${theirs.json<Rule>().id}`)).statusCode).toBe(404);
    expect((await as(member, 'GET', `/budgets/${theirBudget.json<Rule>().id}`)).statusCode).toBe(404);
    expect(ids(await as(member, 'GET', '/budgets'))).not.toContain(theirBudget.json<Rule>().id);

    expect(ids(await as(billing, 'GET', '/limits'))).toContain(theirs.json<Rule>().id);
    expect((await as(billing, 'GET', `/budgets/${theirBudget.json<Rule>().id}`)).statusCode).toBe(200);
    const filtered = ids(await as(billing, 'GET', `/limits?subject_type=user&subject_id=${otherMember.userId}`));
    expect(filtered).toEqual([theirs.json<Rule>().id]);

    // Reading is not managing: billing may not touch limits, members neither limits nor budgets.
    expect((await as(billing, 'PATCH', `/limits/${team.json<Rule>().id}`, { rpm_limit: 6 })).statusCode).toBe(403);
    expect(
      (await as(member, 'PATCH', `/budgets/${theirBudget.json<Rule>().id}`, { amount_micros: 1 })).statusCode,
    ).toBe(403);
    expect((await callApi(testApp, outsider, 'GET', `/api/v1/organizations/${orgId}/limits`)).statusCode).toBe(404);
  });

  it('lists budget alerts newest first, each member seeing the organization, team and their own', async () => {
    const insert = async (id: string, subjectType: string, subjectId: string, createdAt: number) =>
      db()
        .insertInto('budget_alerts')
        .values({
          id,
          org_id: orgId,
          budget_ref: `ref-${id}`,
          subject_type: subjectType,
          subject_id: subjectId,
          period_start: 0,
          threshold: 80,
          amount_micros: 100,
          spent_micros: 80,
          created_at: createdAt,
        })
        .execute();
    await insert('alert-1', 'organization', orgId, 1_000);
    await insert('alert-2', 'user', otherMember.userId, 2_000);
    await insert('alert-3', 'team', teamId, 3_000);
    const all = await as(owner, 'GET', '/budget-alerts');
    expect(all.statusCode, all.body).toBe(200);
    expect(all.json<{ data: { id: string }[] }>().data.map((alert) => alert.id)).toEqual([
      'alert-3',
      'alert-2',
      'alert-1',
    ]);
    expect(all.json<{ data: unknown[] }>().data[0]).toEqual({
      id: 'alert-3',
      budget_ref: 'ref-alert-3',
      subject: { type: 'team', id: teamId },
      threshold: 80,
      amount_micros: 100,
      spent_micros: 80,
      period_start: 0,
      created_at: 3_000,
    });
    const memberView = await as(member, 'GET', '/budget-alerts?limit=1');
    expect(memberView.json<{ data: { id: string }[] }>().data.map((alert) => alert.id)).toEqual(['alert-3']);
    const cursor = memberView.json<{ next_cursor: string }>().next_cursor;
    const next = await as(member, 'GET', `/budget-alerts?limit=5&cursor=${cursor}`);
    expect(next.json<{ data: { id: string }[] }>().data.map((alert) => alert.id)).toEqual(['alert-1']);
  });

  it('keeps the time zone in the settings, validated, and moves the traffic epoch when it changes', async () => {
    const settingsUrl = '/settings';
    expect((await as(member, 'GET', settingsUrl)).json()).toMatchObject({ time_zone: 'UTC' });
    const epoch = await readEpoch();
    await expectInvalid(await as(owner, 'PATCH', settingsUrl, { time_zone: 'Mars/Olympus_Mons' }), 'time_zone');
    expect(await readEpoch()).toBe(epoch);
    const changed = await as(owner, 'PATCH', settingsUrl, { time_zone: 'Europe/Berlin' });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ time_zone: 'Europe/Berlin' });
    expect(await readEpoch()).toBe(epoch + 1);
    expect(await lastAuditEvent(testApp, orgId, 'organization.settings_update')).toMatchObject({
      before: { time_zone: 'UTC' },
      after: { time_zone: 'Europe/Berlin' },
    });
    // Budget periods now begin at Berlin midnight, once the gateway's policy cache sees the epoch move.
    await testApp.instance.services.traffic.control.poll();
    const budget = await as(owner, 'POST', '/budgets', {
      subject: { type: 'team', id: teamId },
      amount_micros: 1,
      period: 'week',
    });
    expect(budget.statusCode, budget.body).toBe(201);
    const bounds = periodBounds('week', 'Europe/Berlin', Date.now());
    expect(budget.json()).toMatchObject({ period_start: bounds.start, resets_at: bounds.end });
    // Another change that leaves the zone alone leaves the epoch alone.
    const afterBudget = await readEpoch();
    await as(owner, 'PATCH', settingsUrl, { data_retention_days: 30 });
    expect(await readEpoch()).toBe(afterBudget);
    await as(owner, 'PATCH', settingsUrl, { time_zone: 'UTC' });
    await testApp.instance.services.traffic.control.poll();
  });

  it('removes the rules of a deleted team and of a removed member with them', async () => {
    const team = await as(owner, 'POST', '/teams', { name: 'Short-lived' });
    const shortTeamId = team.json<{ id: string }>().id;
    const leaver = await createSignedInUser(testApp);
    await addMember(testApp, orgId, leaver, 'member');
    const teamLimit = await as(owner, 'POST', '/limits', { subject: { type: 'team', id: shortTeamId }, rpm_limit: 1 });
    const userBudget = await as(owner, 'POST', '/budgets', {
      subject: { type: 'user', id: leaver.userId },
      amount_micros: 1,
      period: 'total',
    });
    expect(teamLimit.statusCode, teamLimit.body).toBe(201);
    expect(userBudget.statusCode, userBudget.body).toBe(201);
    const epoch = await readEpoch();
    expect((await as(owner, 'DELETE', `/teams/${shortTeamId}`)).statusCode).toBe(204);
    expect((await as(owner, 'GET', `/limits/${teamLimit.json<Rule>().id}`)).statusCode).toBe(404);
    expect((await as(owner, 'DELETE', `/members/${leaver.userId}`)).statusCode).toBe(204);
    expect((await as(owner, 'GET', `/budgets/${userBudget.json<Rule>().id}`)).statusCode).toBe(404);
    expect(await readEpoch()).toBe(epoch + 2);
  });

  it("takes a key's concurrency limit and budget period, refusing bad ones by field, and moves the keys epoch", async () => {
    const created = await as(owner, 'POST', '/keys', {
      name: 'limited',
      concurrency_limit: 2,
      budget_micros: 1_000,
      budget_period: 'week',
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      concurrency_limit: 2,
      budget_micros: 1_000,
      budget_period: 'week',
      budget_spent_micros: 0,
      budget_reserved_micros: 0,
      budget_resets_at: new Date(periodBounds('week', 'UTC', Date.now()).end ?? 0).toISOString(),
    });
    const keyId = created.json<{ id: string }>().id;
    const plain = await as(owner, 'POST', '/keys', { name: 'plain' });
    expect(plain.json()).toMatchObject({
      concurrency_limit: null,
      budget_period: 'total',
      budget_spent_micros: null,
      budget_resets_at: null,
    });
    await expectInvalid(await as(owner, 'PATCH', `/keys/${keyId}`, { concurrency_limit: 0 }), 'concurrency_limit');
    await expectInvalid(
      await as(owner, 'PATCH', `/keys/${keyId}`, { concurrency_limit: 100_001 }),
      'concurrency_limit',
    );
    await expectInvalid(await as(owner, 'PATCH', `/keys/${keyId}`, { budget_period: 'year' }), 'budget_period');
    const keysEpoch = await readEpoch('api_keys');
    const raised = await as(owner, 'PATCH', `/keys/${keyId}`, { rpm_limit: 500, budget_period: 'total' });
    expect(raised.statusCode, raised.body).toBe(200);
    expect(raised.json()).toMatchObject({ rpm_limit: 500, budget_period: 'total', budget_resets_at: null });
    expect(await readEpoch('api_keys')).toBe(keysEpoch + 1);
    const listed = await as(owner, 'GET', '/keys');
    const inList = listed.json<{ data: { id: string }[] }>().data.find((key) => key.id === keyId);
    expect(inList).toMatchObject({ concurrency_limit: 2, budget_period: 'total' });
    expect(inList).not.toHaveProperty('budget_spent_micros');
  });
});
