import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../src/config/file-schema.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { fetchStream } from '../support/server-sent-events.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { flushAndFindOnlyRecord } from '../support/usage-records.ts';

/**
 * One Anthropic upstream (the mock) behind two models: `claude-direct` through a deployment with its own, lower
 * prices, and `claude-list` at the model's list prices. The mock reports prompt-cache reads and writes as Anthropic
 * does, apart from input_tokens.
 */
function pricingConfigFile(upstreamUrl: string): ConfigFile {
  const listPrices = {
    input: '3.00',
    output: '15.00',
    cached_input: '0.30',
    cache_write: '3.75',
    per_request: '0.001',
  };
  return {
    providers: [{ id: 'anthropic-mock', type: 'anthropic', base_url: upstreamUrl.replace(/\/v1$/, '') }],
    models: [
      {
        name: 'claude-direct',
        pricing: listPrices,
        deployments: [
          {
            provider: 'anthropic-mock',
            model: 'claude-mock',
            pricing: {
              input: '2.00',
              output: '10.00',
              cached_input: '0.20',
              cache_write: '2.50',
              per_request: '0.0005',
            },
          },
        ],
      },
      { name: 'claude-list', pricing: listPrices, deployments: [{ provider: 'anthropic-mock', model: 'claude-mock' }] },
    ],
  };
}

const messages = [{ role: 'user', content: 'hello there' }];
/** By the mock's rule: 10 per message + round(11 characters / 4). */
const inputTokens = 13;
/** The mock's default answer: ten words, ten output tokens. */
const outputTokens = 10;
const cacheReadTokens = 20_000;
const cacheWriteTokens = 3_000;
const promptTokens = inputTokens + cacheReadTokens + cacheWriteTokens;

/** Micro-dollars, per million tokens: 13 × 2.00 + 20,000 × 0.20 + 3,000 × 2.50 + 10 × 10.00, plus US$0.0005. */
const deploymentCost = 26 + 4_000 + 7_500 + 100 + 500;
/** The same request at list prices: 13 × 3.00 + 20,000 × 0.30 + 3,000 × 3.75 + 10 × 15.00, plus US$0.001. */
const listCost = 39 + 6_000 + 11_250 + 150 + 1_000;

describe.each(testEngines)('pricing cache writes and deployments on %s', (engine) => {
  let testApp: TestApp;
  let origin: string;
  beforeAll(async () => {
    testApp = await startTestApp({ engine, configFile: pricingConfigFile });
    origin = await listenOnLoopback(testApp.instance.app);
  });
  afterEach(() => {
    testApp.upstream.setOptions({ cacheReadTokens: undefined, cacheWriteTokens: undefined, failMode: undefined });
  });
  afterAll(async () => {
    await testApp.close();
  });

  const postChat = (model: string) =>
    testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: testApp.headers(),
      payload: { model, messages },
    });

  it('bills cache writes at the cache-write price and uses the prices of the deployment that served', async () => {
    testApp.upstream.setOptions({ cacheReadTokens, cacheWriteTokens });
    const response = await postChat('claude-direct');
    expect(response.statusCode).toBe(200);
    expect(response.json().usage).toMatchObject({
      prompt_tokens: promptTokens,
      completion_tokens: outputTokens,
      prompt_tokens_details: { cached_tokens: cacheReadTokens, cache_write_tokens: cacheWriteTokens },
    });

    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record).toMatchObject({
      model: 'claude-direct',
      provider_id: 'anthropic-mock',
      prompt_tokens: promptTokens,
      completion_tokens: outputTokens,
      cached_tokens: cacheReadTokens,
      cache_write_tokens: cacheWriteTokens,
      usage_source: 'upstream',
      outcome: 'success',
    });
    expect(record.cost_micros).toBe(deploymentCost);
  });

  it("charges the model's list prices where the deployment sets none", async () => {
    testApp.upstream.setOptions({ cacheReadTokens, cacheWriteTokens });
    const response = await postChat('claude-list');
    expect(response.statusCode).toBe(200);
    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record).toMatchObject({ cache_write_tokens: cacheWriteTokens, cost_micros: listCost });
    expect(deploymentCost).toBeLessThan(listCost);
  });

  it('meters the cache counts of a stream, which arrive in message_start', async () => {
    testApp.upstream.setOptions({ cacheReadTokens, cacheWriteTokens });
    const { response } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
      model: 'claude-direct',
      messages,
      stream: true,
    });
    expect(response.status).toBe(200);
    const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
    expect(record).toMatchObject({
      streamed: 1,
      cached_tokens: cacheReadTokens,
      cache_write_tokens: cacheWriteTokens,
      cost_micros: deploymentCost,
    });
  });

  it('gives Anthropic clients cache writes as cache_creation_input_tokens, apart from input_tokens', async () => {
    testApp.upstream.setOptions({ cacheReadTokens, cacheWriteTokens });
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: testApp.headers(),
      payload: { model: 'claude-direct', max_tokens: 64, messages },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().usage).toEqual({
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      cache_creation_input_tokens: cacheWriteTokens,
      cache_read_input_tokens: cacheReadTokens,
    });
    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record.cost_micros).toBe(deploymentCost);
  });

  it('charges neither tokens nor the per-request fee when the upstream failed', async () => {
    testApp.upstream.setOptions({ failMode: '500' });
    const response = await postChat('claude-direct');
    expect(response.statusCode).toBeGreaterThanOrEqual(500);
    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record).toMatchObject({ outcome: 'upstream_error', cache_write_tokens: 0, cost_micros: 0 });
  });
});
