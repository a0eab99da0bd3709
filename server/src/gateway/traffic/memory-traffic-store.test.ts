import { describe, expect, it } from 'vitest';
import { MemoryTrafficStore } from './memory-traffic-store.ts';
import { describeTrafficStoreContract } from './traffic-store-contract.ts';

describeTrafficStoreContract('MemoryTrafficStore', async () => {
  const store = new MemoryTrafficStore();
  return { store, cleanup: () => store.close() };
});

describe('MemoryTrafficStore', () => {
  const start = Date.UTC(2030, 0, 1);

  it('forgets a budget when its lifetime ends on its own clock, and only ever lengthens that lifetime', async () => {
    let clock = 0;
    const store = new MemoryTrafficStore({ now: () => clock });
    await store.seedBudget('budget', 10, 1_000);
    await store.seedBudget('budget', 99, 5_000);
    await store.seedBudget('budget', 99, 2_000);
    clock = 4_999;
    expect(await store.readBudget('budget', start)).toEqual({ spent: 10, reserved: 0 });
    clock = 5_000;
    expect(await store.readBudget('budget', start)).toBeUndefined();
    expect(await store.settle('ticket', [], [{ key: 'budget', cost: 1 }])).toEqual([undefined]);
  });

  it('drops idle state on its sweeps', async () => {
    const store = new MemoryTrafficStore({ sweepIntervalMs: 1_000 });
    const admission = {
      ticket: 'a',
      now: start,
      leaseMs: 1_000,
      windows: [{ key: 'rpm', limit: 1, amount: 1, windowMs: 60_000 }],
      slots: [{ key: 'concurrency', limit: 1 }],
      budgets: [],
    };
    expect((await store.admit(admission)).outcome).toBe('admitted');
    // A later admission of another key sweeps the first's lapsed state away; the first key then admits afresh.
    const later = { ...admission, ticket: 'b', now: start + 120_000, windows: [], slots: [] };
    expect((await store.admit(later)).outcome).toBe('admitted');
    expect((await store.admit({ ...admission, ticket: 'c', now: start + 120_000 })).outcome).toBe('admitted');
  });

  it('clears everything at once', async () => {
    const store = new MemoryTrafficStore();
    await store.seedBudget('budget', 10, 60_000);
    store.clear();
    expect(await store.readBudget('budget', start)).toBeUndefined();
  });
});
