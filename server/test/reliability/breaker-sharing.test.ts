import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BreakerConfig } from '../../src/config/config.ts';
import { CircuitBreakers, type BreakerTransition } from '../../src/gateway/routing/circuit-breaker.ts';
import { RedisBreakerStore } from '../../src/gateway/routing/redis-breaker-store.ts';
import { TcpFaultProxy } from '../support/tcp-fault-proxy.ts';

const redisUrl = 'redis://127.0.0.1:6379';
const config: BreakerConfig = {
  consecutiveFailures: 3,
  failureRate: 0.5,
  windowMs: 10_000,
  minimumRequests: 10,
  openMs: 5_000,
  halfOpenProbes: 1,
};
const key = 'deployment_1#credential_1';
/** Room for a busy machine; delivery normally takes a few milliseconds. */
const delivery = { timeout: 5_000, interval: 10 };

interface Instance {
  readonly breakers: CircuitBreakers;
  readonly store: RedisBreakerStore;
  readonly transitions: BreakerTransition[];
  readonly warnings: unknown[];
}

/** Breakers on several instances of the gateway, sharing one Redis (under a prefix of their own) and one clock. */
describe('circuit breakers shared through Redis', () => {
  let admin: Redis;
  let prefix: string;
  let time: number;
  const instances: Instance[] = [];

  function start(url = redisUrl, options: { commandTimeoutMs?: number; healthCheckMs?: number } = {}): Instance {
    const transitions: BreakerTransition[] = [];
    const warnings: unknown[] = [];
    const store = new RedisBreakerStore({
      url,
      prefix,
      now: () => time,
      onError: (error) => warnings.push(error),
      ...options,
    });
    const breakers = new CircuitBreakers(config, {
      now: () => time,
      store,
      onTransition: (event) => transitions.push(event),
    });
    const instance = { breakers, store, transitions, warnings };
    instances.push(instance);
    return instance;
  }

  async function connected(instance: Instance): Promise<void> {
    await vi.waitFor(() => expect(instance.store.connected).toBe(true), delivery);
  }

  function fail(breakers: CircuitBreakers, times: number): void {
    for (let index = 0; index < times; index += 1) {
      const permit = breakers.tryAcquire(key);
      if (permit === undefined) throw new Error('breaker refused a request');
      breakers.release(key, permit, 'failure');
    }
  }

  function stateOf(breakers: CircuitBreakers): string {
    return breakers.snapshot().find((status) => status.key === key)?.state ?? 'closed';
  }

  beforeAll(() => {
    admin = new Redis(redisUrl);
  });
  afterEach(async () => {
    for (const instance of instances.splice(0)) await instance.breakers.close();
    await admin.del(`${prefix}states`);
  });
  afterAll(async () => {
    await admin.quit();
  });

  // Each test gets its own prefix and clock.
  function fresh(): void {
    prefix = `aihub-test:breaker:${randomUUID()}:`;
    time = 1_700_000_000_000;
  }

  it('tells the other instance when a breaker opens, half-opens, closes, and when a credential is disabled', async () => {
    fresh();
    const first = start();
    const second = start();
    await connected(first);
    await connected(second);

    fail(first.breakers, 3);
    expect(stateOf(first.breakers)).toBe('open');
    await vi.waitFor(() => expect(second.breakers.isAvailable(key)).toBe(false), delivery);
    expect(second.transitions).toEqual([
      { key, from: 'closed', to: 'open', reason: 'consecutive_failures', at: time, remote: true },
    ]);

    time += config.openMs;
    const probe = first.breakers.tryAcquire(key)!;
    expect(probe.probe).toBe(true);
    await vi.waitFor(() => expect(stateOf(second.breakers)).toBe('half-open'), delivery);
    first.breakers.release(key, probe, 'success');
    await vi.waitFor(() => expect(stateOf(second.breakers)).toBe('closed'), delivery);

    time += 1;
    second.breakers.disable(key, 'the upstream refused the credential (401)');
    await vi.waitFor(() => expect(stateOf(first.breakers)).toBe('disabled'), delivery);
    expect(first.transitions.at(-1)).toEqual({
      key,
      from: 'closed',
      to: 'disabled',
      reason: 'the upstream refused the credential (401)',
      at: time,
      remote: true,
    });

    time += 1;
    first.breakers.enable(key);
    await vi.waitFor(() => expect(second.breakers.isAvailable(key)).toBe(true), delivery);
    // Nobody heard its own transitions back, and nothing went wrong.
    expect(first.transitions.filter((event) => !event.remote).map((event) => event.to)).toEqual([
      'open',
      'half-open',
      'closed',
      'closed',
    ]);
    expect(second.transitions.filter((event) => !event.remote).map((event) => event.to)).toEqual(['disabled']);
    expect([...first.warnings, ...second.warnings]).toEqual([]);
  });

  it('gives an instance that starts later the states the others hold', async () => {
    fresh();
    const first = start();
    await connected(first);
    fail(first.breakers, 3);
    first.breakers.disable('deployment_2#credential_1', 'the upstream refused the credential (403)');
    await vi.waitFor(async () => expect(await admin.hlen(`${prefix}states`)).toBe(2), delivery);

    const later = start();
    await vi.waitFor(() => expect(later.breakers.snapshot()).toHaveLength(2), delivery);
    expect(later.breakers.isAvailable(key)).toBe(false);
    expect(later.breakers.snapshot().find((status) => status.key === 'deployment_2#credential_1')).toMatchObject({
      state: 'disabled',
      reason: 'the upstream refused the credential (403)',
    });
  });

  it('does not hand a starting instance an open state that has expired', async () => {
    fresh();
    const first = start();
    await connected(first);
    fail(first.breakers, 3);
    // Ten minutes (the default state TTL) later, another credential is disabled.
    time += 600_001;
    first.breakers.disable('deployment_2#credential_1', 'refused');
    await vi.waitFor(async () => expect(await admin.hlen(`${prefix}states`)).toBe(2), delivery);

    const later = start();
    // Both come in one load: once the fresh one is there, the expired one was left out.
    await vi.waitFor(() => expect(later.breakers.snapshot()).toHaveLength(1), delivery);
    expect(later.breakers.snapshot()[0]).toMatchObject({ key: 'deployment_2#credential_1', state: 'disabled' });
    expect(later.breakers.isAvailable(key)).toBe(true);
  });

  it('keeps routing on its own when Redis is unreachable, with one warning', async () => {
    fresh();
    const closedPort = await unusedPort();
    const instance = start(`redis://127.0.0.1:${closedPort}`);
    await vi.waitFor(() => expect(instance.warnings).toHaveLength(1), delivery);

    // Many requests, a breaker opening and a credential disabled: all decided locally, at once.
    for (let index = 0; index < 1000; index += 1) {
      const permit = instance.breakers.tryAcquire(key);
      expect(permit).toBeDefined();
      instance.breakers.release(key, permit!, 'success');
    }
    fail(instance.breakers, 3);
    expect(instance.breakers.isAvailable(key)).toBe(false);
    instance.breakers.disable('deployment_2#credential_1', 'refused');
    expect(instance.breakers.isAvailable('deployment_2#credential_1')).toBe(false);
    time += config.openMs;
    expect(instance.breakers.tryAcquire(key)?.probe).toBe(true);

    // The reconnection attempts go on in the background, failing without further warnings.
    await vi.waitFor(() => expect(instance.store.errorCount).toBeGreaterThanOrEqual(4), delivery);
    expect(instance.warnings).toHaveLength(1);
    expect(instance.store.connected).toBe(false);
  });

  it('shares the transitions made while Redis was away once it is back', async () => {
    fresh();
    const proxy = await TcpFaultProxy.start({ host: '127.0.0.1', port: 6379 });
    try {
      const cut = start(`redis://127.0.0.1:${proxy.port}`);
      const direct = start();
      await connected(cut);
      await connected(direct);

      proxy.setMode('reset');
      await vi.waitFor(() => expect(cut.store.connected).toBe(false), delivery);
      fail(cut.breakers, 3);
      expect(stateOf(cut.breakers)).toBe('open');
      await vi.waitFor(() => expect(cut.warnings).toHaveLength(1), delivery);
      // Meanwhile the other instance disables another credential, which the cut one cannot hear.
      direct.breakers.disable('deployment_2#credential_1', 'refused');

      proxy.setMode('forward');
      await vi.waitFor(() => expect(direct.breakers.isAvailable(key)).toBe(false), delivery);
      await vi.waitFor(() => expect(cut.breakers.isAvailable('deployment_2#credential_1')).toBe(false), delivery);
      expect(direct.transitions.find((event) => event.key === key)).toMatchObject({ to: 'open', remote: true });
    } finally {
      await proxy.close();
    }
  });

  it('does not let a transition replayed late undo a newer one made elsewhere', async () => {
    fresh();
    const proxy = await TcpFaultProxy.start({ host: '127.0.0.1', port: 6379 });
    try {
      const cut = start(`redis://127.0.0.1:${proxy.port}`);
      const direct = start();
      await connected(cut);
      await connected(direct);

      proxy.setMode('reset');
      await vi.waitFor(() => expect(cut.store.connected).toBe(false), delivery);
      fail(cut.breakers, 3);
      // Later, the other instance opens, probes and closes the same breaker.
      time += 1000;
      fail(direct.breakers, 3);
      time += config.openMs;
      const probe = direct.breakers.tryAcquire(key)!;
      direct.breakers.release(key, probe, 'success');
      await vi.waitFor(
        async () => expect(await admin.hget(`${prefix}states`, key)).toContain('"state":"closed"'),
        delivery,
      );

      proxy.setMode('forward');
      await connected(cut);
      // The cut instance's old "open" is refused by Redis, and it takes the newer "closed" instead.
      await vi.waitFor(() => expect(stateOf(cut.breakers)).toBe('closed'), delivery);
      expect(await admin.hget(`${prefix}states`, key)).toContain('"state":"closed"');
      expect(stateOf(direct.breakers)).toBe('closed');
    } finally {
      await proxy.close();
    }
  });

  it('ignores unreadable states on the channel and in the hash, and survives a listener that throws', async () => {
    fresh();
    await admin.hset(`${prefix}states`, 'garbage', 'not json', 'number', '42', 'partial', '{"origin":"x","key":"k"}');
    const warnings: unknown[] = [];
    const store = new RedisBreakerStore({ url: redisUrl, prefix, now: () => time, onError: (e) => warnings.push(e) });
    const listener = new CircuitBreakers(config, {
      now: () => time,
      store,
      onTransition: () => {
        throw new Error('listener failed');
      },
    });
    instances.push({ breakers: listener, store, transitions: [], warnings });
    await vi.waitFor(() => expect(store.connected).toBe(true), delivery);
    const channel = `${prefix}transitions`;
    for (const message of ['not json', 'null', '{"origin":"x","key":"k","state":"melted","since":1,"reason":"r"}']) {
      await admin.publish(channel, message);
    }
    const other = start();
    await connected(other);
    fail(other.breakers, 3);

    await vi.waitFor(() => expect(warnings).toHaveLength(1), delivery);
    expect(String(warnings[0])).toContain('listener failed');
    // The state was taken before the listener threw; nothing unreadable was.
    expect(listener.isAvailable(key)).toBe(false);
    expect(listener.snapshot().map((status) => status.key)).toEqual([key]);
  });

  it('warns once when the shared state in Redis is not what it expects', async () => {
    fresh();
    await admin.set(`${prefix}states`, 'not a hash');
    const instance = start();
    await vi.waitFor(() => expect(instance.warnings).toHaveLength(1), delivery);
    expect(String(instance.warnings[0])).toMatch(/WRONGTYPE/);
    fail(instance.breakers, 3);
    await vi.waitFor(() => expect(instance.store.errorCount).toBe(2), delivery);
    expect(instance.warnings).toHaveLength(1);
    expect(instance.breakers.isAvailable(key)).toBe(false);
  });

  it('does nothing before it is started or after it is closed', async () => {
    const store = new RedisBreakerStore({ url: redisUrl });
    store.publish({ key, state: 'open', since: 1, reason: 'consecutive_failures' });
    await store.close();
    store.start(() => {});
    store.publish({ key, state: 'open', since: 1, reason: 'consecutive_failures' });
    expect(store.connected).toBe(false);
    expect(store.errorCount).toBe(0);
  });

  it('keeps routing when Redis accepts connections but never answers', async () => {
    fresh();
    const proxy = await TcpFaultProxy.start({ host: '127.0.0.1', port: 6379 });
    try {
      const hung = start(`redis://127.0.0.1:${proxy.port}`, { commandTimeoutMs: 200 });
      await connected(hung);
      proxy.setMode('blackhole');
      fail(hung.breakers, 3);
      expect(hung.breakers.isAvailable(key)).toBe(false);
      // The publication times out instead of waiting forever, with one warning.
      await vi.waitFor(() => expect(hung.warnings).toHaveLength(1), delivery);
      expect(String(hung.warnings[0])).toMatch(/timed out/i);
    } finally {
      await proxy.close();
    }
  });

  it('drops a connection that went silent and shares again once Redis answers', async () => {
    fresh();
    const proxy = await TcpFaultProxy.start({ host: '127.0.0.1', port: 6379 });
    try {
      const silent = start(`redis://127.0.0.1:${proxy.port}`, { commandTimeoutMs: 100, healthCheckMs: 50 });
      const direct = start();
      await connected(silent);
      await connected(direct);

      // No reset, no error: only the health check's unanswered ping shows the link is dead.
      proxy.setMode('blackhole');
      await vi.waitFor(() => expect(silent.store.connected).toBe(false), delivery);
      expect(String(silent.warnings[0])).toMatch(/timed out/i);
      direct.breakers.disable(key, 'refused');

      proxy.setMode('forward');
      await vi.waitFor(() => expect(silent.breakers.isAvailable(key)).toBe(false), delivery);
    } finally {
      await proxy.close();
    }
  });
});

async function unusedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}
