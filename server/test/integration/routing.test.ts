import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/file-schema.ts';
import { createKeyAs } from '../api/keys-support.ts';
import { callApi } from '../api/tenancy-support.ts';
import { createOrganization, createSignedInUser, type SignedInUser } from '../support/api-users.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { fetchStream, parseSseData, streamedChatText } from '../support/server-sent-events.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { flushAndFindOnlyRecord } from '../support/usage-records.ts';

/**
 * Routing end to end: two providers point at one mock upstream, and provider headers make one of them misbehave, so
 * each test decides which deployment fails and how.
 */
function routingConfig(upstreamUrl: string): ConfigFile {
  const failing = (mode: string) => ({
    type: 'openai-compatible' as const,
    base_url: upstreamUrl,
    headers: { 'x-mock-fail': mode },
  });
  return {
    providers: [
      { id: 'healthy', type: 'openai-compatible', base_url: upstreamUrl },
      { id: 'other', type: 'openai-compatible', base_url: upstreamUrl },
      { id: 'broken', ...failing('500') },
      { id: 'stream-dies', ...failing('abort-before-first-chunk') },
      { id: 'mid-stream', ...failing('abort-mid-stream') },
      { id: 'slow', type: 'openai-compatible', base_url: upstreamUrl, headers: { 'x-mock-latency-ms': '2000' } },
    ],
    models: [
      {
        name: 'tiers',
        pricing: { input: '1', output: '2' },
        deployments: [
          { provider: 'broken', model: 'mock-gpt', priority: 1 },
          { provider: 'healthy', model: 'mock-gpt', priority: 2 },
        ],
      },
      {
        name: 'stream-retry',
        pricing: { input: '1', output: '2' },
        deployments: [
          { provider: 'stream-dies', model: 'mock-gpt', priority: 1 },
          { provider: 'healthy', model: 'mock-gpt', priority: 2 },
        ],
      },
      {
        name: 'no-retry-after-first-byte',
        pricing: { input: '1', output: '2' },
        deployments: [
          { provider: 'mid-stream', model: 'mock-gpt', priority: 1 },
          { provider: 'healthy', model: 'mock-gpt', priority: 2 },
        ],
      },
      {
        name: 'timeouts',
        pricing: { input: '1', output: '2' },
        deployments: [
          { provider: 'slow', model: 'mock-gpt', priority: 1, timeouts: { first_byte_ms: 150 } },
          { provider: 'healthy', model: 'mock-gpt', priority: 2 },
        ],
      },
      {
        name: 'all-broken',
        pricing: { input: '1' },
        retry: { max_attempts: 3, backoff_base_ms: 1, backoff_max_ms: 5 },
        deployments: [{ provider: 'broken', model: 'mock-gpt' }],
      },
      {
        name: 'only-healthy',
        deployments: [{ provider: 'healthy', model: 'mock-gpt' }],
      },
      {
        name: 'only-other',
        pricing: { input: '1', output: '2' },
        deployments: [{ provider: 'other', model: 'mock-gpt' }],
      },
      {
        name: 'embed',
        kind: 'embedding',
        pricing: { input: '0.1' },
        deployments: [
          { provider: 'broken', model: 'mock-embed', priority: 1 },
          { provider: 'healthy', model: 'mock-embed', priority: 2 },
        ],
      },
    ],
    routing: { breaker: { consecutive_failures: 1000, minimum_requests: 100_000 } },
  };
}

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hello there' }] });

describe('routing through the gateway', () => {
  let testApp: TestApp;
  let origin: string;
  beforeAll(async () => {
    testApp = await startTestApp({ configFile: routingConfig });
    origin = await listenOnLoopback(testApp.instance.app);
  });
  afterAll(async () => {
    await testApp.close();
  });

  const post = (url: string, payload: Record<string, unknown>, headers = testApp.headers()) =>
    testApp.instance.app.inject({ method: 'POST', url, headers, payload });

  it('answers from tier 2 when tier 1 fails, and says which deployment answered after how many attempts', async () => {
    const response = await post('/v1/chat/completions', chat('tiers'));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['x-aihub-deployment']).toBe('healthy/mock-gpt');
    expect(response.headers['x-aihub-attempts']).toBe('2');
    const overhead = Number(response.headers['x-aihub-overhead-ms']);
    expect(Number.isFinite(overhead) && overhead >= 0).toBe(true);
    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record).toMatchObject({ outcome: 'success', provider_id: 'healthy', model: 'tiers' });
    expect(record.cost_micros).toBeGreaterThan(0);
  });

  it('answers 503 listing the attempts when every one failed, and says how many were made', async () => {
    const response = await post('/v1/chat/completions', chat('all-broken'));
    expect(response.statusCode).toBe(503);
    expect(response.headers['x-aihub-attempts']).toBe('3');
    const message = response.json<{ error: { message: string; code: string } }>().error.message;
    expect(message).toContain('attempts: broken/mock-gpt: upstream_error:500, broken/mock-gpt: upstream_error:500');
    expect(response.json()).toMatchObject({ error: { code: 'upstream_unavailable' } });
    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record).toMatchObject({ outcome: 'upstream_error', status: 503, provider_id: 'broken' });
  });

  it('retries embeddings the same way', async () => {
    const response = await post('/v1/embeddings', { model: 'embed', input: 'hello' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['x-aihub-deployment']).toBe('healthy/mock-embed');
    expect(response.headers['x-aihub-attempts']).toBe('2');
  });

  it('retries a stream that fails before its first event, so the client sees one clean stream', async () => {
    const { response, text } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
      ...chat('stream-retry'),
      stream: true,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-aihub-deployment')).toBe('healthy/mock-gpt');
    expect(response.headers.get('x-aihub-attempts')).toBe('2');
    const events = parseSseData(text);
    expect(events.at(-1)).toBe('[DONE]');
    expect(streamedChatText(events).length).toBeGreaterThan(0);
    expect(events.filter((event) => event.includes('"error"'))).toEqual([]);
  });

  it('never retries once the first bytes reached the client: the stream ends with an error event', async () => {
    testApp.upstream.clearRequests();
    const { response, text } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
      ...chat('no-retry-after-first-byte'),
      stream: true,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-aihub-attempts')).toBe('1');
    expect(text).toContain('"error"');
    expect(parseSseData(text)).not.toContain('[DONE]');
    expect(testApp.upstream.requests).toHaveLength(1);
  });

  it("moves on when a deployment's time to first byte passes its own timeout", async () => {
    const startedAt = Date.now();
    const response = await post('/v1/chat/completions', chat('timeouts'));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['x-aihub-deployment']).toBe('healthy/mock-gpt');
    expect(response.headers['x-aihub-attempts']).toBe('2');
    // The slow deployment answers after 2 s; being cut at 150 ms is what lets the request finish well before that.
    expect(Date.now() - startedAt).toBeLessThan(2000);
  });

  it('shows the deployments and their breakers to platform admins only', async () => {
    const admin = await createSignedInUser(testApp, { platformRole: 'admin' });
    const member = await createSignedInUser(testApp);
    const view = await callApi(testApp, admin, 'GET', '/api/v1/routing/deployments');
    expect(view.statusCode).toBe(200);
    const deployments = view.json<{ data: Array<Record<string, unknown>> }>().data;
    const broken = deployments.find((deployment) => deployment.id === 'broken/mock-gpt');
    expect(broken).toMatchObject({
      provider_id: 'broken',
      models: ['tiers', 'all-broken'],
      priority: 1,
      credentials: [expect.objectContaining({ credential_id: 'default', state: 'closed' })],
    });
    expect(broken?.failures).toBeGreaterThan(0);
    expect((await callApi(testApp, member, 'GET', '/api/v1/routing/deployments')).statusCode).toBe(403);
    const unknown = await callApi(testApp, admin, 'POST', '/api/v1/routing/credentials/enable', {
      body: { deployment_id: 'nowhere/x', credential_id: 'default' },
    });
    expect(unknown.statusCode).toBe(404);
  });
});

describe('a credential the upstream refuses', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({
      upstream: { apiKey: 'sk-right' },
      configFile: (upstreamUrl) => ({
        providers: [
          {
            id: 'pool',
            type: 'openai-compatible',
            base_url: upstreamUrl,
            credentials: [
              { id: 'wrong', api_key_env: 'WRONG_KEY', weight: 1_000_000 },
              { id: 'right', api_key_env: 'RIGHT_KEY', weight: 1 },
            ],
          },
        ],
        models: [{ name: 'pooled', pricing: { input: '1' }, deployments: [{ provider: 'pool', model: 'mock-gpt' }] }],
      }),
      environment: { WRONG_KEY: 'sk-wrong', RIGHT_KEY: 'sk-right' },
    });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('is taken out of rotation at its first 401, the pool’s other key answers, and an admin can enable it', async () => {
    const first = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(),
      payload: chat('pooled'),
    });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.headers['x-aihub-attempts']).toBe('2');
    for (let index = 0; index < 5; index += 1) {
      const next = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: testApp.headers(),
        payload: chat('pooled'),
      });
      expect(next.headers['x-aihub-attempts']).toBe('1');
    }
    const admin = await createSignedInUser(testApp, { platformRole: 'admin' });
    const view = await callApi(testApp, admin, 'GET', '/api/v1/routing/deployments');
    const credentials = view.json<{ data: Array<{ credentials: Array<{ credential_id: string; state: string }> }> }>()
      .data[0]?.credentials;
    expect(credentials).toEqual([
      expect.objectContaining({ credential_id: 'wrong', state: 'disabled' }),
      expect.objectContaining({ credential_id: 'right', state: 'closed' }),
    ]);
    expect(JSON.stringify(view.json())).not.toContain('sk-wrong');
    const enabled = await callApi(testApp, admin, 'POST', '/api/v1/routing/credentials/enable', {
      body: { deployment_id: 'pool/mock-gpt', credential_id: 'wrong' },
    });
    expect(enabled.statusCode).toBe(204);
    const after = await callApi(testApp, admin, 'GET', '/api/v1/routing/deployments');
    expect(JSON.stringify(after.json())).toContain('"credential_id":"wrong","state":"closed"');
  });
});

describe("an organization's settings in routing", () => {
  let testApp: TestApp;
  let owner: SignedInUser;
  let orgId: string;
  let orgKey: string;
  beforeAll(async () => {
    testApp = await startTestApp({ configFile: routingConfig });
    owner = await createSignedInUser(testApp);
    orgId = await createOrganization(testApp, owner, 'Acme');
    orgKey = (await createKeyAs(testApp, owner, orgId)).secret;
  });
  afterAll(async () => {
    await testApp.close();
  });
  beforeEach(async () => {
    await setSettings({ allowed_providers: [], default_models: [] });
  });

  async function setSettings(body: Record<string, unknown>): Promise<void> {
    const response = await callApi(testApp, owner, 'PATCH', `/api/v1/organizations/${orgId}/settings`, { body });
    expect(response.statusCode, response.body).toBe(200);
    // The change bumped the registry epoch; this instance reloads at its next poll, which the test runs now.
    await testApp.instance.services.gateway.registry.poll();
  }

  const modelIds = async (): Promise<string[]> => {
    const response = await testApp.instance.app.inject({
      method: 'GET',
      url: '/v1/models',
      headers: testApp.headers(orgKey),
    });
    return response.json<{ data: Array<{ id: string }> }>().data.map((model) => model.id);
  };

  it('allowed_providers hides models it leaves without a deployment and keeps requests off other providers', async () => {
    await setSettings({ allowed_providers: ['other'] });
    expect(await modelIds()).toEqual(['only-other']);
    const refused = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(orgKey),
      payload: chat('only-healthy'),
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error: { code: 'model_not_allowed' } });
    // The platform's own keys are not the organization's: nothing changes for them.
    const platform = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(),
      payload: chat('only-healthy'),
    });
    expect(platform.statusCode).toBe(200);
  });

  it('default_models become the allowlist of keys without their own, listed in their order', async () => {
    await setSettings({ default_models: ['only-other', 'tiers'] });
    expect(await modelIds()).toEqual(['only-other', 'tiers']);
    const refused = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(orgKey),
      payload: chat('only-healthy'),
    });
    expect(refused.statusCode).toBe(403);
    // A key that names its models keeps them.
    const named = await createKeyAs(testApp, owner, orgId, { allowed_models: ['only-healthy'] });
    const allowed = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(named.secret),
      payload: chat('only-healthy'),
    });
    expect(allowed.statusCode, allowed.body).toBe(200);
  });
});
