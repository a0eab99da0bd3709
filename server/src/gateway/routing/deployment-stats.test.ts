import { describe, expect, it } from 'vitest';
import { DeploymentStats } from './deployment-stats.ts';

function setup(options: { windowMs?: number; ewmaAlpha?: number; sampleTtlMs?: number } = {}) {
  let time = 1_000_000;
  const stats = new DeploymentStats({ now: () => time, ...options });
  return { stats, advance: (ms: number) => (time += ms) };
}

describe('DeploymentStats', () => {
  it('counts requests in flight per deployment, never below zero', () => {
    const { stats } = setup();
    stats.begin('a');
    stats.begin('a');
    stats.begin('b');
    expect(stats.inFlight('a')).toBe(2);
    expect(stats.inFlight('b')).toBe(1);
    expect(stats.inFlight('c')).toBe(0);
    stats.end('a', { ok: true, latencyMs: 10 });
    expect(stats.inFlight('a')).toBe(1);
    stats.end('c', { ok: false, latencyMs: 10 });
    expect(stats.inFlight('c')).toBe(0);
  });

  it('has no first-byte average for a deployment never measured, so it gets tried', () => {
    const { stats } = setup();
    expect(stats.ewmaFirstByteMs('a')).toBeUndefined();
    stats.begin('a');
    stats.end('a', { ok: false, latencyMs: 30 });
    expect(stats.ewmaFirstByteMs('a')).toBeUndefined();
  });

  it('keeps a moving average of time to first byte', () => {
    const { stats } = setup({ ewmaAlpha: 0.5 });
    stats.end('a', { ok: true, firstByteMs: 100, latencyMs: 400 });
    expect(stats.ewmaFirstByteMs('a')).toBe(100);
    stats.end('a', { ok: true, firstByteMs: 300, latencyMs: 400 });
    expect(stats.ewmaFirstByteMs('a')).toBe(200);
    stats.end('a', { ok: false, firstByteMs: 200, latencyMs: 400 });
    expect(stats.ewmaFirstByteMs('a')).toBe(200);
    // Unusable samples are skipped.
    stats.end('a', { ok: true, firstByteMs: Number.NaN, latencyMs: 400 });
    stats.end('a', { ok: true, firstByteMs: -1, latencyMs: 400 });
    expect(stats.ewmaFirstByteMs('a')).toBe(200);
  });

  it('forgets an average that went stale, and starts again from the next sample', () => {
    const { stats, advance } = setup({ ewmaAlpha: 0.5, sampleTtlMs: 60_000 });
    stats.end('a', { ok: true, firstByteMs: 5000, latencyMs: 6000 });
    advance(60_000);
    expect(stats.ewmaFirstByteMs('a')).toBe(5000);
    advance(1);
    expect(stats.ewmaFirstByteMs('a')).toBeUndefined();
    stats.end('a', { ok: true, firstByteMs: 100, latencyMs: 200 });
    expect(stats.ewmaFirstByteMs('a')).toBe(100);
  });

  it('reports success rate and latency percentiles over the window', () => {
    const { stats, advance } = setup({ windowMs: 10_000 });
    expect(stats.snapshot()).toEqual([]);
    // 90 fast successes (~40 ms), 10 slow ones (~1200 ms), 25 failures.
    for (let index = 0; index < 90; index += 1) stats.end('a', { ok: true, firstByteMs: 20, latencyMs: 40 });
    for (let index = 0; index < 10; index += 1) stats.end('a', { ok: true, latencyMs: 1200 });
    for (let index = 0; index < 25; index += 1) stats.end('a', { ok: false, latencyMs: 5 });
    stats.begin('a');

    const [snapshot] = stats.snapshot();
    expect(snapshot).toMatchObject({ key: 'a', inFlight: 1, ewmaFirstByteMs: 20, requests: 125, failures: 25 });
    expect(snapshot?.successRate).toBeCloseTo(0.8);
    // The 50th of 100 is in the 25–50 ms bin; the 95th in the 1000–1500 ms bin.
    expect(snapshot?.p50LatencyMs).toBeGreaterThan(25);
    expect(snapshot?.p50LatencyMs).toBeLessThanOrEqual(50);
    expect(snapshot?.p95LatencyMs).toBeGreaterThan(1000);
    expect(snapshot?.p95LatencyMs).toBeLessThanOrEqual(1500);

    advance(10_000);
    expect(stats.snapshot()[0]).toMatchObject({
      requests: 0,
      failures: 0,
      successRate: null,
      p50LatencyMs: null,
      p95LatencyMs: null,
    });
  });

  it('puts very fast and very slow answers in the end bins', () => {
    const { stats } = setup();
    stats.end('a', { ok: true, latencyMs: 1 });
    expect(stats.snapshot()[0]).toMatchObject({ p50LatencyMs: 25, p95LatencyMs: 25 });
    stats.end('b', { ok: true, latencyMs: 900_000 });
    expect(stats.snapshot()[1]).toMatchObject({ p50LatencyMs: 300_000, p95LatencyMs: 300_000 });
  });

  it('forgets deployments that left the registry', () => {
    const { stats } = setup();
    stats.begin('a');
    stats.begin('b');
    stats.forget(new Set(['b']));
    expect(stats.snapshot().map((snapshot) => snapshot.key)).toEqual(['b']);
    expect(stats.inFlight('a')).toBe(0);
  });

  it('works on the wall clock by default', () => {
    const stats = new DeploymentStats();
    stats.end('a', { ok: true, firstByteMs: 10, latencyMs: 10 });
    expect(stats.ewmaFirstByteMs('a')).toBe(10);
  });
});
