import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { periodBounds } from '../../src/modules/traffic/index.ts';
import { createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { callApi, type Method } from './tenancy-support.ts';

/**
 * Live spend in the budget and key answers: after requests went through the gateway, a budget's spent_micros is the
 * sum of its keys' usage records' cost for the period, nothing reserved any more.
 */
describe.each(testEngines)('budget spend shown by the management API on %s', (engine) => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let orgId: string;
  let teamId: string;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    owner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Spend Co');
    const team = await as('POST', '/teams', { name: 'Spenders' });
    teamId = team.json<{ id: string }>().id;
  });
  afterAll(async () => {
    await testApp.close();
  });

  function as(method: Method, path: string, body?: unknown) {
    return callApi(testApp, owner, method, `/api/v1/organizations/${orgId}${path}`, body === undefined ? {} : { body });
  }

  async function createKey(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
    const response = await as('POST', '/keys', { name: 'spender', ...body });
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  async function chat(secret: string): Promise<void> {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      payload: { model: 'test', messages: [{ role: 'user', content: 'count to three' }], max_tokens: 16 },
    });
    expect(response.statusCode, response.body).toBe(200);
  }

  async function recordedCost(keyIds: readonly string[], since: number): Promise<number> {
    await testApp.instance.services.gateway.journal.flush();
    const rows = await testApp.instance.services.database.db
      .selectFrom('usage_records')
      .select(['cost_micros'])
      .where('key_id', 'in', keyIds)
      .where('created_at', '>=', since)
      .execute();
    return rows.reduce((sum, row) => sum + Number(row.cost_micros), 0);
  }

  it("equals the usage records' cost of the budget's keys for the period, for the organization, a team and a key", async () => {
    const teamKey = await createKey({ team_id: teamId, budget_micros: 50_000_000, budget_period: 'month' });
    const ownKey = await createKey({});
    const organizationBudget = await as('POST', '/budgets', {
      subject: { type: 'organization', id: orgId },
      amount_micros: 100_000_000,
      period: 'day',
    });
    const teamBudget = await as('POST', '/budgets', {
      subject: { type: 'team', id: teamId },
      amount_micros: 100_000_000,
      period: 'total',
    });
    expect(organizationBudget.statusCode, organizationBudget.body).toBe(201);
    expect(teamBudget.statusCode, teamBudget.body).toBe(201);
    await testApp.instance.services.traffic.control.poll();

    for (let request = 0; request < 3; request += 1) await chat(teamKey.secret);
    await chat(ownKey.secret);

    const day = periodBounds('day', 'UTC', Date.now());
    const month = periodBounds('month', 'UTC', Date.now());
    const organizationCost = await recordedCost([teamKey.id, ownKey.id], day.start);
    const teamCost = await recordedCost([teamKey.id], 0);
    const keyCost = await recordedCost([teamKey.id], month.start);
    expect(teamCost).toBeGreaterThan(0);
    expect(organizationCost).toBeGreaterThan(teamCost);

    const organizationNow = await as('GET', `/budgets/${organizationBudget.json<{ id: string }>().id}`);
    expect(organizationNow.json()).toMatchObject({
      spent_micros: organizationCost,
      reserved_micros: 0,
      remaining_micros: 100_000_000 - organizationCost,
      period_start: day.start,
      resets_at: day.end,
    });
    const teamNow = await as('GET', `/budgets/${teamBudget.json<{ id: string }>().id}`);
    expect(teamNow.json()).toMatchObject({ spent_micros: teamCost, reserved_micros: 0, resets_at: null });
    const keyNow = await as('GET', `/keys/${teamKey.id}`);
    expect(keyNow.json()).toMatchObject({
      budget_spent_micros: keyCost,
      budget_reserved_micros: 0,
      budget_resets_at: new Date(month.end ?? 0).toISOString(),
    });
  });

  it('accepts a budget below what was spent already, showing nothing remaining', async () => {
    const key = await createKey({});
    await chat(key.secret);
    const spent = await recordedCost([key.id], 0);
    expect(spent).toBeGreaterThan(0);
    const user = await as('POST', '/budgets', {
      subject: { type: 'user', id: owner.userId },
      amount_micros: 1,
      period: 'total',
    });
    expect(user.statusCode, user.body).toBe(201);
    // Every key of the user in this organization counts, those of the test before included.
    const userKeys = await testApp.instance.services.database.db
      .selectFrom('api_keys')
      .select('id')
      .where('org_id', '=', orgId)
      .where('user_id', '=', owner.userId)
      .execute();
    const userCost = await recordedCost(
      userKeys.map((row) => row.id),
      0,
    );
    expect(user.json()).toMatchObject({ amount_micros: 1, spent_micros: userCost, remaining_micros: 0 });
  });
});
