import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdmitRequest, AdmitResult, BudgetCheck, SlotCheck, TrafficStore, WindowCheck } from './traffic-store.ts';

export interface TrafficStoreUnderTest {
  readonly store: TrafficStore;
  cleanup(): Promise<void>;
}

/** A minute boundary, so that buckets start on whole seconds from here. */
const start = Date.UTC(2030, 0, 1);
const minute = 60_000;
const lease = 30_000;
const day = 86_400_000;

/**
 * The behaviour every TrafficStore shares, declared as Vitest blocks: `create` gives each test a fresh store (with
 * its own key prefix where the store is shared) and a cleanup. Times come from the requests (`now`), never a clock.
 */
export function describeTrafficStoreContract(name: string, create: () => Promise<TrafficStoreUnderTest>): void {
  describe(`${name}: the traffic store contract`, () => {
    let underTest: TrafficStoreUnderTest;
    let store: TrafficStore;
    let ticketNumber = 0;

    beforeEach(async () => {
      underTest = await create();
      store = underTest.store;
    });
    afterEach(async () => {
      await underTest.cleanup();
    });

    function admit(
      now: number,
      checks: { windows?: WindowCheck[]; slots?: SlotCheck[]; budgets?: BudgetCheck[] },
      ticket = `ticket-${(ticketNumber += 1)}`,
      leaseMs = lease,
    ): Promise<AdmitResult> {
      const request: AdmitRequest = {
        ticket,
        now,
        leaseMs,
        windows: checks.windows ?? [],
        slots: checks.slots ?? [],
        budgets: checks.budgets ?? [],
      };
      return store.admit(request);
    }

    function requests(limit: number, key = 'rpm'): WindowCheck {
      return { key, limit, amount: 1, windowMs: minute };
    }

    function tokens(limit: number, amount: number, key = 'tpm'): WindowCheck {
      return { key, limit, amount, windowMs: minute };
    }

    function budget(limit: number, amount: number, key = 'budget'): BudgetCheck {
      return { key, limit, amount };
    }

    function admitted(result: AdmitResult): Extract<AdmitResult, { outcome: 'admitted' }> {
      if (result.outcome !== 'admitted') throw new Error(`expected an admission, got ${JSON.stringify(result)}`);
      return result;
    }

    describe('windows', () => {
      it('admits up to the limit, then refuses until the oldest bucket leaves the window', async () => {
        const window = requests(3);
        expect(admitted(await admit(start, { windows: [window] })).windows).toEqual([
          { remaining: 2, resetMs: 60_000 },
        ]);
        expect(admitted(await admit(start + 10_000, { windows: [window] })).windows).toEqual([
          { remaining: 1, resetMs: 60_000 },
        ]);
        // Counted in the bucket that began at +20 s, which leaves the window at +80 s.
        expect(admitted(await admit(start + 20_500, { windows: [window] })).windows).toEqual([
          { remaining: 0, resetMs: 59_500 },
        ]);
        expect(await admit(start + 30_000, { windows: [window] })).toEqual({
          outcome: 'refused',
          kind: 'window',
          index: 0,
          retryAfterMs: 30_000,
        });
        expect(await admit(start + 59_999, { windows: [window] })).toMatchObject({ retryAfterMs: 1 });
        expect(admitted(await admit(start + 60_000, { windows: [window] })).windows).toEqual([
          { remaining: 0, resetMs: 60_000 },
        ]);
      });

      it('slides by whole buckets: a unit counts until the end of its bucket plus the window', async () => {
        const window = requests(1);
        admitted(await admit(start + 999, { windows: [window] }));
        expect(await admit(start + 59_999, { windows: [window] })).toMatchObject({ outcome: 'refused' });
        admitted(await admit(start + 60_000, { windows: [window] }));
      });

      it('waits for as many old buckets as the amount needs', async () => {
        admitted(await admit(start, { windows: [tokens(100, 40)] }));
        admitted(await admit(start + 5_000, { windows: [tokens(100, 30)] }));
        expect(admitted(await admit(start + 10_000, { windows: [tokens(100, 20)] })).windows).toEqual([
          { remaining: 10, resetMs: 60_000 },
        ]);
        expect(await admit(start + 20_000, { windows: [tokens(100, 50)] })).toMatchObject({
          outcome: 'refused',
          retryAfterMs: 40_000,
        });
        expect(await admit(start + 20_000, { windows: [tokens(100, 60)] })).toMatchObject({
          outcome: 'refused',
          retryAfterMs: 45_000,
        });
        expect(await admit(start + 20_000, { windows: [tokens(100, 100)] })).toMatchObject({
          outcome: 'refused',
          retryAfterMs: 50_000,
        });
      });

      it('refuses an amount above the limit with no retry time, since no wait would help', async () => {
        expect(await admit(start, { windows: [tokens(100, 101)] })).toEqual({
          outcome: 'refused',
          kind: 'window',
          index: 0,
          retryAfterMs: undefined,
        });
        expect(admitted(await admit(start, { windows: [tokens(100, 100)] })).windows).toEqual([
          { remaining: 0, resetMs: 60_000 },
        ]);
      });

      it('forgets everything once a whole window has passed', async () => {
        admitted(await admit(start, { windows: [tokens(100, 100)] }));
        expect(admitted(await admit(start + 3 * minute, { windows: [tokens(100, 1)] })).windows).toEqual([
          { remaining: 99, resetMs: 60_000 },
        ]);
      });

      it('reports a zero amount without taking anything', async () => {
        admitted(await admit(start, { windows: [tokens(100, 30)] }));
        expect(admitted(await admit(start + 10_500, { windows: [tokens(100, 0)] })).windows).toEqual([
          { remaining: 70, resetMs: 49_500 },
        ]);
      });

      it('keeps keys apart', async () => {
        admitted(await admit(start, { windows: [requests(1, 'one')] }));
        admitted(await admit(start, { windows: [requests(1, 'two')] }));
        expect(await admit(start, { windows: [requests(1, 'one')] })).toMatchObject({ outcome: 'refused' });
      });

      it('reports the first window that refuses, and takes nothing from the others', async () => {
        admitted(await admit(start, { windows: [requests(1, 'b')] }));
        expect(await admit(start, { windows: [requests(5, 'a'), requests(1, 'b'), requests(1, 'c')] })).toEqual({
          outcome: 'refused',
          kind: 'window',
          index: 1,
          retryAfterMs: 60_000,
        });
        expect(admitted(await admit(start, { windows: [requests(5, 'a'), requests(1, 'c')] })).windows).toEqual([
          { remaining: 4, resetMs: 60_000 },
          { remaining: 0, resetMs: 60_000 },
        ]);
      });
    });

    describe('corrections', () => {
      it('adds to the bucket the admission was counted in, which leaves the window with it', async () => {
        admitted(await admit(start, { windows: [tokens(100, 10)] }));
        admitted(await admit(start + 30_000, { windows: [tokens(100, 10)] }));
        await store.correct([{ key: 'tpm', windowMs: minute, admittedAt: start + 200, delta: 30 }], start + 30_000);
        expect(await admit(start + 30_000, { windows: [tokens(100, 51)] })).toMatchObject({
          outcome: 'refused',
          retryAfterMs: 30_000,
        });
        // The corrected bucket (40 units) has left; only the 10 admitted at +30 s remain.
        expect(admitted(await admit(start + 60_000, { windows: [tokens(100, 90)] })).windows).toEqual([
          { remaining: 0, resetMs: 60_000 },
        ]);
      });

      it('gives units back but never below zero', async () => {
        admitted(await admit(start, { windows: [tokens(100, 50)] }));
        admitted(await admit(start + 1_000, { windows: [tokens(100, 20)] }));
        await store.correct([{ key: 'tpm', windowMs: minute, admittedAt: start, delta: -80 }], start + 2_000);
        expect(admitted(await admit(start + 2_000, { windows: [tokens(100, 80)] })).windows).toEqual([
          { remaining: 0, resetMs: 60_000 },
        ]);
      });

      it('counts an admission stamped ahead of the clock in the newest bucket', async () => {
        admitted(await admit(start, { windows: [tokens(100, 10)] }));
        await store.correct([{ key: 'tpm', windowMs: minute, admittedAt: start + 5_000, delta: 5 }], start);
        expect(await admit(start, { windows: [tokens(100, 86)] })).toMatchObject({
          outcome: 'refused',
          retryAfterMs: 60_000,
        });
        admitted(await admit(start + minute, { windows: [tokens(100, 100)] }));
      });

      it('ignores an admission whose bucket has left the window, and a window the store does not hold', async () => {
        admitted(await admit(start, { windows: [tokens(100, 50)] }));
        await store.correct(
          [
            { key: 'tpm', windowMs: minute, admittedAt: start, delta: 1_000 },
            { key: 'unknown', windowMs: minute, admittedAt: start, delta: 1_000 },
          ],
          start + minute,
        );
        expect(admitted(await admit(start + minute, { windows: [tokens(100, 100)] })).windows).toEqual([
          { remaining: 0, resetMs: 60_000 },
        ]);
        expect(admitted(await admit(start + minute, { windows: [tokens(100, 100, 'unknown')] })).windows).toEqual([
          { remaining: 0, resetMs: 60_000 },
        ]);
      });
    });

    describe('slots', () => {
      it('admits up to the limit at once and frees a slot when its admission settles', async () => {
        const slot: SlotCheck = { key: 'concurrency', limit: 2 };
        admitted(await admit(start, { slots: [slot] }, 'first'));
        admitted(await admit(start, { slots: [slot] }, 'second'));
        expect(await admit(start, { slots: [slot] }, 'third')).toEqual({
          outcome: 'refused',
          kind: 'slot',
          index: 0,
          retryAfterMs: 1000,
        });
        expect(await store.settle('first', ['concurrency'], [])).toEqual([]);
        admitted(await admit(start, { slots: [slot] }, 'third'));
      });

      it('frees a slot whose lease lapsed (a crashed instance)', async () => {
        const slot: SlotCheck = { key: 'concurrency', limit: 1 };
        admitted(await admit(start, { slots: [slot] }, 'crashed'));
        expect(await admit(start + lease - 1, { slots: [slot] })).toMatchObject({ outcome: 'refused', kind: 'slot' });
        admitted(await admit(start + lease, { slots: [slot] }));
      });

      it('keeps a renewed slot past its first lease, but does not revive a lapsed one', async () => {
        const slot: SlotCheck = { key: 'concurrency', limit: 1 };
        admitted(await admit(start, { slots: [slot] }, 'stream'));
        await store.renew('stream', ['concurrency'], [], start + 20_000, lease);
        expect(await admit(start + 40_000, { slots: [slot] })).toMatchObject({ outcome: 'refused', kind: 'slot' });
        await store.renew('stream', ['concurrency'], [], start + 50_000, lease);
        admitted(await admit(start + 50_000, { slots: [slot] }, 'next'));
      });
    });

    describe('budgets', () => {
      it('asks for a seed first, before any other check, and takes nothing', async () => {
        const window = requests(1);
        admitted(await admit(start, { windows: [requests(1, 'full')] }));
        expect(
          await admit(start, {
            windows: [window, requests(1, 'full')],
            slots: [{ key: 'concurrency', limit: 1 }],
            budgets: [budget(1000, 10, 'key'), budget(1000, 10, 'team')],
          }),
        ).toEqual({ outcome: 'unseeded', budgetIndexes: [0, 1] });
        await store.seedBudget('team', 0, day);
        expect(
          await admit(start, { windows: [window], budgets: [budget(1000, 10, 'key'), budget(1000, 10, 'team')] }),
        ).toEqual({ outcome: 'unseeded', budgetIndexes: [0] });
        await store.seedBudget('key', 0, day);
        expect(await store.readBudget('team', start)).toEqual({ spent: 0, reserved: 0 });
        const result = admitted(
          await admit(start, {
            windows: [window],
            slots: [{ key: 'concurrency', limit: 1 }],
            budgets: [budget(1000, 10, 'key'), budget(1000, 10, 'team')],
          }),
        );
        expect(result.windows).toEqual([{ remaining: 0, resetMs: 60_000 }]);
        expect(result.budgets).toEqual([
          { spent: 0, reserved: 10 },
          { spent: 0, reserved: 10 },
        ]);
      });

      it('is seeded once: the first seeder wins', async () => {
        await Promise.all([store.seedBudget('budget', 100, day), store.seedBudget('budget', 200, day)]);
        const first = await store.readBudget('budget', start);
        expect([100, 200]).toContain(first?.spent);
        await store.seedBudget('budget', 500, day);
        expect(await store.readBudget('budget', start)).toEqual(first);
      });

      it('reserves, refuses past the limit, and settles the true cost', async () => {
        await store.seedBudget('budget', 0, day);
        expect(admitted(await admit(start, { budgets: [budget(1000, 400)] }, 'a')).budgets).toEqual([
          { spent: 0, reserved: 400 },
        ]);
        expect(admitted(await admit(start, { budgets: [budget(1000, 400)] }, 'b')).budgets).toEqual([
          { spent: 0, reserved: 800 },
        ]);
        expect(await admit(start, { budgets: [budget(1000, 400)] }, 'c')).toEqual({
          outcome: 'refused',
          kind: 'budget',
          index: 0,
          retryAfterMs: undefined,
        });
        expect(await store.settle('a', [], [{ key: 'budget', cost: 100 }])).toEqual([100]);
        expect(await store.readBudget('budget', start)).toEqual({ spent: 100, reserved: 400 });
        expect(admitted(await admit(start, { budgets: [budget(1000, 400)] }, 'c')).budgets).toEqual([
          { spent: 100, reserved: 800 },
        ]);
        expect(await store.settle('b', [], [{ key: 'budget', cost: 0 }])).toEqual([100]);
        expect(await store.readBudget('budget', start)).toEqual({ spent: 100, reserved: 400 });
      });

      it('counts amounts of 10^14 micro-USD and more exactly (a hundred million dollars)', async () => {
        const big = 123_456_789_012_345;
        await store.seedBudget('budget', big, day);
        const limit = 9_000_000_000_000_000;
        expect(admitted(await admit(start, { budgets: [budget(limit, big)] }, 'a')).budgets).toEqual([
          { spent: big, reserved: big },
        ]);
        admitted(await admit(start, { budgets: [budget(limit, big)] }, 'b'));
        expect(await store.settle('a', [], [{ key: 'budget', cost: big }])).toEqual([2 * big]);
        expect(await store.readBudget('budget', start)).toEqual({ spent: 2 * big, reserved: big });
        admitted(await admit(start, { windows: [tokens(limit, big)] }, 'c'));
        await store.correct([{ key: 'tpm', windowMs: minute, admittedAt: start, delta: big }], start);
        expect(admitted(await admit(start, { windows: [tokens(limit, 1)] }, 'd')).windows[0]?.remaining).toBe(
          limit - 2 * big - 1,
        );
      });

      it('settles and corrects nothing as well as something (no negative zero reaches Redis)', async () => {
        await store.seedBudget('budget', 0, day);
        admitted(await admit(start, { budgets: [budget(1000, 0)], windows: [tokens(100, 0)] }, 'a'));
        expect(await store.settle('a', [], [{ key: 'budget', cost: 0 }])).toEqual([0]);
        await store.correct([{ key: 'tpm', windowMs: minute, admittedAt: start, delta: -0 }], start);
        expect(await store.readBudget('budget', start)).toEqual({ spent: 0, reserved: 0 });
      });

      it('charges a cost above the reservation in full', async () => {
        await store.seedBudget('budget', 0, day);
        admitted(await admit(start, { budgets: [budget(1000, 100)] }, 'a'));
        expect(await store.settle('a', [], [{ key: 'budget', cost: 300 }])).toEqual([300]);
        expect(await store.readBudget('budget', start)).toEqual({ spent: 300, reserved: 0 });
        // Settling twice charges twice: the store does not remember settled tickets.
        expect(await store.settle('a', [], [{ key: 'budget', cost: 5 }])).toEqual([305]);
      });

      it('refuses even a free request once the spend reached the limit', async () => {
        await store.seedBudget('budget', 1000, day);
        expect(await admit(start, { budgets: [budget(1000, 0)] })).toMatchObject({
          outcome: 'refused',
          kind: 'budget',
        });
        admitted(await admit(start, { budgets: [budget(1001, 0)] }));
      });

      it('does not recreate a budget it no longer holds when settling', async () => {
        expect(await store.settle('a', [], [{ key: 'gone', cost: 100 }])).toEqual([undefined]);
        expect(await store.readBudget('gone', start)).toBeUndefined();
      });

      it('releases a reservation whose lease lapsed, unless it was renewed', async () => {
        await store.seedBudget('budget', 0, day);
        admitted(await admit(start, { budgets: [budget(1000, 600)] }, 'crashed'));
        admitted(await admit(start, { budgets: [budget(1000, 300)] }, 'stream'));
        await store.renew('stream', [], ['budget'], start + 20_000, lease);
        expect(await admit(start + lease - 1, { budgets: [budget(1000, 200)] })).toMatchObject({
          outcome: 'refused',
          kind: 'budget',
        });
        expect(await store.readBudget('budget', start + lease)).toEqual({ spent: 0, reserved: 300 });
        admitted(await admit(start + lease, { budgets: [budget(1000, 700)] }));
        expect(await store.readBudget('budget', start + 50_000)).toEqual({ spent: 0, reserved: 700 });
        // A lapsed reservation settles without giving back anything twice.
        expect(await store.settle('crashed', [], [{ key: 'budget', cost: 50 }])).toEqual([50]);
        expect(await store.readBudget('budget', start + 50_000)).toEqual({ spent: 50, reserved: 700 });
      });

      it('never reserves more than the limit however many admissions race', async () => {
        await store.seedBudget('budget', 0, day);
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, index) => admit(start, { budgets: [budget(1000, 100)] }, `racer-${index}`)),
        );
        expect(results.filter((result) => result.outcome === 'admitted')).toHaveLength(10);
        expect(await store.readBudget('budget', start)).toEqual({ spent: 0, reserved: 1000 });
      });

      it('keeps spent and reserved within the limit while costs stay within their reservations', async () => {
        let run = 0;
        const operation = fc.oneof(
          fc.record({ type: fc.constant('admit' as const), amount: fc.integer({ min: 0, max: 400 }) }),
          fc.record({
            type: fc.constant('settle' as const),
            pick: fc.nat(),
            share: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
        );
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 0, max: 1000 }),
            fc.array(operation, { maxLength: 30 }),
            async (seed, operations) => {
              const key = `property-${(run += 1)}`;
              const limit = 1000;
              await store.seedBudget(key, seed, day);
              let spent = seed;
              const open = new Map<string, number>();
              for (const step of operations) {
                if (step.type === 'admit') {
                  const ticket = `ticket-${(ticketNumber += 1)}`;
                  const reserved = [...open.values()].reduce((sum, amount) => sum + amount, 0);
                  const expected = spent < limit && spent + reserved + step.amount <= limit;
                  const result = await admit(start, { budgets: [budget(limit, step.amount, key)] }, ticket);
                  expect(result.outcome).toBe(expected ? 'admitted' : 'refused');
                  if (expected) open.set(ticket, step.amount);
                } else if (open.size > 0) {
                  const ticket = [...open.keys()][step.pick % open.size]!;
                  const cost = Math.floor(open.get(ticket)! * step.share);
                  open.delete(ticket);
                  spent += cost;
                  expect(await store.settle(ticket, [], [{ key, cost }])).toEqual([spent]);
                }
                const state = await store.readBudget(key, start);
                expect(state!.spent + state!.reserved).toBeLessThanOrEqual(Math.max(limit, seed));
              }
            },
          ),
          { numRuns: 25 },
        );
      });
    });

    describe('atomicity and the order of checks', () => {
      it('takes nothing from the windows and budgets when a slot refuses', async () => {
        await store.seedBudget('budget', 0, day);
        const slot: SlotCheck = { key: 'concurrency', limit: 1 };
        admitted(await admit(start, { slots: [slot] }, 'holder'));
        expect(
          await admit(start, { windows: [requests(10)], slots: [slot], budgets: [budget(1000, 500)] }, 'refused'),
        ).toMatchObject({ outcome: 'refused', kind: 'slot', index: 0 });
        expect(await store.readBudget('budget', start)).toEqual({ spent: 0, reserved: 0 });
        const result = admitted(await admit(start, { windows: [requests(10)], budgets: [budget(1000, 500)] }));
        expect(result.windows).toEqual([{ remaining: 9, resetMs: 60_000 }]);
      });

      it('takes nothing from the windows and slots when a budget refuses', async () => {
        await store.seedBudget('budget', 990, day);
        const slot: SlotCheck = { key: 'concurrency', limit: 1 };
        expect(await admit(start, { windows: [requests(10)], slots: [slot], budgets: [budget(1000, 500)] })).toEqual({
          outcome: 'refused',
          kind: 'budget',
          index: 0,
          retryAfterMs: undefined,
        });
        const result = admitted(await admit(start, { windows: [requests(10)], slots: [slot] }));
        expect(result.windows).toEqual([{ remaining: 9, resetMs: 60_000 }]);
      });

      it('reports windows before slots and slots before budgets', async () => {
        await store.seedBudget('budget', 1000, day);
        const slot: SlotCheck = { key: 'concurrency', limit: 1 };
        admitted(await admit(start, { windows: [requests(1)], slots: [slot] }));
        expect(await admit(start, { windows: [requests(1)], slots: [slot], budgets: [budget(1000, 1)] })).toMatchObject(
          { kind: 'window' },
        );
        expect(await admit(start, { slots: [slot], budgets: [budget(1000, 1)] })).toMatchObject({ kind: 'slot' });
        expect(await admit(start, { budgets: [budget(1000, 1)] })).toMatchObject({ kind: 'budget' });
      });

      it('frees slots and settles several budgets in one call', async () => {
        await store.seedBudget('key', 10, day);
        await store.seedBudget('org', 20, day);
        const slots: SlotCheck[] = [
          { key: 'key-slots', limit: 1 },
          { key: 'org-slots', limit: 1 },
        ];
        admitted(await admit(start, { slots, budgets: [budget(1000, 100, 'key'), budget(1000, 100, 'org')] }, 'a'));
        expect(
          await store.settle(
            'a',
            ['key-slots', 'org-slots'],
            [
              { key: 'key', cost: 5 },
              { key: 'org', cost: 7 },
              { key: 'unknown', cost: 1 },
            ],
          ),
        ).toEqual([15, 27, undefined]);
        expect(await store.readBudget('org', start)).toEqual({ spent: 27, reserved: 0 });
        admitted(await admit(start, { slots }, 'b'));
      });
    });
  });
}
