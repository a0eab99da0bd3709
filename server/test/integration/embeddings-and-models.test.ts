import { countEmbeddingInputTokens, mockEmbeddingVector } from '@aihub/mock-upstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { flushAndFindOnlyRecord } from '../support/usage-records.ts';

interface EmbeddingList<Embedding> {
  object: string;
  model: string;
  data: Array<{ object: string; index: number; embedding: Embedding }>;
  usage: { prompt_tokens: number; total_tokens: number };
}

/** The mock's default vector length when a request does not ask for `dimensions`. */
const mockDimensions = 8;

function decodeFloat32Base64(encoded: string): number[] {
  const bytes = Buffer.from(encoded, 'base64');
  const values: number[] = [];
  for (let offset = 0; offset < bytes.length; offset += 4) values.push(bytes.readFloatLE(offset));
  return values;
}

describe('embeddings and models', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(async () => {
    await testApp.close();
  });

  const embed = (payload: Record<string, unknown>) =>
    testApp.instance.app.inject({ method: 'POST', url: '/v1/embeddings', headers: testApp.headers(), payload });
  const get = (url: string) => testApp.instance.app.inject({ method: 'GET', url, headers: testApp.headers() });

  describe('embeddings', () => {
    it('passes float vectors through and records the usage', async () => {
      testApp.upstream.clearRequests();
      const inputs = ['first input text', 'the second one'];
      const response = await embed({ model: 'embed-test', input: inputs });
      expect(response.statusCode).toBe(200);
      const body = response.json<EmbeddingList<number[]>>();
      expect(body.object).toBe('list');
      expect(body.data.map((item) => item.embedding)).toEqual(
        inputs.map((input) => mockEmbeddingVector(input, mockDimensions)),
      );
      const expectedTokens = inputs.reduce((sum, input) => sum + countEmbeddingInputTokens(input), 0);
      expect(body.usage.prompt_tokens).toBe(expectedTokens);
      expect(testApp.upstream.requests[0]?.body).toMatchObject({ model: 'mock-embed', input: inputs });

      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({
        model: 'embed-test',
        deployment_model: 'mock-embed',
        endpoint: 'embeddings',
        streamed: 0,
        prompt_tokens: expectedTokens,
        completion_tokens: 0,
        usage_source: 'upstream',
        outcome: 'success',
        status: 200,
      });
    });

    it('prices embeddings at the input rate', async () => {
      // 100,000 characters are 25,000 tokens by the mock's rule; at $0.02/M that is exactly 500 micro-dollars.
      const response = await embed({ model: 'embed-test', input: 'a'.repeat(100_000) });
      expect(response.statusCode).toBe(200);
      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record.prompt_tokens).toBe(25_000);
      expect(record.cost_micros).toBe(500);
    });

    it('passes base64 vectors through untouched', async () => {
      const response = await embed({ model: 'embed-test', input: 'hello', encoding_format: 'base64', dimensions: 4 });
      expect(response.statusCode).toBe(200);
      const [item] = response.json<EmbeddingList<string>>().data;
      expect(typeof item!.embedding).toBe('string');
      expect(decodeFloat32Base64(item!.embedding)).toEqual(mockEmbeddingVector('hello', 4));
    });

    it('accepts token-id inputs', async () => {
      const response = await embed({
        model: 'embed-test',
        input: [
          [1, 2, 3],
          [4, 5],
        ],
      });
      expect(response.statusCode).toBe(200);
      expect(response.json<EmbeddingList<number[]>>().usage.prompt_tokens).toBe(5);
    });

    it('rejects an unknown encoding format before calling the upstream', async () => {
      testApp.upstream.clearRequests();
      const response = await embed({ model: 'embed-test', input: 'hello', encoding_format: 'int8' });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'invalid_request', param: 'encoding_format' } });
      expect(testApp.upstream.requests).toHaveLength(0);
    });

    it('counts tokens itself when the upstream reports no usage', async () => {
      testApp.upstream.setOptions({ failMode: 'no-usage' });
      try {
        const response = await embed({ model: 'embed-test', input: 'hello world, hello world' });
        expect(response.statusCode).toBe(200);
        const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
        expect(record.usage_source).toBe('counted');
        expect(record.prompt_tokens).toBeGreaterThan(0);
      } finally {
        testApp.upstream.setOptions({ failMode: undefined });
      }
    });
  });

  describe('models', () => {
    it('lists every configured model in OpenAI list format', async () => {
      const response = await get('/v1/models');
      expect(response.statusCode).toBe(200);
      const body = response.json<{ object: string; data: Array<Record<string, unknown>> }>();
      expect(body.object).toBe('list');
      expect(body.data).toEqual([
        { id: 'gpt-test', object: 'model', created: expect.any(Number), owned_by: 'aihub' },
        { id: 'embed-test', object: 'model', created: expect.any(Number), owned_by: 'aihub' },
      ]);
    });

    it('retrieves a model by name, and by alias under its canonical name', async () => {
      const byName = await get('/v1/models/gpt-test');
      expect(byName.statusCode).toBe(200);
      expect(byName.json()).toMatchObject({ id: 'gpt-test', object: 'model' });
      const byAlias = await get('/v1/models/test');
      expect(byAlias.statusCode).toBe(200);
      expect(byAlias.json()).toEqual(byName.json());
    });

    it('answers an unknown model with 404 model_not_found', async () => {
      const response = await get('/v1/models/no-such-model');
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({
        error: { message: expect.any(String), type: 'not_found_error', param: 'model', code: 'model_not_found' },
      });
    });

    it('serves a request for an alias with the canonical model and records the canonical name', async () => {
      testApp.upstream.clearRequests();
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: testApp.headers(),
        payload: { model: 'test', messages: [{ role: 'user', content: 'hi' }] },
      });
      expect(response.statusCode).toBe(200);
      expect(testApp.upstream.requests[0]?.body).toMatchObject({ model: 'mock-gpt' });
      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({ model: 'gpt-test', provider_id: 'mock', deployment_model: 'mock-gpt' });
    });
  });
});
