import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/file-schema.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { attemptsDistribution, runWithConcurrency, seededRandom, sendChat } from '../support/chat-load.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const requestCount = 2_000;
const concurrency = 32;
const model = 'chaos-chat';
/** Every failure the flaky deployment serves, in equal shares, to 30 % of the requests it gets. */
const failMix = '500:1,429:1,reset:1,timeout:1,abort-before-first-chunk:1';
const injectedModes = ['500', '429', 'reset', 'timeout', 'abort-before-first-chunk'] as const;

/**
 * Two provider entries on one mock: `steady` answers everything, `flaky` sends the mock's failure headers so its
 * deployment alone fails. A short time-to-first-byte makes a `timeout` cost 300 ms instead of minutes. The breaker is
 * set so the flaky deployment stays in rotation for the whole run (the breaker has its own test), and so is its
 * credential after a 429: every request keeps a chance to meet a failure.
 */
function chaosConfig(upstreamUrl: string): ConfigFile {
  return {
    providers: [
      { id: 'steady', type: 'openai-compatible', base_url: upstreamUrl },
      {
        id: 'flaky',
        type: 'openai-compatible',
        base_url: upstreamUrl,
        headers: { 'x-mock-fail-mix': failMix, 'x-mock-fail-rate': '0.3', 'x-mock-retry-after': '1' },
      },
    ],
    models: [
      {
        name: model,
        pricing: { input: '1.00', output: '2.00' },
        deployments: [
          { provider: 'steady', model: 'mock-gpt' },
          { provider: 'flaky', model: 'mock-gpt', timeouts: { first_byte_ms: 300 } },
        ],
      },
    ],
    routing: {
      breaker: { consecutive_failures: 1000, failure_rate: 1, minimum_requests: 100_000 },
      // Honouring each 429's Retry-After by resting the flaky credential would take it out of rotation for a second
      // after every 429, and most of the run would meet no failure at all.
      respect_upstream_limits: false,
    },
  };
}

describe('routing through a deployment that fails 30 % of the time', () => {
  let testApp: TestApp;
  let origin: string;

  beforeAll(async () => {
    testApp = await startTestApp({ configFile: chaosConfig, upstream: { random: seededRandom(20_261_201) } });
    origin = await listenOnLoopback(testApp.instance.app);
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('answers at least 99.9 % of 2,000 clients (half streamed) completely, with one usage record each', async () => {
    testApp.upstream.resetStats();
    const outcomes = await runWithConcurrency(requestCount, concurrency, (index) =>
      sendChat({ origin, key: testApp.key, model, stream: index % 2 === 1 }),
    );

    const succeeded = outcomes.filter((outcome) => outcome.ok);
    const failed = outcomes.filter((outcome) => !outcome.ok);
    expect(succeeded.length / requestCount, JSON.stringify(failed.slice(0, 5))).toBeGreaterThanOrEqual(0.999);
    expect(succeeded.filter((outcome) => outcome.streamed).length).toBeGreaterThanOrEqual(requestCount / 2 - 2);

    // The failures really reached the gateway, every kind of them.
    const stats = testApp.upstream.stats();
    for (const mode of injectedModes) expect(stats.failures[mode], `injected ${mode}`).toBeGreaterThan(0);
    // About 30 % of the half of first attempts the flaky deployment gets: some 300.
    expect(stats.failed).toBeGreaterThan(requestCount * 0.05);
    expect(stats.rejected).toBe(0);

    // Retries made up for them: within the attempt budget, and every upstream call is one attempt of one request.
    const distribution = attemptsDistribution(succeeded);
    expect(Object.keys(distribution).map(Number).sort()).toEqual(expect.arrayContaining([1, 2]));
    expect(Math.max(...succeeded.map((outcome) => outcome.attempts))).toBeLessThanOrEqual(3);
    expect(Math.min(...succeeded.map((outcome) => outcome.attempts))).toBe(1);
    const attemptsMade = succeeded.reduce((sum, outcome) => sum + outcome.attempts, 0);
    if (failed.length === 0) {
      expect(stats.requests).toBe(attemptsMade);
      expect(stats.ok).toBe(requestCount);
    } else {
      expect(stats.requests).toBeGreaterThanOrEqual(attemptsMade);
    }
    // A retried request was answered by the deployment that does not fail.
    for (const outcome of succeeded.filter((each) => each.attempts > 1)) {
      expect(outcome.deployment).toBe('steady/mock-gpt');
    }

    // Exactly one usage record per client request, failed ones included.
    await testApp.instance.services.gateway.journal.flush();
    const rows = await testApp.instance.services.database.db
      .selectFrom('usage_records')
      .select(['request_id'])
      .execute();
    const recordsPerRequest = new Map<string, number>();
    for (const row of rows) recordsPerRequest.set(row.request_id, (recordsPerRequest.get(row.request_id) ?? 0) + 1);
    const requestIds = outcomes.map((outcome) => outcome.requestId);
    expect(requestIds.every((id) => id !== undefined)).toBe(true);
    expect(new Set(requestIds).size).toBe(requestCount);
    expect(rows).toHaveLength(requestCount);
    expect(requestIds.filter((id) => recordsPerRequest.get(id!) !== 1)).toEqual([]);

    console.info(
      `routing chaos: ${succeeded.length}/${requestCount} complete; attempts ${JSON.stringify(distribution)}; ` +
        `upstream ${JSON.stringify({ requests: stats.requests, ok: stats.ok, failures: stats.failures })}`,
    );
  }, 60_000);
});

describe('routing through the same chaos while upstream rate limits are respected (the default)', () => {
  const graceMs = 100;
  const limitedCount = 1_500;
  let testApp: TestApp;
  let origin: string;

  beforeAll(async () => {
    const withLimits = (upstreamUrl: string): ConfigFile => {
      const file = chaosConfig(upstreamUrl);
      return { ...file, routing: { ...file.routing, respect_upstream_limits: true } };
    };
    testApp = await startTestApp({
      configFile: withLimits,
      upstream: { random: seededRandom(7), recordRequests: 5_000 },
    });
    origin = await listenOnLoopback(testApp.instance.app);
  });
  afterAll(async () => {
    await testApp.close();
  });

  it("rests the flaky credential for a 429's Retry-After, and every client still gets its answer", async () => {
    testApp.upstream.clearRequests();
    const outcomes = await runWithConcurrency(limitedCount, 8, (index) =>
      sendChat({ origin, key: testApp.key, model, stream: index % 2 === 1 }),
    );
    const finishedAt = Date.now();
    expect(outcomes.filter((outcome) => outcome.ok).length / limitedCount).toBeGreaterThanOrEqual(0.999);

    const flaky = testApp.upstream.requests.filter((request) => request.headers['x-mock-fail-mix'] !== undefined);
    const rateLimited = flaky.filter((request) => request.outcome === '429');
    expect(rateLimited.length).toBeGreaterThan(0);
    // Requests already on their way when the 429 came back may still arrive just after it; none is sent later
    // until the Retry-After (1 s) has passed.
    for (const limited of rateLimited) {
      const during = flaky.filter(
        (request) =>
          request.receivedAt > limited.receivedAt + graceMs && request.receivedAt < limited.receivedAt + 1_000,
      );
      expect(during, `flaky requests while resting from the 429 at ${limited.receivedAt}`).toEqual([]);
    }
    // And it comes back into rotation afterwards (when the run lasted long enough to see it).
    const firstLimited = rateLimited[0]!.receivedAt;
    if (finishedAt > firstLimited + 1_500) {
      expect(flaky.some((request) => request.receivedAt >= firstLimited + 1_000)).toBe(true);
    }
    console.info(
      `routing chaos with limits respected: ${outcomes.filter((outcome) => outcome.ok).length}/${limitedCount} complete; ` +
        `flaky deployment got ${flaky.length} requests, ${rateLimited.length} of them answered 429`,
    );
  }, 60_000);
});
