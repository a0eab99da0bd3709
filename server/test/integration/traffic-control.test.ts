import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSseData } from '../support/server-sent-events.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import {
  callGateway,
  chat,
  createOrgKey,
  createTenant,
  errorOf,
  manage,
  pollTraffic,
  type GatewayCall,
  sleep,
  sumCost,
  type Tenant,
  usageOfKey,
} from './traffic-control-support.ts';

/**
 * Traffic control as a client sees it on the gateway: the x-ratelimit-* headers of every kind of answer, the 429s
 * in each API's error shape, and every gateway path counting against the limits.
 */
describe.each(testEngines)('traffic control on the wire (%s)', (engine) => {
  let testApp: TestApp;
  let tenant: Tenant;

  beforeAll(async () => {
    testApp = await startTestApp({ engine });
    tenant = await createTenant(testApp);
  });
  afterAll(async () => {
    await testApp.close();
  });

  const rateHeaders = [
    'x-ratelimit-limit-requests',
    'x-ratelimit-remaining-requests',
    'x-ratelimit-reset-requests',
    'x-ratelimit-limit-tokens',
    'x-ratelimit-remaining-tokens',
    'x-ratelimit-reset-tokens',
  ];

  describe('x-ratelimit headers', () => {
    it('come with a non-streamed chat, and remaining requests go down by one per request', async () => {
      const key = await createOrgKey(testApp, tenant, { rpm_limit: 10, tpm_limit: 100_000 });
      const first = await chat(testApp.instance, key.secret);
      expect(first.statusCode).toBe(200);
      expect(first.headers['x-ratelimit-limit-requests']).toBe('10');
      expect(first.headers['x-ratelimit-remaining-requests']).toBe('9');
      expect(first.headers['x-ratelimit-reset-requests']).toMatch(/^(\d+ms|\d+s|\d+m\d+s)$/);
      expect(first.headers['x-ratelimit-limit-tokens']).toBe('100000');
      const tokensLeft = Number(first.headers['x-ratelimit-remaining-tokens']);
      // The estimate (prompt bound + max_tokens 16) was taken from the window.
      expect(tokensLeft).toBeLessThan(100_000 - 16);
      expect(tokensLeft).toBeGreaterThan(100_000 - 500);
      expect(first.headers['x-ratelimit-reset-tokens']).toMatch(/^(\d+ms|\d+s|\d+m\d+s)$/);

      const second = await chat(testApp.instance, key.secret);
      expect(second.headers['x-ratelimit-remaining-requests']).toBe('8');
      const third = await chat(testApp.instance, key.secret);
      expect(third.headers['x-ratelimit-remaining-requests']).toBe('7');
    });

    it('come with a streamed chat, on the SSE response itself', async () => {
      const key = await createOrgKey(testApp, tenant, { rpm_limit: 5, tpm_limit: 50_000 });
      const response = await chat(testApp.instance, key.secret, { stream: true });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toContain('text/event-stream');
      expect(parseSseData(response.body).at(-1)).toBe('[DONE]');
      expect(response.headers['x-ratelimit-limit-requests']).toBe('5');
      expect(response.headers['x-ratelimit-remaining-requests']).toBe('4');
      expect(response.headers['x-ratelimit-limit-tokens']).toBe('50000');
      expect(Number(response.headers['x-ratelimit-remaining-tokens'])).toBeLessThan(50_000);
      expect(response.headers['x-ratelimit-reset-tokens']).toBeDefined();
    });

    it('come with an embeddings call, whose input counts as tokens', async () => {
      const key = await createOrgKey(testApp, tenant, { rpm_limit: 3, tpm_limit: 10_000 });
      const response = await callGateway(testApp.instance, key.secret, {
        path: '/v1/embeddings',
        body: { model: 'embed-test', input: 'some text to embed' },
      });
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-ratelimit-limit-requests']).toBe('3');
      expect(response.headers['x-ratelimit-remaining-requests']).toBe('2');
      expect(response.headers['x-ratelimit-reset-requests']).toBeDefined();
      expect(response.headers['x-ratelimit-limit-tokens']).toBe('10000');
      expect(Number(response.headers['x-ratelimit-remaining-tokens'])).toBeLessThan(10_000);
      expect(response.headers['x-ratelimit-reset-tokens']).toBeDefined();
    });

    it('are absent when no limit applies to the key', async () => {
      const key = await createOrgKey(testApp, tenant);
      const plain = await chat(testApp.instance, key.secret);
      const streamed = await chat(testApp.instance, key.secret, { stream: true });
      expect(plain.statusCode).toBe(200);
      expect(streamed.statusCode).toBe(200);
      for (const header of rateHeaders) {
        expect(plain.headers[header]).toBeUndefined();
        expect(streamed.headers[header]).toBeUndefined();
      }
    });

    it('show only the request trio for a key with a request limit alone', async () => {
      const key = await createOrgKey(testApp, tenant, { rpm_limit: 50 });
      const response = await chat(testApp.instance, key.secret);
      expect(response.headers['x-ratelimit-limit-requests']).toBe('50');
      expect(response.headers['x-ratelimit-limit-tokens']).toBeUndefined();
    });
  });

  describe('refusals', () => {
    it('answer 429 in the OpenAI shape on /v1/chat/completions, naming the limit, with Retry-After', async () => {
      const key = await createOrgKey(testApp, tenant, { rpm_limit: 2 });
      expect((await chat(testApp.instance, key.secret)).statusCode).toBe(200);
      expect((await chat(testApp.instance, key.secret)).statusCode).toBe(200);
      const refused = await chat(testApp.instance, key.secret);
      expect(refused.statusCode).toBe(429);
      const error = errorOf(refused);
      expect(error.code).toBe('rate_limit_exceeded');
      expect(error.message).toContain('this API key');
      expect(error.message).toContain('requests per minute');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // Nothing reached the upstream for the refused request.
      expect(refused.headers['x-ratelimit-remaining-requests']).toBeUndefined();
    });

    it('answer 429 in the Anthropic shape on /v1/messages', async () => {
      const key = await createOrgKey(testApp, tenant, { rpm_limit: 1 });
      const messages: GatewayCall = {
        path: '/v1/messages',
        body: { model: 'test', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] },
      };
      expect((await callGateway(testApp.instance, key.secret, messages)).statusCode).toBe(200);
      const refused = await callGateway(testApp.instance, key.secret, messages);
      expect(refused.statusCode).toBe(429);
      const body = refused.json<{ type: string; error: { type: string; message: string } }>();
      expect(body.type).toBe('error');
      expect(body.error.type).toBe('rate_limit_error');
      expect(body.error.message).toContain('requests per minute');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });

    it('name a spent day budget with budget_exceeded and the time it resets', async () => {
      const key = await createOrgKey(testApp, tenant, { budget_micros: 0, budget_period: 'day' });
      const refused = await chat(testApp.instance, key.secret);
      expect(refused.statusCode).toBe(429);
      const error = errorOf(refused);
      expect(error.code).toBe('budget_exceeded');
      const midnight = new Date();
      midnight.setUTCHours(24, 0, 0, 0);
      expect(error.message).toContain('per day');
      expect(error.message).toContain(midnight.toISOString());
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    });
  });

  it("resets a day budget at midnight in the organization's time zone, as the refusal says", async () => {
    const inTokyo = await createTenant(testApp);
    const settings = await manage(testApp, inTokyo, 'PATCH', '/settings', { time_zone: 'Asia/Tokyo' });
    expect(settings.statusCode).toBe(200);
    await pollTraffic(testApp.instance);
    const key = await createOrgKey(testApp, inTokyo, { budget_micros: 0, budget_period: 'day' });
    const refused = await chat(testApp.instance, key.secret);
    expect(errorOf(refused).code).toBe('budget_exceeded');
    // Tokyo is UTC+9 all year: its midnight is 15:00 UTC.
    const reset = new Date();
    if (reset.getUTCHours() >= 15) reset.setUTCDate(reset.getUTCDate() + 1);
    reset.setUTCHours(15, 0, 0, 0);
    expect(errorOf(refused).message).toContain(`it resets at ${reset.toISOString()}`);
  });

  describe('every gateway path counts', () => {
    it('counts /v1/messages/count_tokens and GET /v1/models towards requests per minute', async () => {
      const key = await createOrgKey(testApp, tenant, { rpm_limit: 3 });
      const count = await callGateway(testApp.instance, key.secret, {
        path: '/v1/messages/count_tokens',
        body: { model: 'test', messages: [{ role: 'user', content: 'hello' }] },
      });
      expect(count.statusCode).toBe(200);
      expect(count.headers['x-ratelimit-remaining-requests']).toBe('2');
      const models = await callGateway(testApp.instance, key.secret, { path: '/v1/models', method: 'GET' });
      expect(models.statusCode).toBe(200);
      expect(models.headers['x-ratelimit-remaining-requests']).toBe('1');
      const model = await callGateway(testApp.instance, key.secret, { path: '/v1/models/test', method: 'GET' });
      expect(model.statusCode).toBe(200);
      expect(model.headers['x-ratelimit-remaining-requests']).toBe('0');
      const refused = await callGateway(testApp.instance, key.secret, { path: '/v1/models', method: 'GET' });
      expect(refused.statusCode).toBe(429);
      expect(errorOf(refused).code).toBe('rate_limit_exceeded');
      expect((await chat(testApp.instance, key.secret)).statusCode).toBe(429);
    });

    it('counts embeddings against tokens per minute and spends their budget', async () => {
      const input = 'x'.repeat(400);
      const key = await createOrgKey(testApp, tenant, { tpm_limit: 1000, budget_micros: 1_000_000 });
      const embed: GatewayCall = { path: '/v1/embeddings', body: { model: 'embed-test', input } };
      const first = await callGateway(testApp.instance, key.secret, embed);
      expect(first.statusCode).toBe(200);
      const remaining = Number(first.headers['x-ratelimit-remaining-tokens']);
      expect(remaining).toBeLessThanOrEqual(1000 - 400);
      // The key's budget spent exactly what the usage record charged for it.
      const records = await usageOfKey(testApp, key.id);
      expect(records.map((record) => record.endpoint)).toEqual(['embeddings']);
      const charged = sumCost(records);
      expect(charged).toBeGreaterThan(0);
      let spent: number | null = null;
      for (const deadline = Date.now() + 1000; spent !== charged && Date.now() < deadline; await sleep(20)) {
        const view = await testApp.instance.app.inject({
          method: 'GET',
          url: `/api/v1/organizations/${tenant.orgId}/keys/${key.id}`,
          headers: tenant.owner.headers,
        });
        spent = view.json<{ budget_spent_micros: number | null }>().budget_spent_micros;
      }
      expect(spent).toBe(charged);
      const second = await callGateway(testApp.instance, key.secret, embed);
      expect(Number(second.headers['x-ratelimit-remaining-tokens'])).toBeLessThan(remaining);
    });
  });
});
