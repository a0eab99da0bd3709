import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { AppError } from '../../src/errors/app-error.ts';
import type { Actor, OrgScope } from '../../src/modules/shared/index.ts';
import {
  TrafficService,
  deleteTrafficRulesWithin,
  trafficEpochName,
  type TrafficAccessRules,
} from '../../src/modules/traffic/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';

const actor: Actor = { userId: 'user_owner', platformRole: 'member', via: 'session' };
// Scopes are made by the Authorizer in the product; these tests drive the service below it.
const orgScope = (orgId: string, userId = actor.userId) =>
  ({ orgId, actor: { ...actor, userId }, role: 'owner' }) as OrgScope;
const window = { sort: { field: 'created_at' as const, direction: 'asc' as const }, limit: 50, after: undefined };

async function expectError(work: Promise<unknown>, code: string, param?: string): Promise<void> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  if (param !== undefined) expect((error as AppError).param).toBe(param);
}

describe.each(testEngines)('the traffic service on %s', (engine) => {
  let database: TestDatabase;
  let service: TrafficService;
  let clock: number;
  let readsAll: boolean;

  const db = () => database.handle.db;
  const readEpoch = async () =>
    (await db().selectFrom('cache_epochs').select('epoch').where('name', '=', trafficEpochName).executeTakeFirst())
      ?.epoch ?? 0;

  async function insertKey(id: string, orgId: string, userId: string, teamId: string | null): Promise<void> {
    await db()
      .insertInto('api_keys')
      .values({
        id,
        name: id,
        user_id: userId,
        key_hash: `hash-${id}`,
        key_prefix: id,
        allowed_models: null,
        expires_at: null,
        revoked_at: null,
        last_used_at: null,
        created_at: clock,
        org_id: orgId,
        team_id: teamId,
      })
      .execute();
  }

  async function insertUsage(id: string, keyId: string | null, createdAt: number, costMicros: number): Promise<void> {
    await db()
      .insertInto('usage_records')
      .values({
        id,
        request_id: id,
        created_at: createdAt,
        key_id: keyId,
        model: 'gpt-test',
        provider_id: 'mock',
        deployment_model: 'mock-gpt',
        endpoint: 'chat',
        streamed: 0,
        prompt_tokens: 1,
        completion_tokens: 1,
        cached_tokens: 0,
        usage_source: 'upstream',
        cost_micros: costMicros,
        latency_ms: 1,
        first_token_ms: null,
        status: 200,
        outcome: 'success',
        error_code: null,
      })
      .execute();
  }

  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(db());
    clock = 1_700_000_000_000;
    readsAll = true;
    const access: TrafficAccessRules = { mayReadAllTraffic: () => readsAll };
    service = new TrafficService({ db: db(), now: () => clock, access });
    for (const id of ['user_owner', 'user_member', 'user_outsider']) {
      await db()
        .insertInto('users')
        .values({ id, email: `${id}@example.com`, name: id, role: 'member', created_at: clock })
        .execute();
    }
    for (const id of ['org_a', 'org_b']) {
      await db()
        .insertInto('organizations')
        .values({ id, name: id, settings: '{}', deleted_at: null, created_at: clock, updated_at: clock })
        .execute();
    }
    await db()
      .insertInto('org_members')
      .values([
        { org_id: 'org_a', user_id: 'user_owner', role: 'owner', created_at: clock },
        { org_id: 'org_a', user_id: 'user_member', role: 'member', created_at: clock },
        { org_id: 'org_b', user_id: 'user_outsider', role: 'owner', created_at: clock },
      ])
      .execute();
    await db()
      .insertInto('teams')
      .values([
        { id: 'team_a', org_id: 'org_a', name: 'A', created_at: clock, updated_at: clock },
        { id: 'team_b', org_id: 'org_b', name: 'B', created_at: clock, updated_at: clock },
      ])
      .execute();
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  it('keeps one limit per subject and model, an every-model rule included, and bumps the epoch each change', async () => {
    const scope = orgScope('org_a');
    const epoch = await readEpoch();
    const everyModel = await service.createLimit(scope, { subject: { type: 'team', id: 'team_a' }, rpmLimit: 10 });
    expect(everyModel).toMatchObject({ orgId: 'org_a', model: null, rpmLimit: 10, tpmLimit: null });
    expect(await readEpoch()).toBe(epoch + 1);
    await expectError(service.createLimit(scope, { subject: { type: 'team', id: 'team_a' }, tpmLimit: 5 }), 'conflict');
    const oneModel = await service.createLimit(scope, {
      subject: { type: 'team', id: 'team_a' },
      model: '  gpt-test ',
      concurrencyLimit: 3,
    });
    expect(oneModel.model).toBe('gpt-test');
    // The unique index itself refuses a second every-model row (the '' sentinel), not only the service's check.
    await expect(
      db()
        .insertInto('traffic_limits')
        .values({
          id: 'raw',
          org_id: 'org_a',
          subject_type: 'team',
          subject_id: 'team_a',
          model: '',
          rpm_limit: 1,
          tpm_limit: null,
          concurrency_limit: null,
          created_at: clock,
          updated_at: clock,
        })
        .execute(),
    ).rejects.toThrow();
    await expectError(service.updateLimit(scope, oneModel.id, { model: null }), 'conflict');
    const updated = await service.updateLimit(scope, oneModel.id, { rpmLimit: 7, concurrencyLimit: null });
    expect(updated).toMatchObject({ rpmLimit: 7, concurrencyLimit: null, model: 'gpt-test' });
    await expectError(service.updateLimit(scope, oneModel.id, { rpmLimit: null }), 'invalid_request', 'rpm_limit');
    await service.deleteLimit(scope, everyModel.id);
    expect((await service.listLimits(scope, {}, window)).map((limit) => limit.id)).toEqual([oneModel.id]);
    expect(await readEpoch()).toBe(epoch + 4);
  });

  it('validates subjects against the organization and every field by name', async () => {
    const scope = orgScope('org_a');
    await expectError(
      service.createLimit(scope, { subject: { type: 'team', id: 'team_b' }, rpmLimit: 1 }),
      'invalid_request',
      'subject.id',
    );
    await expectError(
      service.createLimit(scope, { subject: { type: 'user', id: 'user_outsider' }, rpmLimit: 1 }),
      'invalid_request',
      'subject.id',
    );
    await expectError(
      service.createLimit(scope, { subject: { type: 'organization', id: 'org_b' }, rpmLimit: 1 }),
      'invalid_request',
      'subject.id',
    );
    await expectError(
      service.createLimit(scope, { subject: { type: 'group', id: 'x' }, rpmLimit: 1 }),
      'invalid_request',
      'subject.type',
    );
    const organization = { type: 'organization', id: 'org_a' };
    await expectError(service.createLimit(scope, { subject: organization }), 'invalid_request', 'rpm_limit');
    await expectError(
      service.createLimit(scope, { subject: organization, rpmLimit: -1 }),
      'invalid_request',
      'rpm_limit',
    );
    await expectError(
      service.createLimit(scope, { subject: organization, tpmLimit: 1.5 }),
      'invalid_request',
      'tpm_limit',
    );
    await expectError(
      service.createLimit(scope, { subject: organization, concurrencyLimit: 100_001 }),
      'invalid_request',
      'concurrency_limit',
    );
    await expectError(
      service.createLimit(scope, { subject: organization, model: 'x'.repeat(201), rpmLimit: 1 }),
      'invalid_request',
      'model',
    );
    await expectError(
      service.createBudget(scope, { subject: organization, amountMicros: -5, period: 'day' }),
      'invalid_request',
      'amount_micros',
    );
    await expectError(
      service.createBudget(scope, { subject: organization, amountMicros: 5, period: 'year' }),
      'invalid_request',
      'period',
    );
    await expectError(
      service.createBudget(scope, { subject: organization, amountMicros: 5, period: 'day', alertThresholds: [50, 0] }),
      'invalid_request',
      'alert_thresholds[1]',
    );
    await expectError(
      service.createBudget(scope, {
        subject: organization,
        amountMicros: 5,
        period: 'day',
        alertThresholds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      }),
      'invalid_request',
      'alert_thresholds',
    );
    expect(await service.listLimits(scope, {}, window)).toEqual([]);
    expect(await service.listBudgets(scope, {}, window)).toEqual([]);
  });

  it('keeps budgets one per subject and period, thresholds sorted and unique, defaulting to 50, 80, 100', async () => {
    const scope = orgScope('org_a');
    const subject = { type: 'user', id: 'user_member' };
    const daily = await service.createBudget(scope, { subject, amountMicros: 1_000_000, period: 'day' });
    expect(daily).toMatchObject({ amountMicros: 1_000_000, period: 'day', alertThresholds: [50, 80, 100] });
    await expectError(service.createBudget(scope, { subject, amountMicros: 1, period: 'day' }), 'conflict');
    const monthly = await service.createBudget(scope, {
      subject,
      amountMicros: Number.MAX_SAFE_INTEGER,
      period: 'month',
      alertThresholds: [120, 10, 10, 90],
    });
    expect(monthly).toMatchObject({ amountMicros: Number.MAX_SAFE_INTEGER, alertThresholds: [10, 90, 120] });
    await expectError(service.updateBudget(scope, monthly.id, { period: 'day' }), 'conflict');
    expect(await service.updateBudget(scope, monthly.id, { amountMicros: 0, period: 'week' })).toMatchObject({
      amountMicros: 0,
      period: 'week',
    });
    // Another organization cannot reach it, not even by id.
    await expectError(service.getBudget(orgScope('org_b', 'user_outsider'), monthly.id), 'not_found');
  });

  it("hides other members' rules from callers without traffic.read.all", async () => {
    const scope = orgScope('org_a');
    const own = await service.createLimit(scope, { subject: { type: 'user', id: 'user_owner' }, rpmLimit: 1 });
    const others = await service.createLimit(scope, { subject: { type: 'user', id: 'user_member' }, rpmLimit: 1 });
    const team = await service.createLimit(scope, { subject: { type: 'team', id: 'team_a' }, rpmLimit: 1 });
    readsAll = false;
    const ids = (await service.listLimits(scope, {}, window)).map((limit) => limit.id);
    expect(ids.sort()).toEqual([own.id, team.id].sort());
    await expectError(service.getLimit(scope, others.id), 'not_found');
    expect((await service.getLimit(orgScope('org_a', 'user_member'), others.id)).id).toBe(others.id);
  });

  it('gives the gateway the time zone and every rule, and nothing for an organization that is gone', async () => {
    const scope = orgScope('org_a');
    const limit = await service.createLimit(scope, { subject: { type: 'organization', id: 'org_a' }, tpmLimit: 100 });
    const budget = await service.createBudget(scope, {
      subject: { type: 'team', id: 'team_a' },
      amountMicros: 500,
      period: 'week',
    });
    await db()
      .updateTable('organizations')
      .set({ settings: JSON.stringify({ time_zone: 'Asia/Kolkata' }) })
      .where('id', '=', 'org_a')
      .execute();
    expect(await service.loadOrgPolicy('org_a')).toEqual({
      orgId: 'org_a',
      timeZone: 'Asia/Kolkata',
      limits: [
        {
          id: limit.id,
          orgId: 'org_a',
          subject: { type: 'organization', id: 'org_a' },
          model: null,
          rpmLimit: null,
          tpmLimit: 100,
          concurrencyLimit: null,
        },
      ],
      budgets: [
        {
          id: budget.id,
          orgId: 'org_a',
          subject: { type: 'team', id: 'team_a' },
          amountMicros: 500,
          period: 'week',
          alertThresholds: [50, 80, 100],
        },
      ],
    });
    expect(await service.loadOrgPolicy('org_missing')).toEqual({
      orgId: 'org_missing',
      timeZone: 'UTC',
      limits: [],
      budgets: [],
    });
  });

  it('sums spend by key, organization, team and user since a time, through the keys of the organization', async () => {
    await insertKey('key_team', 'org_a', 'user_member', 'team_a');
    await insertKey('key_member', 'org_a', 'user_member', null);
    await insertKey('key_owner', 'org_a', 'user_owner', null);
    await insertKey('key_other_org', 'org_b', 'user_outsider', 'team_b');
    const since = clock - 1000;
    await insertUsage('u1', 'key_team', since - 1, 1_000_000); // before the period
    await insertUsage('u2', 'key_team', since, 200);
    await insertUsage('u3', 'key_member', since + 10, 30);
    await insertUsage('u4', 'key_owner', since + 20, 4);
    await insertUsage('u5', 'key_other_org', since + 30, 50_000);
    await insertUsage('u6', null, since + 40, 70_000);
    expect(await service.sumSpend({ type: 'key', keyId: 'key_team' }, since)).toBe(200);
    expect(await service.sumSpend({ type: 'organization', orgId: 'org_a' }, since)).toBe(234);
    expect(await service.sumSpend({ type: 'team', orgId: 'org_a', teamId: 'team_a' }, since)).toBe(200);
    expect(await service.sumSpend({ type: 'user', orgId: 'org_a', userId: 'user_member' }, since)).toBe(230);
    expect(await service.sumSpend({ type: 'user', orgId: 'org_b', userId: 'user_member' }, since)).toBe(0);
    expect(await service.sumSpend({ type: 'organization', orgId: 'org_a' }, 0)).toBe(1_000_234);
  });

  it('records each alert once per budget, period and threshold, and lists them newest first by visibility', async () => {
    await insertKey('key_member', 'org_a', 'user_member', null);
    const alert = {
      orgId: 'org_a',
      budgetRef: 'budget_1',
      subjectType: 'team' as const,
      subjectId: 'team_a',
      periodStart: 1_000,
      threshold: 80,
      amountMicros: 100,
      spentMicros: 81,
    };
    expect(await service.recordAlert(alert)).toBe(true);
    expect(await service.recordAlert({ ...alert, spentMicros: 90 })).toBe(false);
    clock += 1;
    expect(await service.recordAlert({ ...alert, periodStart: 2_000 })).toBe(true);
    clock += 1;
    expect(
      await service.recordAlert({
        ...alert,
        budgetRef: 'key:key_member',
        subjectType: 'key',
        subjectId: 'key_member',
      }),
    ).toBe(true);
    const newestFirst = { ...window, sort: { field: 'created_at' as const, direction: 'desc' as const } };
    const listed = await service.listAlerts(orgScope('org_a'), {}, newestFirst);
    expect(listed.map((row) => [row.budgetRef, row.periodStart])).toEqual([
      ['key:key_member', 1_000],
      ['budget_1', 2_000],
      ['budget_1', 1_000],
    ]);
    expect(listed[2]).toMatchObject({ spentMicros: 81, threshold: 80, createdAt: 1_700_000_000_000 });
    readsAll = false;
    const ownerSees = await service.listAlerts(orgScope('org_a'), {}, newestFirst);
    expect(ownerSees.map((row) => row.budgetRef)).toEqual(['budget_1', 'budget_1']);
    const memberSees = await service.listAlerts(orgScope('org_a', 'user_member'), {}, newestFirst);
    expect(memberSees).toHaveLength(3);
    expect(await service.listAlerts(orgScope('org_b', 'user_outsider'), {}, newestFirst)).toEqual([]);
  });

  it('counts live instances by heartbeat and forgets them', async () => {
    await service.heartbeat('instance-1', clock);
    await service.heartbeat('instance-2', clock - 10_000);
    expect(await service.countLiveInstances(clock, 3_000)).toBe(1);
    await service.heartbeat('instance-2', clock);
    expect(await service.countLiveInstances(clock, 3_000)).toBe(2);
    await service.forgetInstance('instance-1');
    expect(await service.countLiveInstances(clock, 3_000)).toBe(1);
  });

  it("removes a subject's rules inside the caller's transaction, bumping the epoch only when any went", async () => {
    const scope = orgScope('org_a');
    await service.createLimit(scope, { subject: { type: 'team', id: 'team_a' }, rpmLimit: 1 });
    await service.createBudget(scope, { subject: { type: 'team', id: 'team_a' }, amountMicros: 1, period: 'total' });
    const kept = await service.createLimit(scope, { subject: { type: 'organization', id: 'org_a' }, rpmLimit: 1 });
    const epoch = await readEpoch();
    const removed = await db()
      .transaction()
      .execute((transaction) => deleteTrafficRulesWithin(transaction, scope, { type: 'team', id: 'team_a' }));
    expect(removed).toBe(2);
    expect(await readEpoch()).toBe(epoch + 1);
    expect((await service.listLimits(scope, {}, window)).map((limit) => limit.id)).toEqual([kept.id]);
    expect(await service.listBudgets(scope, {}, window)).toEqual([]);
    await db()
      .transaction()
      .execute((transaction) => deleteTrafficRulesWithin(transaction, scope, { type: 'team', id: 'team_a' }));
    expect(await readEpoch()).toBe(epoch + 1);
  });
});
