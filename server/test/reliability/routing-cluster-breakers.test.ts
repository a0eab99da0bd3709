import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.ts';
import type { ConfigFile } from '../../src/config/file-schema.ts';
import { callApi } from '../api/tenancy-support.ts';
import { createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const redisUrl = 'redis://127.0.0.1:6379';

/**
 * Cluster mode as an operator runs it: two AI Hub instances with REDIS_URL set. A deployment that keeps failing opens
 * its breaker on the instance that saw the failures, and the other instance stops sending it traffic too.
 */
describe('circuit breakers shared between instances through Redis', () => {
  // A provider id of its own per run, so breaker states of earlier runs (kept in Redis for minutes) never apply.
  const providerId = `flaky-${randomBytes(4).toString('hex')}`;
  const configFile = (upstreamUrl: string): ConfigFile => ({
    providers: [
      { id: providerId, type: 'openai-compatible', base_url: upstreamUrl },
      { id: 'steady', type: 'openai-compatible', base_url: upstreamUrl, headers: { 'x-mock-fail': 'none' } },
    ],
    models: [
      {
        name: 'shared',
        pricing: { input: '1' },
        retry: { max_attempts: 1 },
        deployments: [
          { provider: providerId, model: 'mock-gpt', priority: 1 },
          { provider: 'steady', model: 'mock-gpt', priority: 2 },
        ],
      },
    ],
    routing: { breaker: { consecutive_failures: 3, open_ms: 60_000 } },
  });
  const clusterMode = { operations: { redisUrl } } as unknown as Partial<Config>;
  let first: TestApp;
  let second: TestApp;
  let firstAdmin: SignedInUser;
  let secondAdmin: SignedInUser;

  beforeAll(async () => {
    first = await startTestApp({ configFile, overrides: clusterMode });
    second = await startTestApp({ configFile, overrides: clusterMode });
    firstAdmin = await createSignedInUser(first, { platformRole: 'admin' });
    secondAdmin = await createSignedInUser(second, { platformRole: 'admin' });
  });
  afterAll(async () => {
    await first.close();
    await second.close();
  });

  const breakerState = async (app: TestApp, admin: SignedInUser): Promise<string | undefined> => {
    const view = await callApi(app, admin, 'GET', '/api/v1/routing/deployments');
    const deployments = view.json<{ data: Array<{ id: string; credentials: Array<{ state: string }> }> }>().data;
    return deployments.find((deployment) => deployment.id === `${providerId}/mock-gpt`)?.credentials[0]?.state;
  };

  it('opens on one instance and the other follows within two seconds', async () => {
    first.upstream.setOptions({ failMode: '500' });
    for (let index = 0; index < 3; index += 1) {
      const response = await first.instance.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: first.headers(),
        payload: { model: 'shared', messages: [{ role: 'user', content: 'hi' }] },
      });
      expect(response.statusCode).toBe(502);
    }
    expect(await breakerState(first, firstAdmin)).toBe('open');

    const deadline = Date.now() + 2000;
    let state = await breakerState(second, secondAdmin);
    while (state !== 'open' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = await breakerState(second, secondAdmin);
    }
    expect(state).toBe('open');
    // The second instance sends its traffic to tier 2 at once, without trying the failing deployment.
    second.upstream.clearRequests();
    const routed = await second.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: second.headers(),
      payload: { model: 'shared', messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(routed.statusCode).toBe(200);
    expect(routed.headers['x-aihub-deployment']).toBe('steady/mock-gpt');
    expect(routed.headers['x-aihub-attempts']).toBe('1');
    expect(second.upstream.requests).toHaveLength(1);
  });
});
