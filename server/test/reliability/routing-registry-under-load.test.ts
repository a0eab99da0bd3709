import { startMockUpstream, type MockUpstreamHandle } from '@aihub/mock-upstream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AppInstance } from '../../src/http/create-app.ts';
import { createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { attemptsDistribution, sendChat, type ChatOutcome } from '../support/chat-load.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { startSecondInstance } from '../support/second-instance.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';

const clients = 16;
const model = 'db-chat';

interface Load {
  readonly outcomes: ChatOutcome[];
  stop(): Promise<void>;
}

/** `clients` loops sending chat requests (every other one streamed) to the origins in turn until stopped. */
function startLoad(origins: readonly string[], key: string): Load {
  const outcomes: ChatOutcome[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, client) => {
    for (let turn = 0; running; turn += 1) {
      const origin = origins[(client + turn) % origins.length]!;
      outcomes.push(await sendChat({ origin, key, model, stream: (client + turn) % 2 === 1 }));
    }
  });
  return {
    outcomes,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Registry edits made through the platform API while clients keep calling the model they change: every instance on
 * the database picks each edit up from the registry epoch within two poll intervals, and requests routed by the old
 * table finish on it, so no client sees a failure.
 */
describe.each(testEngines)('editing the database registry under load on %s', (engine) => {
  let testApp: TestApp;
  let otherUpstream: MockUpstreamHandle;
  let secondInstance: AppInstance;
  let origins: string[];
  let admin: SignedInUser;
  /** Each edit must show within two registry polls (1 s each by default) on every instance. */
  let effectTimeoutMs: number;
  const delays: Record<string, number[]> = {};

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    otherUpstream = await startMockUpstream();
    secondInstance = await startSecondInstance(testApp);
    origins = [await listenOnLoopback(testApp.instance.app), await listenOnLoopback(secondInstance.app)];
    admin = await createSignedInUser(testApp, { platformRole: 'admin' });
    effectTimeoutMs = 2 * testApp.config.routing.registryPollMs;
  });
  afterAll(async () => {
    await secondInstance.close();
    await testApp.close();
    await otherUpstream.close();
  });

  async function manage(method: 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown): Promise<void> {
    const response = await testApp.instance.app.inject({
      method,
      url,
      headers: {
        authorization: admin.headers.authorization ?? '',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    expect(response.statusCode, `${method} ${url}: ${response.body}`).toBeLessThan(300);
  }

  /** Waits until `check` holds on every instance (at most `effectTimeoutMs`) and notes how long it took. */
  async function expectOnEveryInstance(change: string, check: (origin: string) => Promise<boolean>): Promise<void> {
    const startedAt = performance.now();
    for (const origin of origins) {
      await vi.waitFor(
        async () => {
          if (!(await check(origin))) throw new Error(`${change}: not in effect yet at ${origin}`);
        },
        { timeout: Math.max(1, effectTimeoutMs - (performance.now() - startedAt)), interval: 20 },
      );
    }
    (delays[change] ??= []).push(Math.round(performance.now() - startedAt));
  }

  /** Eight requests to `name` through `origin`, every one answered by one of `deployments`. */
  async function answeredBy(origin: string, name: string, deployments: readonly string[]): Promise<boolean> {
    for (let index = 0; index < 8; index += 1) {
      const outcome = await sendChat({ origin, key: testApp.key, model: name, stream: false });
      if (!outcome.ok || outcome.deployment === undefined || !deployments.includes(outcome.deployment)) return false;
    }
    return true;
  }

  /** Whether one of 16 requests to the model through `origin` is answered by `deployment` (a share of the traffic). */
  async function reaches(origin: string, deployment: string): Promise<boolean> {
    for (let index = 0; index < 16; index += 1) {
      const outcome = await sendChat({ origin, key: testApp.key, model, stream: false });
      if (outcome.ok && outcome.deployment === deployment) return true;
    }
    return false;
  }

  it('keeps every request answered while deployments, weights, aliases and providers change', async () => {
    const base = testApp.upstream.url;
    await manage('POST', '/api/v1/providers', { id: 'alpha', type: 'openai-compatible', base_url: base });
    await manage('POST', '/api/v1/providers', { id: 'beta', type: 'openai-compatible', base_url: base });
    await manage('POST', '/api/v1/models', {
      name: model,
      pricing: { input: '1.00', output: '2.00' },
      deployments: [{ provider: 'alpha', model: 'mock-gpt' }],
    });
    await expectOnEveryInstance('model created', (origin) => answeredBy(origin, model, ['alpha/mock-gpt']));

    const load = startLoad(origins, testApp.key);
    try {
      // A second deployment takes its share.
      await manage('PATCH', `/api/v1/models/${model}`, {
        deployments: [
          { provider: 'alpha', model: 'mock-gpt' },
          { provider: 'beta', model: 'mock-gpt' },
        ],
      });
      await expectOnEveryInstance('deployment added', (origin) => reaches(origin, 'beta/mock-gpt'));

      // Weights: all traffic to beta.
      await manage('PATCH', `/api/v1/models/${model}`, {
        deployments: [
          { provider: 'alpha', model: 'mock-gpt', weight: 0 },
          { provider: 'beta', model: 'mock-gpt', weight: 5 },
        ],
      });
      await expectOnEveryInstance('weights changed', (origin) => answeredBy(origin, model, ['beta/mock-gpt']));

      // A new alias answers.
      await manage('PATCH', `/api/v1/models/${model}`, { aliases: ['db-alias'] });
      await expectOnEveryInstance('alias added', (origin) => answeredBy(origin, 'db-alias', ['beta/mock-gpt']));

      // Back to both, then one removed (never the last).
      await manage('PATCH', `/api/v1/models/${model}`, {
        deployments: [
          { provider: 'alpha', model: 'mock-gpt', weight: 1 },
          { provider: 'beta', model: 'mock-gpt', weight: 1 },
        ],
      });
      await expectOnEveryInstance('weights restored', (origin) => reaches(origin, 'alpha/mock-gpt'));
      await manage('PATCH', `/api/v1/models/${model}`, { deployments: [{ provider: 'beta', model: 'mock-gpt' }] });
      await expectOnEveryInstance('deployment removed', (origin) => answeredBy(origin, model, ['beta/mock-gpt']));

      // Providers swapped: the model moves to a provider on another upstream, and the old ones are deleted.
      await manage('POST', '/api/v1/providers', {
        id: 'gamma',
        type: 'openai-compatible',
        base_url: otherUpstream.url,
      });
      await manage('PATCH', `/api/v1/models/${model}`, { deployments: [{ provider: 'gamma', model: 'mock-gpt' }] });
      await expectOnEveryInstance('provider swapped', (origin) => answeredBy(origin, model, ['gamma/mock-gpt']));
      await manage('DELETE', '/api/v1/providers/alpha');
      await manage('DELETE', '/api/v1/providers/beta');
      await expectOnEveryInstance('answered after the old providers were deleted', (origin) =>
        answeredBy(origin, model, ['gamma/mock-gpt']),
      );
    } finally {
      await load.stop();
    }

    const failed = load.outcomes.filter((outcome) => !outcome.ok);
    expect(failed.map((outcome) => `${outcome.status} ${outcome.problem ?? ''}`)).toEqual([]);
    expect(load.outcomes.every((outcome) => outcome.status === 200)).toBe(true);
    const byDeployment: Record<string, number> = {};
    for (const outcome of load.outcomes) {
      const deployment = outcome.deployment ?? 'none';
      byDeployment[deployment] = (byDeployment[deployment] ?? 0) + 1;
    }
    // Traffic really moved through every stage.
    expect(Object.keys(byDeployment).sort()).toEqual(['alpha/mock-gpt', 'beta/mock-gpt', 'gamma/mock-gpt']);
    expect(otherUpstream.stats().ok).toBeGreaterThan(0);
    console.info(
      `registry under load on ${engine}: ${load.outcomes.length} requests, all 200 and complete; by deployment ` +
        `${JSON.stringify(byDeployment)}; attempts ${JSON.stringify(attemptsDistribution(load.outcomes))}; ` +
        `ms until each change showed on both instances ${JSON.stringify(delays)}`,
    );
  }, 60_000);
});
