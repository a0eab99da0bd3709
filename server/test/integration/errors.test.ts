import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.ts';

/** Every /v1 error body has exactly OpenAI's four fields, so SDKs that destructure it never meet surprises. */
function expectOpenAiError(
  body: unknown,
  expected: { code: string; type: string; param?: string | null },
): { message: string } {
  expect(body).toEqual({
    error: {
      message: expect.any(String),
      type: expected.type,
      param: expected.param ?? null,
      code: expected.code,
    },
  });
  return (body as { error: { message: string } }).error;
}

const chatUrl = '/v1/chat/completions';
const validChat = { model: 'test', messages: [{ role: 'user', content: 'hello' }] };

describe('request errors on /v1', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp();
  });
  afterAll(async () => {
    await testApp.close();
  });

  const postChat = (payload: unknown, headers = testApp.headers()) =>
    testApp.instance.app.inject({
      method: 'POST',
      url: chatUrl,
      headers,
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });

  it('answers malformed JSON with 400 invalid_json', async () => {
    const response = await postChat('{"model": "test", "messages": [');
    expect(response.statusCode).toBe(400);
    expectOpenAiError(response.json(), { code: 'invalid_json', type: 'invalid_request_error' });
  });

  it('answers an empty JSON body with 400 invalid_json', async () => {
    const response = await postChat('');
    expect(response.statusCode).toBe(400);
    expectOpenAiError(response.json(), { code: 'invalid_json', type: 'invalid_request_error' });
  });

  it.each([
    { case: 'a missing model', payload: { messages: validChat.messages }, param: 'model' },
    { case: 'an empty model', payload: { ...validChat, model: '' }, param: 'model' },
    { case: 'messages that are not an array', payload: { ...validChat, messages: 'hello' }, param: 'messages' },
    { case: 'an empty messages array', payload: { ...validChat, messages: [] }, param: 'messages' },
    {
      case: 'a message without a role',
      payload: { ...validChat, messages: [{ content: 'hello' }] },
      param: 'messages[0].role',
    },
    // Type coercion is off: "true" is a string, and treating it as a boolean would change what the client gets.
    { case: 'stream given as the string "true"', payload: { ...validChat, stream: 'true' }, param: 'stream' },
    { case: 'a temperature above 2', payload: { ...validChat, temperature: 2.5 }, param: 'temperature' },
    { case: 'a negative temperature', payload: { ...validChat, temperature: -0.1 }, param: 'temperature' },
    { case: 'n of zero', payload: { ...validChat, n: 0 }, param: 'n' },
  ])('rejects $case with 400 naming the field', async ({ payload, param }) => {
    testApp.upstream.clearRequests();
    const response = await postChat(payload);
    expect(response.statusCode).toBe(400);
    const error = expectOpenAiError(response.json(), { code: 'invalid_request', type: 'invalid_request_error', param });
    expect(error.message).toContain(param);
    expect(testApp.upstream.requests).toHaveLength(0);
  });

  it('accepts unknown request fields and passes them to the upstream untouched', async () => {
    testApp.upstream.clearRequests();
    const response = await postChat({ ...validChat, temperature: 2, seed: 7, logit_bias: { '42': 1 } });
    expect(response.statusCode).toBe(200);
    expect(testApp.upstream.requests[0]?.body).toMatchObject({ temperature: 2, seed: 7, logit_bias: { '42': 1 } });
  });

  it('answers an unknown model with 404 model_not_found on param model', async () => {
    const response = await postChat({ ...validChat, model: 'no-such-model' });
    expect(response.statusCode).toBe(404);
    const error = expectOpenAiError(response.json(), {
      code: 'model_not_found',
      type: 'not_found_error',
      param: 'model',
    });
    expect(error.message).toContain('no-such-model');
  });

  it('refuses an embedding model on the chat endpoint with 400 on param model', async () => {
    testApp.upstream.clearRequests();
    const response = await postChat({ ...validChat, model: 'embed-test' });
    expect(response.statusCode).toBe(400);
    expectOpenAiError(response.json(), { code: 'invalid_request', type: 'invalid_request_error', param: 'model' });
    expect(testApp.upstream.requests).toHaveLength(0);
  });

  it('refuses a chat model on the embeddings endpoint with 400 on param model', async () => {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: '/v1/embeddings',
      headers: testApp.headers(),
      payload: { model: 'test', input: 'hello' },
    });
    expect(response.statusCode).toBe(400);
    expectOpenAiError(response.json(), { code: 'invalid_request', type: 'invalid_request_error', param: 'model' });
  });

  it('answers a body that is not JSON by media type with 415', async () => {
    const response = await postChat('<model>test</model>', { ...testApp.headers(), 'content-type': 'application/xml' });
    expect(response.statusCode).toBe(415);
    expectOpenAiError(response.json(), { code: 'unsupported_media_type', type: 'invalid_request_error' });
  });

  it('answers an unknown route with 404 in OpenAI shape', async () => {
    const response = await testApp.instance.app.inject({
      method: 'GET',
      url: '/v1/no-such-thing?x=1',
      headers: testApp.headers(),
    });
    expect(response.statusCode).toBe(404);
    const error = expectOpenAiError(response.json(), { code: 'route_not_found', type: 'not_found_error' });
    expect(error.message).toBe('no route for GET /v1/no-such-thing');
  });

  it('gives every error response a request id', async () => {
    const response = await postChat('{');
    expect(response.headers['x-request-id']).toMatch(/\S/);
  });
});

describe('request body limit', () => {
  let testApp: TestApp;
  beforeAll(async () => {
    testApp = await startTestApp({ overrides: { bodyLimitBytes: 2048 } });
  });
  afterAll(async () => {
    await testApp.close();
  });

  it('answers a body over the limit with 413 and never calls the upstream', async () => {
    const payload = JSON.stringify({ model: 'test', messages: [{ role: 'user', content: 'x'.repeat(4096) }] });
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: chatUrl,
      headers: testApp.headers(),
      payload,
    });
    expect(response.statusCode).toBe(413);
    expectOpenAiError(response.json(), { code: 'body_too_large', type: 'invalid_request_error' });
    expect(testApp.upstream.requests).toHaveLength(0);
  });

  it('still serves a body under the limit', async () => {
    const response = await testApp.instance.app.inject({
      method: 'POST',
      url: chatUrl,
      headers: testApp.headers(),
      payload: { model: 'test', messages: [{ role: 'user', content: 'x'.repeat(1024) }] },
    });
    expect(response.statusCode).toBe(200);
  });
});
