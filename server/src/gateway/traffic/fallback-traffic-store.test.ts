import { describe, expect, it } from 'vitest';
import { FallbackTrafficStore } from './fallback-traffic-store.ts';
import { MemoryTrafficStore } from './memory-traffic-store.ts';
import { RedisTrafficStore } from './redis-traffic-store.ts';
import type { AdmitRequest, TrafficStore } from './traffic-store.ts';
import { describeTrafficStoreContract } from './traffic-store-contract.ts';

const start = Date.UTC(2030, 0, 1);
const day = 86_400_000;

/** A shared store that can be taken down and brought back, answering from a memory store while up. */
class SwitchableStore implements TrafficStore {
  readonly inner = new MemoryTrafficStore();
  up = true;
  calls = 0;

  #check(): void {
    this.calls += 1;
    if (!this.up) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
  }

  async admit(request: AdmitRequest) {
    this.#check();
    return this.inner.admit(request);
  }
  async seedBudget(key: string, spent: number, ttlMs: number) {
    this.#check();
    return this.inner.seedBudget(key, spent, ttlMs);
  }
  async settle(...parameters: Parameters<TrafficStore['settle']>) {
    this.#check();
    return this.inner.settle(...parameters);
  }
  async correct(...parameters: Parameters<TrafficStore['correct']>) {
    this.#check();
    return this.inner.correct(...parameters);
  }
  async renew(...parameters: Parameters<TrafficStore['renew']>) {
    this.#check();
    return this.inner.renew(...parameters);
  }
  async readBudget(key: string, now: number) {
    this.#check();
    return this.inner.readBudget(key, now);
  }
  async close() {
    await this.inner.close();
  }
}

function request(ticket: string, overrides: Partial<AdmitRequest> = {}): AdmitRequest {
  return { ticket, now: start, leaseMs: 30_000, windows: [], slots: [], budgets: [], ...overrides };
}

// While the primary is up, the fallback store is the primary: it passes the contract through it.
describeTrafficStoreContract('FallbackTrafficStore over a working primary', async () => {
  const store = new FallbackTrafficStore({ primary: new MemoryTrafficStore(), instanceCount: () => 3 });
  return { store, cleanup: () => store.close() };
});

// With one instance, an outage changes no limit: the local store alone passes the contract.
describeTrafficStoreContract('FallbackTrafficStore in an outage of a single instance', async () => {
  const primary = new SwitchableStore();
  primary.up = false;
  const store = new FallbackTrafficStore({ primary, instanceCount: () => 1, retryPrimaryAfterMs: day });
  return { store, cleanup: () => store.close() };
});

// Without a shared store at all (instances on one database, no Redis), one instance is the whole: the contract holds.
describeTrafficStoreContract('FallbackTrafficStore without a primary, as the only instance', async () => {
  const store = new FallbackTrafficStore({ instanceCount: () => 1 });
  return { store, cleanup: () => store.close() };
});

describe('FallbackTrafficStore', () => {
  it('without a primary, gives each of several instances its share from the start, and reports no outage', async () => {
    const outages: unknown[] = [];
    const store = new FallbackTrafficStore({ instanceCount: () => 2, onFallback: (error) => outages.push(error) });
    const window = { key: 'rpm', limit: 10, amount: 1, windowMs: 60_000 };
    const outcomes = [];
    for (let index = 0; index < 6; index += 1) {
      outcomes.push((await store.admit(request(`n${index}`, { windows: [window] }))).outcome);
    }
    expect(outcomes).toEqual(['admitted', 'admitted', 'admitted', 'admitted', 'admitted', 'refused']);
    expect(outages).toEqual([]);
    await store.close();
  });

  function setUp(instances = 3) {
    let clock = 0;
    const primary = new SwitchableStore();
    const outages: unknown[] = [];
    let recoveries = 0;
    const store = new FallbackTrafficStore({
      primary,
      instanceCount: () => instances,
      now: () => clock,
      onFallback: (error) => outages.push(error),
      onRecover: () => {
        recoveries += 1;
      },
    });
    return {
      store,
      primary,
      outages,
      recoveries: () => recoveries,
      advance: (milliseconds: number) => {
        clock += milliseconds;
      },
      setInstances: (count: number) => {
        instances = count;
      },
    };
  }

  it('answers from the primary while it is up', async () => {
    const { store, primary, outages } = setUp();
    const window = { key: 'rpm', limit: 9, amount: 1, windowMs: 60_000 };
    expect(await store.admit(request('a', { windows: [window] }))).toMatchObject({
      outcome: 'admitted',
      windows: [{ remaining: 8 }],
    });
    expect(primary.calls).toBe(1);
    expect(store.inFallback).toBe(false);
    expect(outages).toEqual([]);
  });

  it('divides window and slot limits by the instance count while the primary is down, reporting once', async () => {
    const { store, primary, outages } = setUp();
    primary.up = false;
    const window = { key: 'rpm', limit: 10, amount: 1, windowMs: 60_000 };
    const results = [];
    for (let index = 0; index < 4; index += 1)
      results.push(await store.admit(request(`w${index}`, { windows: [window] })));
    // floor(10 / 3) = 3 admitted here; the remaining is scaled back to the whole window.
    expect(results.map((result) => result.outcome)).toEqual(['admitted', 'admitted', 'admitted', 'refused']);
    expect(results[0]).toMatchObject({ windows: [{ remaining: 6 }] });
    expect(store.inFallback).toBe(true);
    expect(outages).toHaveLength(1);
    expect(outages[0]).toBeInstanceOf(Error);
    // Only the first call tried the primary; the others waited for the retry time.
    expect(primary.calls).toBe(1);

    const slot = { key: 'concurrency', limit: 2 };
    expect((await store.admit(request('s1', { slots: [slot] }))).outcome).toBe('admitted');
    expect((await store.admit(request('s2', { slots: [slot] }))).outcome).toBe('refused');
  });

  it('leaves every instance at least one unit of a limit smaller than the instance count', async () => {
    const { store, primary } = setUp(5);
    primary.up = false;
    const window = { key: 'rpm', limit: 2, amount: 1, windowMs: 60_000 };
    expect((await store.admit(request('a', { windows: [window] }))).outcome).toBe('admitted');
    expect((await store.admit(request('b', { windows: [window] }))).outcome).toBe('refused');
  });

  it('gives each instance its share of what remains of a budget, and reports the seeded spend plus its own', async () => {
    const { store, primary } = setUp(4);
    primary.up = false;
    const check = { key: 'budget', limit: 1000, amount: 100 };
    expect(await store.admit(request('a', { budgets: [check] }))).toEqual({ outcome: 'unseeded', budgetIndexes: [0] });
    await store.seedBudget('budget', 400, day);
    // Locally: limit 250, spent 100, so 150 remain here (600 / 4).
    expect(await store.admit(request('a', { budgets: [check] }))).toEqual({
      outcome: 'admitted',
      windows: [],
      budgets: [{ spent: 400, reserved: 100 }],
    });
    expect((await store.admit(request('b', { budgets: [{ ...check, amount: 51 }] }))).outcome).toBe('refused');
    // A second seeder loses, here as in Redis.
    await store.seedBudget('budget', 0, day);
    expect(await store.settle('a', [], [{ key: 'budget', cost: 20 }])).toEqual([420]);
    expect(await store.readBudget('budget', start)).toEqual({ spent: 420, reserved: 0 });
    expect(await store.settle('none', [], [{ key: 'unseeded', cost: 20 }])).toEqual([undefined]);
    await store.correct([{ key: 'tpm', windowMs: 60_000, admittedAt: start, delta: 5 }], start);
    await store.renew('a', [], ['budget'], start, 30_000);
    expect(primary.calls).toBe(1);
  });

  it('tries the primary again after the retry time, once, and recovers when it answers', async () => {
    const { store, primary, outages, recoveries, advance } = setUp();
    primary.up = false;
    await store.readBudget('budget', start);
    advance(999);
    await store.readBudget('budget', start);
    expect(primary.calls).toBe(1);
    advance(1);
    await store.readBudget('budget', start);
    expect(primary.calls).toBe(2);
    expect(store.inFallback).toBe(true);
    expect(outages).toHaveLength(1);

    primary.up = true;
    await primary.inner.seedBudget('budget', 7, day);
    advance(999);
    expect(await store.readBudget('budget', start)).toBeUndefined();
    advance(1);
    expect(await store.readBudget('budget', start)).toEqual({ spent: 7, reserved: 0 });
    expect(store.inFallback).toBe(false);
    expect(recoveries()).toBe(1);

    // A second outage is reported again, and starts from a clean local store.
    primary.up = false;
    expect(await store.readBudget('budget', start)).toBeUndefined();
    expect(outages).toHaveLength(2);
  });

  it('takes only a probe as a sign of recovery, not a call answered late from before the outage', async () => {
    const { store, primary, outages, recoveries } = setUp();
    let answer: () => void = () => {};
    const late = new Promise<void>((resolve) => {
      answer = resolve;
    });
    const slowRead = primary.readBudget.bind(primary);
    let reads = 0;
    primary.readBudget = async (key, now) => {
      reads += 1;
      if (reads === 1) await late;
      return slowRead(key, now);
    };
    const sentBefore = store.readBudget('budget', start);
    primary.up = false;
    await store.readBudget('budget', start);
    expect(outages).toHaveLength(1);
    primary.up = true;
    answer();
    // Answered by the primary, yet sent before the outage: it does not end it.
    expect(await sentBefore).toBeUndefined();
    expect(store.inFallback).toBe(true);
    expect(recoveries()).toBe(0);
  });

  it('does not let a listener that throws fail a request', async () => {
    const primary = new SwitchableStore();
    primary.up = false;
    const store = new FallbackTrafficStore({
      primary,
      instanceCount: () => 2,
      onFallback: () => {
        throw new Error('listener failed');
      },
    });
    expect((await store.admit(request('a'))).outcome).toBe('admitted');
  });

  it('falls back at once when the primary is a Redis that cannot be reached', async () => {
    const primary = new RedisTrafficStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 100 });
    const outages: unknown[] = [];
    const store = new FallbackTrafficStore({
      primary,
      instanceCount: () => 2,
      onFallback: (error) => outages.push(error),
    });
    const began = performance.now();
    const window = { key: 'rpm', limit: 4, amount: 1, windowMs: 60_000 };
    expect(await store.admit(request('a', { windows: [window] }))).toMatchObject({
      outcome: 'admitted',
      windows: [{ remaining: 2 }],
    });
    expect(performance.now() - began).toBeLessThan(100);
    expect(outages).toHaveLength(1);
    await store.close();
  });
});
