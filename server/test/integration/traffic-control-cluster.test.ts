import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.ts';
import type { AppInstance } from '../../src/http/create-app.ts';
import { startSecondInstance } from '../support/second-instance.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { chat, createOrgKey, createTenant, errorOf, manage, patchKey, sleep } from './traffic-control-support.ts';

/**
 * Sends requests to `instance` back to back (20 ms apart) until one is refused or `timeoutMs` passes; resolves with
 * the time of the first refusal, and checks every other answer was a success.
 */
async function steadyTraffic(instance: AppInstance, secret: string, timeoutMs: number): Promise<number | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const answer = await chat(instance, secret);
    if (answer.statusCode === 429) return Date.now();
    expect(answer.statusCode).toBe(200);
    await sleep(20);
  }
  return undefined;
}

describe('limits changed under load reach every instance', () => {
  let testApp: TestApp;
  let other: AppInstance;

  beforeAll(async () => {
    // The production poll intervals, not the test app's quick key poll.
    testApp = await startTestApp({
      overrides: { keyRevocationPollMs: 1000, traffic: { pollMs: 1000 } } as unknown as Partial<Config>,
    });
    other = await startSecondInstance(testApp);
  });
  afterAll(async () => {
    await other.close();
    await testApp.close();
  });

  it("a key's rpm_limit lowered on one instance is enforced by the other within 2 s", async () => {
    const tenant = await createTenant(testApp);
    const key = await createOrgKey(testApp, tenant, { rpm_limit: 100_000 });
    const traffic = steadyTraffic(other, key.secret, 4000);
    await sleep(300);
    const lowered = await patchKey(testApp, tenant, key.id, { rpm_limit: 1 });
    expect(lowered.statusCode).toBe(200);
    const changedAt = Date.now();
    const refusedAt = await traffic;
    expect(refusedAt).toBeDefined();
    expect((refusedAt ?? Infinity) - changedAt).toBeLessThan(2000);
    const refused = await chat(other, key.secret);
    expect(errorOf(refused).message).toContain('rate limit of this API key reached: 1 requests per minute');
  });

  it('an organization rule created on one instance is enforced by the other within 2 s', async () => {
    const tenant = await createTenant(testApp);
    const key = await createOrgKey(testApp, tenant);
    // The other instance caches the organization's policy (no rules yet) from its first request on.
    const traffic = steadyTraffic(other, key.secret, 4000);
    await sleep(300);
    // Through the first instance's API, with no poll forced anywhere: the other one learns of it by its own poll.
    const created = await manage(testApp, tenant, 'POST', '/limits', {
      subject: { type: 'organization', id: tenant.orgId },
      rpm_limit: 1,
    });
    expect(created.statusCode).toBe(201);
    const changedAt = Date.now();
    const refusedAt = await traffic;
    expect(refusedAt).toBeDefined();
    expect((refusedAt ?? Infinity) - changedAt).toBeLessThan(2000);
    const refused = await chat(other, key.secret);
    expect(errorOf(refused).message).toContain('the organization');
  });
});

describe('traffic control while Redis is unreachable', () => {
  let testApp: TestApp;
  let other: AppInstance | undefined;

  beforeAll(async () => {
    testApp = await startTestApp({
      // Nothing listens on port 1: every call of the shared store fails at once.
      overrides: {
        operations: { redisUrl: 'redis://127.0.0.1:1' },
        traffic: { heartbeatMs: 100 },
      } as unknown as Partial<Config>,
    });
  });
  afterAll(async () => {
    await other?.close();
    await testApp.close();
  });

  it('serves requests and enforces the whole limit on a single instance', async () => {
    const tenant = await createTenant(testApp);
    const key = await createOrgKey(testApp, tenant, { rpm_limit: 10, budget_micros: 1_000_000 });
    const statuses: number[] = [];
    for (let index = 0; index < 15; index += 1) statuses.push((await chat(testApp.instance, key.secret)).statusCode);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(statuses.filter((status) => status === 200)).toHaveLength(10);
    expect(statuses.filter((status) => status === 429)).toHaveLength(5);
  });

  it('splits each limit between two instances sharing the database and its heartbeats', async () => {
    other = await startSecondInstance(testApp);
    // Both instances beat every 100 ms: after a few beats each counts two live instances.
    await sleep(500);
    expect(testApp.instance.services.traffic.instanceCount()).toBe(2);
    expect(other.services.traffic.instanceCount()).toBe(2);
    const tenant = await createTenant(testApp);
    const key = await createOrgKey(testApp, tenant, { rpm_limit: 40 });
    const admitted = new Map<AppInstance, number>([
      [testApp.instance, 0],
      [other, 0],
    ]);
    for (let index = 0; index < 30; index += 1) {
      for (const instance of [testApp.instance, other]) {
        const answer = await chat(instance, key.secret);
        expect(answer.statusCode === 200 || answer.statusCode === 429).toBe(true);
        if (answer.statusCode === 200) admitted.set(instance, (admitted.get(instance) ?? 0) + 1);
      }
    }
    for (const count of admitted.values()) {
      expect(count).toBeGreaterThanOrEqual(18);
      expect(count).toBeLessThanOrEqual(22);
    }
  });
});

describe('traffic control on PostgreSQL without Redis', () => {
  let testApp: TestApp;
  let other: AppInstance | undefined;

  beforeAll(async () => {
    testApp = await startTestApp({
      engine: 'postgres',
      overrides: { traffic: { heartbeatMs: 100 } } as unknown as Partial<Config>,
    });
    other = await startSecondInstance(testApp);
  });
  afterAll(async () => {
    await other?.close();
    await testApp.close();
  });

  it('gives each of two instances its share of a limit instead of the whole limit each', async () => {
    const second = other as AppInstance;
    await sleep(500);
    expect(testApp.instance.services.traffic.instanceCount()).toBe(2);
    const tenant = await createTenant(testApp);
    const key = await createOrgKey(testApp, tenant, { rpm_limit: 40 });
    let admitted = 0;
    for (let index = 0; index < 40; index += 1) {
      for (const instance of [testApp.instance, second]) {
        if ((await chat(instance, key.secret)).statusCode === 200) admitted += 1;
      }
    }
    // 20 each: together the limit, where counting alone each would have admitted 80.
    expect(admitted).toBe(40);
  });
});
