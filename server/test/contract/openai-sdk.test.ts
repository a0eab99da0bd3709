import { mockCompletionText, mockEmbeddingVector } from '@aihub/mock-upstream';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { defaultTestConfigFile, startTestApp, withSingleAttempt, type TestApp } from '../support/test-app.ts';
import { createTestKey } from '../support/test-keys.ts';

/** The official client, as a customer would configure it; retries off so error tests see the first answer. */
function createClient(baseURL: string, apiKey: string): OpenAI {
  return new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 5_000 });
}

const messages = [{ role: 'user' as const, content: 'hello there' }];
const mockChunks = 10;

describe('the official openai SDK against the gateway', () => {
  let testApp: TestApp;
  let baseUrl: string;
  let client: OpenAI;
  beforeAll(async () => {
    testApp = await startTestApp({ configFile: (url) => withSingleAttempt(defaultTestConfigFile(url)) });
    baseUrl = `${await listenOnLoopback(testApp.instance.app)}/v1`;
    client = createClient(baseUrl, testApp.key);
  });
  afterEach(() => {
    testApp.upstream.setOptions({ failMode: undefined, chunkDelayMs: undefined, retryAfterSeconds: undefined });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('creates a chat completion', async () => {
    const completion = await client.chat.completions.create({ model: 'test', messages });
    expect(completion.object).toBe('chat.completion');
    // The alias the client asked for, not the upstream's model name.
    expect(completion.model).toBe('test');
    expect(completion.choices[0]?.message.content).toBe(mockCompletionText(mockChunks));
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ prompt_tokens: 13, completion_tokens: mockChunks, total_tokens: 23 });
  });

  it('streams a chat completion with usage on the last chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'test',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      chunks.push(chunk);
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(mockCompletionText(mockChunks));
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: 13, completion_tokens: mockChunks });
    expect(chunks.slice(0, -1).every((chunk) => chunk.usage === null || chunk.usage === undefined)).toBe(true);
    expect(new Set(chunks.map((chunk) => chunk.model))).toEqual(new Set(['test']));
  });

  it('streams without usage when it was not asked for', async () => {
    const stream = await client.chat.completions.create({ model: 'test', messages, stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(mockChunks);
    expect(chunks.some((chunk) => 'usage' in chunk)).toBe(false);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
  });

  it('creates float embeddings', async () => {
    const response = await client.embeddings.create({
      model: 'embed-test',
      input: ['alpha', 'beta'],
      encoding_format: 'float',
    });
    expect(response.data.map((item) => item.embedding)).toEqual([
      mockEmbeddingVector('alpha', 8),
      mockEmbeddingVector('beta', 8),
    ]);
    expect(response.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('creates embeddings over base64, which the SDK asks for and decodes by default', async () => {
    testApp.upstream.clearRequests();
    const response = await client.embeddings.create({ model: 'embed-test', input: 'alpha', dimensions: 16 });
    expect(testApp.upstream.requests[0]?.body).toMatchObject({ encoding_format: 'base64' });
    expect(response.data[0]?.embedding).toEqual(mockEmbeddingVector('alpha', 16));
  });

  it('lists and retrieves models', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toEqual(['gpt-test', 'embed-test']);
    const model = await client.models.retrieve('test');
    expect(model).toMatchObject({ id: 'gpt-test', object: 'model', owned_by: 'aihub' });
  });

  describe('errors become the SDK exceptions clients catch', () => {
    it('AuthenticationError for a bad key', async () => {
      const stranger = createClient(baseUrl, 'sk-aihub-not-a-real-key-0000000000000000');
      const error = await stranger.models.list().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(error).toMatchObject({ status: 401, code: 'invalid_api_key', type: 'authentication_error' });
    });

    it('NotFoundError for an unknown model', async () => {
      const error = await client.chat.completions
        .create({ model: 'no-such-model', messages })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect(error).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    });

    it('BadRequestError for an invalid parameter', async () => {
      const error = await client.chat.completions
        .create({ model: 'test', messages, temperature: 5 })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      expect(error).toMatchObject({ status: 400, code: 'invalid_request', param: 'temperature' });
    });

    it('PermissionDeniedError for a model outside the key allowlist', async () => {
      const { secret } = await createTestKey(testApp, { allowedModels: ['embed-test'] });
      const restricted = createClient(baseUrl, secret);
      const error = await restricted.chat.completions
        .create({ model: 'test', messages })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
      expect(error).toMatchObject({ status: 403, code: 'model_not_allowed' });
    });

    it('RateLimitError, with Retry-After, when the upstream rate-limits', async () => {
      testApp.upstream.setOptions({ failMode: '429', retryAfterSeconds: 3 });
      const error = await client.chat.completions
        .create({ model: 'test', messages })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect(error).toMatchObject({ status: 429, code: 'upstream_rate_limited:429', type: 'rate_limit_error' });
      expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('3');
    });

    it('InternalServerError for an upstream failure before the stream starts', async () => {
      testApp.upstream.setOptions({ failMode: '500' });
      const error = await client.chat.completions
        .create({ model: 'test', messages, stream: true })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.InternalServerError);
      expect(error).toMatchObject({ status: 502, code: 'upstream_error:500' });
    });

    it('a stream that fails midway throws from the iterator instead of hanging', async () => {
      testApp.upstream.setOptions({ failMode: 'abort-mid-stream', chunkDelayMs: 5 });
      const stream = await client.chat.completions.create({ model: 'test', messages, stream: true });
      let text = '';
      const consume = async (): Promise<void> => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      };
      const error = await consume().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(OpenAI.APIError);
      expect(error).toMatchObject({ code: 'upstream_unavailable', type: 'upstream_error' });
      expect(text).toMatch(/^tok0 /);
    });
  });
});
