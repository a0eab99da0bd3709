import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultTestConfigFile, startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import {
  callGateway,
  chat,
  createBudgetRule,
  createOrgKey,
  createTenant,
  errorOf,
  getKey,
  manage,
  patchKey,
  pollTraffic,
  sleep,
  sumCost,
  usageOfKey,
  type BudgetRuleView,
  type Tenant,
} from './traffic-control-support.ts';

interface AlertView {
  readonly budget_ref: string;
  readonly subject: { readonly type: string; readonly id: string };
  readonly threshold: number;
  readonly amount_micros: number;
  readonly spent_micros: number;
}

interface KeyBudgetView {
  readonly budget_micros: number | null;
  readonly budget_spent_micros: number | null;
  readonly budget_reserved_micros: number | null;
}

/** Retries `read` until `accept` holds or a second has gone by; settlement runs just after a response ends. */
async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 1000;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await sleep(20);
  }
}

describe.each(testEngines)('budgets (%s)', (engine) => {
  let testApp: TestApp;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    tenant = await createTenant(testApp);
  });
  afterAll(async () => {
    await testApp.close();
  });

  const keyBudget = async (keyId: string): Promise<KeyBudgetView> =>
    (await getKey(testApp, tenant, keyId)).json<KeyBudgetView>();

  it('a key budget of 0 refuses everything priced at once', async () => {
    const key = await createOrgKey(testApp, tenant, { budget_micros: 0 });
    const chatAnswer = await chat(testApp.instance, key.secret);
    expect(chatAnswer.statusCode).toBe(429);
    expect(errorOf(chatAnswer).code).toBe('budget_exceeded');
    expect(errorOf(chatAnswer).message).toContain('this API key');
    const embedding = await callGateway(testApp.instance, key.secret, {
      path: '/v1/embeddings',
      body: { model: 'embed-test', input: 'hello' },
    });
    expect(embedding.statusCode).toBe(429);
    expect(errorOf(embedding).code).toBe('budget_exceeded');
    const messages = await callGateway(testApp.instance, key.secret, {
      path: '/v1/messages',
      body: { model: 'test', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] },
    });
    expect(messages.statusCode).toBe(429);
    expect(messages.json<{ error: { type: string } }>().error.type).toBe('rate_limit_error');
    // None of them ran, so nothing was metered.
    expect(await usageOfKey(testApp, key.id)).toHaveLength(0);
    // What costs nothing upstream is not held to the budget.
    const models = await callGateway(testApp.instance, key.secret, { path: '/v1/models', method: 'GET' });
    expect(models.statusCode).toBe(200);
    const counted = await callGateway(testApp.instance, key.secret, {
      path: '/v1/messages/count_tokens',
      body: { model: 'test', messages: [{ role: 'user', content: 'hello' }] },
    });
    expect(counted.statusCode).toBe(200);
  });

  it('a key budget lowered below its spend refuses at once, and admits again when raised', async () => {
    const key = await createOrgKey(testApp, tenant, { budget_micros: 1_000_000, budget_period: 'month' });
    for (let index = 0; index < 3; index += 1) expect((await chat(testApp.instance, key.secret)).statusCode).toBe(200);
    const records = await usageOfKey(testApp, key.id);
    expect(records).toHaveLength(3);
    const spent = sumCost(records);
    expect(spent).toBeGreaterThan(0);
    const status = await eventually(
      () => keyBudget(key.id),
      (view) => view.budget_spent_micros === spent && view.budget_reserved_micros === 0,
    );
    expect(status.budget_spent_micros).toBe(spent);
    expect(status.budget_reserved_micros).toBe(0);

    const lowered = await patchKey(testApp, tenant, key.id, { budget_micros: Math.floor(spent / 2) });
    expect(lowered.statusCode).toBe(200);
    expect(lowered.json<KeyBudgetView>().budget_micros).toBe(Math.floor(spent / 2));
    const refused = await chat(testApp.instance, key.secret);
    expect(refused.statusCode).toBe(429);
    expect(errorOf(refused).code).toBe('budget_exceeded');
    expect(errorOf(refused).message).toContain('per month');

    expect((await patchKey(testApp, tenant, key.id, { budget_micros: 1_000_000 })).statusCode).toBe(200);
    const admitted = await eventually(
      () => chat(testApp.instance, key.secret),
      (answer) => answer.statusCode === 200,
    );
    expect(admitted.statusCode).toBe(200);
    const after = await usageOfKey(testApp, key.id);
    expect(after).toHaveLength(4);
    const settled = await eventually(
      () => keyBudget(key.id),
      (view) => view.budget_spent_micros === sumCost(after),
    );
    expect(settled.budget_spent_micros).toBe(sumCost(after));
  });

  it('an organization budget lowered below its spend through the API refuses at once, and admits again when raised', async () => {
    const own = await createTenant(testApp);
    const first = await createOrgKey(testApp, own);
    const second = await createOrgKey(testApp, own);
    const budget = await createBudgetRule(testApp, own, {
      subject: { type: 'organization', id: own.orgId },
      amount_micros: 1_000_000,
      period: 'day',
    });
    expect(budget.spent_micros).toBe(0);
    expect((await chat(testApp.instance, first.secret)).statusCode).toBe(200);
    expect((await chat(testApp.instance, second.secret)).statusCode).toBe(200);
    const spent = sumCost([...(await usageOfKey(testApp, first.id)), ...(await usageOfKey(testApp, second.id))]);
    expect(spent).toBeGreaterThan(0);
    const readBudget = async (): Promise<BudgetRuleView> =>
      (await manage(testApp, own, 'GET', `/budgets/${budget.id}`)).json<BudgetRuleView>();
    const status = await eventually(readBudget, (view) => view.spent_micros === spent && view.reserved_micros === 0);
    expect(status.spent_micros).toBe(spent);
    expect(status.reserved_micros).toBe(0);
    expect(status.remaining_micros).toBe(1_000_000 - spent);

    const lowered = await manage(testApp, own, 'PATCH', `/budgets/${budget.id}`, { amount_micros: spent - 1 });
    expect(lowered.statusCode).toBe(200);
    expect(lowered.json<BudgetRuleView>()).toMatchObject({ amount_micros: spent - 1, remaining_micros: 0 });
    await pollTraffic(testApp.instance);
    const refused = await chat(testApp.instance, second.secret);
    expect(refused.statusCode).toBe(429);
    expect(errorOf(refused).code).toBe('budget_exceeded');
    expect(errorOf(refused).message).toContain('budget of the organization exhausted');

    const raised = await manage(testApp, own, 'PATCH', `/budgets/${budget.id}`, { amount_micros: 1_000_000 });
    expect(raised.statusCode).toBe(200);
    await pollTraffic(testApp.instance);
    expect((await chat(testApp.instance, first.secret)).statusCode).toBe(200);
  });

  it('a raised key budget admits again within the poll interval on its own', async () => {
    const key = await createOrgKey(testApp, tenant, { budget_micros: 0 });
    expect((await chat(testApp.instance, key.secret)).statusCode).toBe(429);
    const changedAt = Date.now();
    expect((await patchKey(testApp, tenant, key.id, { budget_micros: 1_000_000 })).statusCode).toBe(200);
    const admitted = await eventually(
      () => chat(testApp.instance, key.secret),
      (answer) => answer.statusCode === 200,
    );
    expect(admitted.statusCode).toBe(200);
    expect(Date.now() - changedAt).toBeLessThan(1000);
  });
});

describe('budget alerts', () => {
  let testApp: TestApp;

  beforeAll(async () => {
    // A model priced per request only: every request reserves and costs exactly 1,000 micro-USD, so spend can reach
    // 100 % of a budget without any request passing it.
    testApp = await startTestApp({
      configFile: (upstreamUrl) => {
        const file = defaultTestConfigFile(upstreamUrl);
        return {
          ...file,
          models: [
            ...(file.models ?? []),
            {
              name: 'flat-test',
              pricing: { per_request: '0.001' },
              deployments: [{ provider: 'mock', model: 'mock-gpt' }],
            },
          ],
        };
      },
    });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('raises exactly one alert per threshold crossed, and none again in the same period', async () => {
    const tenant = await createTenant(testApp);
    const key = await createOrgKey(testApp, tenant);
    const budget = await createBudgetRule(testApp, tenant, {
      subject: { type: 'organization', id: tenant.orgId },
      amount_micros: 4000,
      period: 'month',
      alert_thresholds: [50, 100],
    });
    const listAlerts = async (): Promise<AlertView[]> =>
      (await manage(testApp, tenant, 'GET', '/budget-alerts?sort=created_at')).json<{ data: AlertView[] }>().data;
    const flat = { model: 'flat-test' };

    expect((await chat(testApp.instance, key.secret, flat)).statusCode).toBe(200);
    await sleep(100);
    expect(await listAlerts()).toHaveLength(0);
    expect((await chat(testApp.instance, key.secret, flat)).statusCode).toBe(200);
    const atHalf = await eventually(listAlerts, (alerts) => alerts.length >= 1);
    expect(atHalf.map((alert) => alert.threshold)).toEqual([50]);
    expect(atHalf[0]).toMatchObject({
      subject: { type: 'organization', id: tenant.orgId },
      amount_micros: 4000,
      spent_micros: 2000,
    });

    expect((await chat(testApp.instance, key.secret, flat)).statusCode).toBe(200);
    expect((await chat(testApp.instance, key.secret, flat)).statusCode).toBe(200);
    const atFull = await eventually(listAlerts, (alerts) => alerts.length >= 2);
    expect(atFull.map((alert) => alert.threshold)).toEqual([50, 100]);
    expect(atFull[1]?.spent_micros).toBe(4000);
    const refused = await chat(testApp.instance, key.secret, flat);
    expect(errorOf(refused).code).toBe('budget_exceeded');

    // More room in the same period: spend crosses both marks of the larger amount, but each threshold was raised.
    const raised = await manage(testApp, tenant, 'PATCH', `/budgets/${budget.id}`, { amount_micros: 8000 });
    expect(raised.statusCode).toBe(200);
    await pollTraffic(testApp.instance);
    for (let index = 0; index < 4; index += 1) {
      expect((await chat(testApp.instance, key.secret, flat)).statusCode).toBe(200);
    }
    await sleep(200);
    const final = await listAlerts();
    expect(final.map((alert) => alert.threshold)).toEqual([50, 100]);
    const status = (await manage(testApp, tenant, 'GET', `/budgets/${budget.id}`)).json<BudgetRuleView>();
    expect(status.spent_micros).toBe(8000);
  });

  it("names the budget of each alert as the API documents: the rule's id, or key:<id>", async () => {
    const tenant = await createTenant(testApp);
    const key = await createOrgKey(testApp, tenant, { budget_micros: 2000 });
    const budget = await createBudgetRule(testApp, tenant, {
      subject: { type: 'organization', id: tenant.orgId },
      amount_micros: 2000,
      period: 'month',
      alert_thresholds: [50],
    });
    // One request spends 1,000 of 2,000 on both budgets: each crosses 50 %.
    expect((await chat(testApp.instance, key.secret, { model: 'flat-test' })).statusCode).toBe(200);
    const alerts = await eventually(
      async () => (await manage(testApp, tenant, 'GET', '/budget-alerts')).json<{ data: AlertView[] }>().data,
      (list) => list.length >= 2,
    );
    const refs = alerts.map((alert) => alert.budget_ref).sort();
    expect(refs).toEqual([budget.id, `key:${key.id}`].sort());
  });
});
