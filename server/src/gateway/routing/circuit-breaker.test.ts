import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BreakerConfig } from '../../config/config.ts';
import { LocalBreakerStore, type BreakerStore, type SharedBreakerState } from './breaker-store.ts';
import { CircuitBreakers, type BreakerPermit, type BreakerTransition } from './circuit-breaker.ts';

const config: BreakerConfig = {
  consecutiveFailures: 3,
  failureRate: 0.5,
  windowMs: 10_000,
  minimumRequests: 10,
  openMs: 5_000,
  halfOpenProbes: 1,
};

const key = 'deployment_1#credential_1';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

/** A store that keeps what it was given and lets a test deliver other instances' states. */
class RecordingStore implements BreakerStore {
  readonly published: SharedBreakerState[] = [];
  apply: ((state: SharedBreakerState) => void) | undefined;
  closed = false;

  start(apply: (state: SharedBreakerState) => void): void {
    this.apply = apply;
  }

  publish(state: SharedBreakerState): void {
    this.published.push(state);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function setup(overrides: Partial<BreakerConfig> = {}) {
  const time = clock();
  const transitions: BreakerTransition[] = [];
  const store = new RecordingStore();
  const breakers = new CircuitBreakers(
    { ...config, ...overrides },
    { now: time.now, store, onTransition: (event) => transitions.push(event) },
  );
  return { time, transitions, store, breakers };
}

function fail(breakers: CircuitBreakers, times: number, on = key): void {
  for (let index = 0; index < times; index += 1) {
    const permit = breakers.tryAcquire(on);
    if (permit === undefined) throw new Error('breaker refused a request');
    breakers.release(on, permit, 'failure');
  }
}

function succeed(breakers: CircuitBreakers, times: number, on = key): void {
  for (let index = 0; index < times; index += 1) {
    const permit = breakers.tryAcquire(on);
    if (permit === undefined) throw new Error('breaker refused a request');
    breakers.release(on, permit, 'success');
  }
}

function stateOf(breakers: CircuitBreakers, on = key): string | undefined {
  return breakers.snapshot().find((status) => status.key === on)?.state;
}

describe('CircuitBreakers', () => {
  it('lets requests through a key it has never seen, without remembering it', () => {
    const { breakers } = setup();
    expect(breakers.isAvailable(key)).toBe(true);
    expect(breakers.snapshot()).toEqual([]);
    expect(breakers.tryAcquire(key)).toEqual({ probe: false, generation: 0 });
  });

  it('opens after the configured number of failures in a row, and a success in between resets the count', () => {
    const { breakers, transitions, time } = setup();
    fail(breakers, 2);
    succeed(breakers, 1);
    fail(breakers, 2);
    expect(stateOf(breakers)).toBe('closed');
    expect(breakers.snapshot()[0]).toMatchObject({ consecutiveFailures: 2, windowRequests: 5, windowFailures: 4 });

    fail(breakers, 1);

    expect(stateOf(breakers)).toBe('open');
    expect(breakers.isAvailable(key)).toBe(false);
    expect(breakers.tryAcquire(key)).toBeUndefined();
    expect(transitions).toEqual([
      { key, from: 'closed', to: 'open', reason: 'consecutive_failures', at: time.now(), remote: false },
    ]);
    expect(breakers.snapshot()[0]).toMatchObject({ since: time.now(), retryAt: time.now() + config.openMs });
  });

  it('opens when the failure rate over the window reaches the threshold with enough requests', () => {
    const { breakers, transitions } = setup({ consecutiveFailures: 100 });
    // Alternating: 50 % failures, never two in a row.
    for (let index = 0; index < 4; index += 1) {
      succeed(breakers, 1);
      fail(breakers, 1);
    }
    succeed(breakers, 1);
    expect(stateOf(breakers)).toBe('closed');
    // The tenth request, a failure: 5 of 10.
    fail(breakers, 1);
    expect(stateOf(breakers)).toBe('open');
    expect(transitions.at(-1)?.reason).toBe('failure_rate');
  });

  it('does not count failures that left the window', () => {
    const { breakers, time } = setup({ consecutiveFailures: 100 });
    fail(breakers, 9);
    time.advance(config.windowMs);
    succeed(breakers, 9);
    fail(breakers, 1);
    // Within the window: 9 successes and 1 failure.
    expect(stateOf(breakers)).toBe('closed');
    expect(breakers.snapshot()[0]).toMatchObject({ windowRequests: 10, windowFailures: 1 });
  });

  it('does not open on the rate below the minimum number of requests', () => {
    const { breakers } = setup({ consecutiveFailures: 100, minimumRequests: 20 });
    fail(breakers, 19);
    expect(stateOf(breakers)).toBe('closed');
    fail(breakers, 1);
    expect(stateOf(breakers)).toBe('open');
  });

  it('lets one probe through after openMs, and closes on its success', () => {
    const { breakers, transitions, time } = setup();
    fail(breakers, 3);
    time.advance(config.openMs - 1);
    expect(breakers.isAvailable(key)).toBe(false);
    expect(breakers.tryAcquire(key)).toBeUndefined();
    time.advance(1);
    expect(breakers.isAvailable(key)).toBe(true);
    // isAvailable changes nothing.
    expect(stateOf(breakers)).toBe('open');

    const probe = breakers.tryAcquire(key);
    expect(probe?.probe).toBe(true);
    expect(stateOf(breakers)).toBe('half-open');
    expect(breakers.isAvailable(key)).toBe(false);
    expect(breakers.tryAcquire(key)).toBeUndefined();

    breakers.release(key, probe!, 'success');
    expect(stateOf(breakers)).toBe('closed');
    expect(breakers.tryAcquire(key)?.probe).toBe(false);
    expect(transitions.map((event) => [event.to, event.reason])).toEqual([
      ['open', 'consecutive_failures'],
      ['half-open', 'open_elapsed'],
      ['closed', 'probe_succeeded'],
    ]);
  });

  it('reopens on a failed probe for another openMs', () => {
    const { breakers, time, transitions } = setup();
    fail(breakers, 3);
    time.advance(config.openMs);
    const probe = breakers.tryAcquire(key)!;
    time.advance(100);
    breakers.release(key, probe, 'failure');

    expect(stateOf(breakers)).toBe('open');
    expect(transitions.at(-1)).toMatchObject({ to: 'open', reason: 'probe_failed', at: time.now() });
    time.advance(config.openMs - 1);
    expect(breakers.tryAcquire(key)).toBeUndefined();
    time.advance(1);
    expect(breakers.tryAcquire(key)?.probe).toBe(true);
  });

  it('frees the probe slot of an abandoned probe without judging the upstream', () => {
    const { breakers, time } = setup({ halfOpenProbes: 2 });
    fail(breakers, 3);
    time.advance(config.openMs);
    const first = breakers.tryAcquire(key)!;
    const second = breakers.tryAcquire(key)!;
    expect(breakers.tryAcquire(key)).toBeUndefined();
    expect(breakers.snapshot()[0]?.probesInFlight).toBe(2);

    breakers.release(key, first, 'abandoned');
    expect(stateOf(breakers)).toBe('half-open');
    expect(breakers.isAvailable(key)).toBe(true);
    const third = breakers.tryAcquire(key)!;
    expect(third.probe).toBe(true);
    breakers.release(key, second, 'success');
    expect(stateOf(breakers)).toBe('closed');
    // The remaining probe's answer arrives after the breaker closed: it belongs to the past state.
    breakers.release(key, third, 'failure');
    expect(breakers.snapshot()[0]).toMatchObject({ state: 'closed', consecutiveFailures: 0, windowRequests: 0 });
  });

  it('ignores an abandoned ordinary request and outcomes reported under an earlier state', () => {
    const { breakers, time } = setup();
    const early = breakers.tryAcquire(key)!;
    breakers.release(key, breakers.tryAcquire(key)!, 'abandoned');
    expect(breakers.snapshot()[0]?.windowRequests).toBe(0);

    fail(breakers, 3);
    breakers.release(key, early, 'success');
    expect(stateOf(breakers)).toBe('open');
    breakers.release('unknown#key', early, 'failure');
    expect(breakers.snapshot()).toHaveLength(1);
    time.advance(1);
  });

  it('disables a key until it is enabled, and reports both with their reasons', () => {
    const { breakers, transitions, store } = setup();
    const inFlight = breakers.tryAcquire(key)!;
    breakers.disable(key, 'the upstream refused the credential (401)');
    breakers.disable(key, 'the upstream refused the credential (401)');
    expect(breakers.isAvailable(key)).toBe(false);
    expect(breakers.tryAcquire(key)).toBeUndefined();
    breakers.release(key, inFlight, 'success');
    expect(breakers.snapshot()[0]).toMatchObject({
      state: 'disabled',
      reason: 'the upstream refused the credential (401)',
    });

    breakers.disable(key, 'the upstream refused the credential (403)');
    breakers.enable(key);
    breakers.enable(key);

    expect(breakers.isAvailable(key)).toBe(true);
    expect(transitions.map((event) => [event.from, event.to, event.reason])).toEqual([
      ['closed', 'disabled', 'the upstream refused the credential (401)'],
      ['disabled', 'disabled', 'the upstream refused the credential (403)'],
      ['disabled', 'closed', 'enabled'],
    ]);
    expect(store.published.map((state) => state.state)).toEqual(['disabled', 'disabled', 'closed']);
  });

  it('enables an open breaker at once (an admin reset), and ignores keys it does not know', () => {
    const { breakers } = setup();
    breakers.enable('unknown#key');
    fail(breakers, 3);
    breakers.enable(key);
    expect(breakers.tryAcquire(key)?.probe).toBe(false);
    expect(breakers.snapshot().map((status) => status.key)).toEqual([key]);
  });

  it('forgets keys that left the registry', () => {
    const { breakers } = setup();
    fail(breakers, 3, 'a#1');
    fail(breakers, 3, 'b#1');
    breakers.forget(new Set(['b#1']));
    expect(breakers.snapshot().map((status) => status.key)).toEqual(['b#1']);
    expect(breakers.isAvailable('a#1')).toBe(true);
    expect(breakers.isAvailable('b#1')).toBe(false);
  });

  it('keeps breakers apart per key', () => {
    const { breakers } = setup();
    fail(breakers, 3, 'a#1');
    expect(breakers.isAvailable('a#1')).toBe(false);
    expect(breakers.isAvailable('a#2')).toBe(true);
  });

  it('publishes its own transitions to the store and closes it', async () => {
    const { breakers, store, time } = setup();
    fail(breakers, 3);
    expect(store.published).toEqual([{ key, state: 'open', since: time.now(), reason: 'consecutive_failures' }]);
    await breakers.close();
    expect(store.closed).toBe(true);
  });

  it('takes the states other instances publish, without publishing them again', () => {
    const { breakers, store, transitions, time } = setup();
    store.apply!({ key, state: 'open', since: time.now() - 1000, reason: 'consecutive_failures' });

    expect(breakers.isAvailable(key)).toBe(false);
    expect(store.published).toEqual([]);
    expect(transitions).toEqual([
      { key, from: 'closed', to: 'open', reason: 'consecutive_failures', at: time.now() - 1000, remote: true },
    ]);
    // Open since the other instance's transition: probes start openMs after it.
    time.advance(config.openMs - 1000);
    expect(breakers.isAvailable(key)).toBe(true);

    store.apply!({ key, state: 'closed', since: time.now(), reason: 'probe_succeeded' });
    expect(stateOf(breakers)).toBe('closed');
    expect(transitions).toHaveLength(2);
  });

  it('ignores another instance state older than what it knows, and a closed state of a key it never saw', () => {
    const { breakers, store, time } = setup();
    store.apply!({ key: 'other#1', state: 'closed', since: time.now(), reason: 'probe_succeeded' });
    expect(breakers.snapshot()).toEqual([]);

    fail(breakers, 3);
    store.apply!({ key, state: 'closed', since: time.now() - 1, reason: 'probe_succeeded' });
    expect(stateOf(breakers)).toBe('open');
  });

  it('moves its clock when another instance reopened the same breaker later', () => {
    const { breakers, store, time, transitions } = setup();
    fail(breakers, 3);
    const openedAt = time.now();
    time.advance(2000);
    store.apply!({ key, state: 'open', since: time.now(), reason: 'probe_failed' });
    expect(transitions).toHaveLength(1);
    expect(breakers.snapshot()[0]).toMatchObject({ state: 'open', since: openedAt + 2000, reason: 'probe_failed' });
    time.advance(config.openMs - 1);
    expect(breakers.isAvailable(key)).toBe(false);
  });

  it('counts a disabled key from another instance as disabled', () => {
    const { breakers, store, time } = setup();
    store.apply!({ key, state: 'disabled', since: time.now(), reason: 'the upstream refused the credential (401)' });
    expect(breakers.tryAcquire(key)).toBeUndefined();
    expect(breakers.snapshot()[0]?.reason).toBe('the upstream refused the credential (401)');
  });

  it('works without options, on the local store', async () => {
    const breakers = new CircuitBreakers(config);
    expect(breakers.tryAcquire(key)).toBeDefined();
    await breakers.close();
    const local = new LocalBreakerStore();
    local.start(() => {});
    local.publish({ key, state: 'open', since: 1, reason: 'x' });
    await local.close();
  });

  it('never lets more than halfOpenProbes probes out at once, and never a request while open', () => {
    type Step = { kind: 'acquire' } | { kind: 'release'; index: number; outcome: 'success' | 'failure' | 'abandoned' };
    const step = fc.oneof(
      { arbitrary: fc.constant<Step>({ kind: 'acquire' }), weight: 2 },
      fc.record({
        kind: fc.constant('release' as const),
        index: fc.nat(),
        outcome: fc.constantFrom('success' as const, 'failure' as const, 'abandoned' as const),
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        // Mostly no time passing, so probes pile up; sometimes long enough for an open breaker to half-open.
        fc.array(fc.tuple(step, fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3000 }))), {
          maxLength: 300,
          size: 'max',
        }),
        (halfOpenProbes, steps) => {
          const time = clock();
          const breakers = new CircuitBreakers(
            { ...config, consecutiveFailures: 2, openMs: 2000, halfOpenProbes },
            { now: time.now },
          );
          const held: BreakerPermit[] = [];
          for (const [action, elapsed] of steps) {
            time.advance(elapsed);
            if (action.kind === 'acquire') {
              const before = stateOf(breakers) ?? 'closed';
              const permit = breakers.tryAcquire(key);
              if (permit !== undefined) {
                held.push(permit);
                expect(before).not.toBe('disabled');
              }
            } else if (held.length > 0) {
              const [permit] = held.splice(action.index % held.length, 1);
              breakers.release(key, permit!, action.outcome);
            }
            const status = breakers.snapshot()[0];
            if (status === undefined) continue;
            expect(status.probesInFlight).toBeLessThanOrEqual(halfOpenProbes);
            // Probes outstanding from any one half-open spell, counted by the test itself.
            const probesPerSpell = new Map<number, number>();
            for (const permit of held) {
              if (permit.probe) probesPerSpell.set(permit.generation, (probesPerSpell.get(permit.generation) ?? 0) + 1);
            }
            for (const count of probesPerSpell.values()) expect(count).toBeLessThanOrEqual(halfOpenProbes);
            if (status.state === 'open') {
              // While open (before openMs), nothing gets out.
              if (time.now() < status.retryAt!) expect(breakers.tryAcquire(key)).toBeUndefined();
            }
          }
        },
      ),
    );
  });
});
