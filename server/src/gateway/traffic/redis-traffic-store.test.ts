import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisTrafficStore } from './redis-traffic-store.ts';
import { describeTrafficStoreContract } from './traffic-store-contract.ts';

const redisUrl = 'redis://127.0.0.1:6379';
const filePrefix = `aihub:test:traffic:${randomUUID()}:`;
let admin: Redis;
let storeNumber = 0;

async function deleteKeys(pattern: string): Promise<void> {
  const keys = await admin.keys(pattern);
  if (keys.length > 0) await admin.del(...keys);
}

beforeAll(() => {
  admin = new Redis(redisUrl);
});
afterAll(async () => {
  await deleteKeys(`${filePrefix}*`);
  admin.disconnect();
});

describeTrafficStoreContract('RedisTrafficStore', async () => {
  const prefix = `${filePrefix}${(storeNumber += 1)}:`;
  const store = new RedisTrafficStore({ url: redisUrl, prefix });
  await store.ready();
  return {
    store,
    cleanup: async () => {
      await store.close();
      await deleteKeys(`${prefix}*`);
    },
  };
});

describe('RedisTrafficStore', () => {
  const start = Date.UTC(2030, 0, 1);

  it('keeps a budget as long as its longest seed asks, and its leases as long as the budget', async () => {
    const prefix = `${filePrefix}ttl:`;
    const store = new RedisTrafficStore({ url: redisUrl, prefix });
    await store.ready();
    await store.seedBudget('budget', 10, 50_000);
    await store.seedBudget('budget', 99, 100_000);
    await store.seedBudget('budget', 99, 20_000);
    const admission = { ticket: 'a', now: start, leaseMs: 1_000, windows: [], slots: [] };
    const result = await store.admit({
      ...admission,
      budgets: [{ key: 'budget', limit: 1000, amount: 5 }],
    });
    expect(result).toEqual({ outcome: 'admitted', windows: [], budgets: [{ spent: 10, reserved: 5 }] });
    expect(await admin.pttl(`${prefix}b:budget`)).toBeGreaterThan(90_000);
    expect(await admin.pttl(`${prefix}bl:budget`)).toBeGreaterThan(90_000);
    await store.close();
  });

  it('counts a fraction as the next whole unit', async () => {
    const store = new RedisTrafficStore({ url: redisUrl, prefix: `${filePrefix}fraction:` });
    await store.ready();
    await store.seedBudget('budget', 0.5, 10_000);
    const result = await store.admit({
      ticket: 'a',
      now: start,
      leaseMs: 1_000,
      windows: [{ key: 'tpm', limit: 10, amount: 2.5, windowMs: 60_000 }],
      slots: [],
      budgets: [{ key: 'budget', limit: 1000, amount: 4.2 }],
    });
    expect(result).toEqual({
      outcome: 'admitted',
      windows: [{ remaining: 7, resetMs: 60_000 }],
      budgets: [{ spent: 1, reserved: 5 }],
    });
    expect(await store.settle('a', [], [{ key: 'budget', cost: 0.1 }])).toEqual([2]);
    await store.close();
  });

  it('loads its scripts again after Redis forgot them', async () => {
    const store = new RedisTrafficStore({ url: redisUrl, prefix: `${filePrefix}reload:` });
    await store.ready();
    await store.seedBudget('budget', 1, 10_000);
    await admin.script('FLUSH');
    expect(await store.readBudget('budget', start)).toEqual({ spent: 1, reserved: 0 });
    await store.close();
  });

  it('fails fast while Redis cannot be reached', async () => {
    const store = new RedisTrafficStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 100 });
    const began = performance.now();
    await expect(store.readBudget('budget', start)).rejects.toThrow();
    expect(performance.now() - began).toBeLessThan(100);
    expect(store.connected).toBe(false);
    await expect(store.ready(50)).rejects.toThrow();
    await store.close();
  });
});
