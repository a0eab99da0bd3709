import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstreamHandle } from './server.ts';
import { chatRequest, parseChunk, postJson, readJson, readSse, type ErrorBody } from './test-support.ts';

describe('injected failures', () => {
  let upstream: MockUpstreamHandle;
  let chatUrl: string;
  beforeAll(async () => {
    upstream = await startMockUpstream({ chunks: 6 });
    chatUrl = `${upstream.url}/chat/completions`;
  });
  afterAll(() => upstream.close());

  const streamRequest = chatRequest({ stream: true, stream_options: { include_usage: true } });

  it.each(['500', '502', '503'])(
    'answers x-mock-fail: %s with that status and an OpenAI error body',
    async (status) => {
      const response = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': status });
      expect(response.status).toBe(Number(status));
      expect((await readJson<ErrorBody>(response)).error).toMatchObject({ type: 'server_error', param: null });
    },
  );

  it('answers 429 with Retry-After, 1 by default and x-mock-retry-after when given', async () => {
    const first = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': '429' });
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('1');
    expect((await readJson<ErrorBody>(first)).error.code).toBe('rate_limit_exceeded');

    const second = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': '429', 'x-mock-retry-after': '7' });
    expect(second.headers.get('retry-after')).toBe('7');
    await second.body?.cancel();
  });

  it('never answers in timeout mode, until the client gives up', async () => {
    const request = fetch(chatUrl, {
      method: 'POST',
      headers: { 'x-mock-fail': 'timeout' },
      body: JSON.stringify(chatRequest()),
      signal: AbortSignal.timeout(200),
    });
    await expect(request).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('drops the connection without a response in reset mode', async () => {
    await expect(postJson(chatUrl, chatRequest(), { 'x-mock-fail': 'reset' })).rejects.toThrow(TypeError);
  });

  it('breaks a stream after some chunks in abort-mid-stream mode', async () => {
    const response = await postJson(chatUrl, streamRequest, { 'x-mock-fail': 'abort-mid-stream' });
    expect(response.status).toBe(200);
    const { dataLines, error } = await readSse(response);
    expect(error).toBeDefined();
    expect(dataLines.length).toBeGreaterThan(0);
    expect(dataLines).not.toContain('[DONE]');
    for (const line of dataLines) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });

  it('breaks a stream between paced chunks in abort-mid-stream mode', async () => {
    const response = await postJson(chatUrl, streamRequest, {
      'x-mock-fail': 'abort-mid-stream',
      'x-mock-chunk-delay-ms': '5',
    });
    const { dataLines, error } = await readSse(response);
    expect(error).toBeDefined();
    expect(dataLines).toHaveLength(5);
  });

  it('breaks a non-stream body halfway in abort-mid-stream mode', async () => {
    const response = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': 'abort-mid-stream' });
    await expect(response.text()).rejects.toThrow();
  });

  it('sends a data line that is not JSON in garbage stream mode', async () => {
    const response = await postJson(chatUrl, streamRequest, { 'x-mock-fail': 'garbage' });
    const { dataLines, error } = await readSse(response);
    expect(error).toBeUndefined();
    expect(() => JSON.parse(dataLines[0]!) as unknown).not.toThrow();
    expect(() => JSON.parse(dataLines[1]!) as unknown).toThrow(SyntaxError);
    expect(dataLines.at(-1)).toBe('[DONE]');
  });

  it('sends a 200 body that is not JSON in garbage non-stream mode', async () => {
    const response = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': 'garbage' });
    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow(SyntaxError);
  });

  it('ends a stream cleanly but early, without finish or [DONE], in truncated mode', async () => {
    const response = await postJson(chatUrl, streamRequest, { 'x-mock-fail': 'truncated' });
    const { dataLines, error } = await readSse(response);
    expect(error).toBeUndefined();
    expect(dataLines.length).toBeGreaterThan(0);
    expect(dataLines).not.toContain('[DONE]');
    const chunks = dataLines.map(parseChunk);
    expect(chunks.some((chunk) => chunk.choices[0]?.finish_reason === 'stop')).toBe(false);
  });

  it('ends a non-stream body cleanly at half its JSON in truncated mode', async () => {
    const response = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': 'truncated' });
    const text = await response.text();
    expect(text.startsWith('{"id":"chatcmpl-mock-')).toBe(true);
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
  });

  it('omits usage everywhere in no-usage mode', async () => {
    const plain = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': 'no-usage' });
    expect(await plain.json()).not.toHaveProperty('usage');

    const streamed = await postJson(chatUrl, streamRequest, { 'x-mock-fail': 'no-usage' });
    const { dataLines } = await readSse(streamed);
    const chunks = dataLines.slice(0, -1).map(parseChunk);
    expect(chunks).toHaveLength(1 + 6 + 1);
    expect(chunks.every((chunk) => !('usage' in chunk))).toBe(true);

    const embedded = await postJson(
      `${upstream.url}/embeddings`,
      { model: 'mock-embed', input: 'x' },
      { 'x-mock-fail': 'no-usage' },
    );
    expect(await embedded.json()).not.toHaveProperty('usage');
  });

  it('fails nothing at x-mock-fail-rate 0', async () => {
    const response = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': '500', 'x-mock-fail-rate': '0' });
    expect(response.status).toBe(200);
    await response.body?.cancel();
  });

  it('rejects an unknown failure mode with a 400', async () => {
    const response = await postJson(chatUrl, chatRequest(), { 'x-mock-fail': 'explode' });
    expect(response.status).toBe(400);
    expect((await readJson<ErrorBody>(response)).error.message).toContain('x-mock-fail');
  });
});

describe("error bodies in the shape of the route's API", () => {
  let upstream: MockUpstreamHandle;
  let anthropicUrl: string;
  let geminiUrl: string;
  beforeAll(async () => {
    upstream = await startMockUpstream();
    anthropicUrl = `${upstream.url}/messages`;
    geminiUrl = `${upstream.url.replace(/\/v1$/, '/v1beta')}/models/gemini-mock:generateContent`;
  });
  afterAll(() => upstream.close());

  const anthropicRequest = { model: 'claude-mock', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] };
  const geminiRequest = { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] };

  it.each([
    ['500', 'api_error'],
    ['502', 'api_error'],
    ['503', 'overloaded_error'],
    ['429', 'rate_limit_error'],
  ])('answers x-mock-fail: %s on /v1/messages with an Anthropic %s body', async (status, type) => {
    const response = await postJson(anthropicUrl, anthropicRequest, { 'x-mock-fail': status });
    expect(response.status).toBe(Number(status));
    expect(await response.json()).toEqual({ type: 'error', error: { type, message: expect.any(String) } });
  });

  it.each([
    ['500', 'INTERNAL'],
    ['502', 'UNAVAILABLE'],
    ['503', 'UNAVAILABLE'],
    ['429', 'RESOURCE_EXHAUSTED'],
  ])('answers x-mock-fail: %s on Gemini routes with a Google %s body', async (status, googleStatus) => {
    const response = await postJson(geminiUrl, geminiRequest, { 'x-mock-fail': status });
    expect(response.status).toBe(Number(status));
    expect(await response.json()).toEqual({
      error: { code: Number(status), message: expect.any(String), status: googleStatus },
    });
  });

  it('keeps Retry-After on the 429 of every API', async () => {
    for (const [url, body] of [
      [anthropicUrl, anthropicRequest],
      [geminiUrl, geminiRequest],
    ] as const) {
      const response = await postJson(url, body, { 'x-mock-fail': '429', 'x-mock-retry-after': '4' });
      expect(response.headers.get('retry-after')).toBe('4');
      await response.body?.cancel();
    }
  });

  it('shapes request errors (malformed JSON, bad x-mock header) after the route', async () => {
    const malformed = await fetch(anthropicUrl, { method: 'POST', body: '{"model": ' });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });

    const badHeader = await postJson(geminiUrl, geminiRequest, { 'x-mock-chunks': 'many' });
    expect(badHeader.status).toBe(400);
    const body = await readJson<{ error: { code: number; message: string; status: string } }>(badHeader);
    expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(body.error.message).toContain('x-mock-chunks');
  });
});

describe('failures configured on the server', () => {
  it('fails about failRate of requests, and x-mock-fail: none opts a request out', async () => {
    const upstream = await startMockUpstream({ failMode: '503', failRate: 0.5 });
    try {
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 200; attempt += 1) {
        const response = await fetch(`${upstream.url}/models`);
        statuses.push(response.status);
        await response.body?.cancel();
      }
      const failures = statuses.filter((status) => status === 503).length;
      expect(failures).toBeGreaterThan(50);
      expect(failures).toBeLessThan(150);
      expect(statuses.every((status) => status === 200 || status === 503)).toBe(true);

      upstream.setOptions({ failRate: 1 });
      const optedOut = await fetch(`${upstream.url}/models`, { headers: { 'x-mock-fail': 'none' } });
      expect(optedOut.status).toBe(200);
      await optedOut.body?.cancel();
    } finally {
      await upstream.close();
    }
  });

  it('rejects out-of-range options at start-up', async () => {
    await expect(startMockUpstream({ failRate: 2 })).rejects.toThrow(RangeError);
    await expect(startMockUpstream({ chunks: -1 })).rejects.toThrow(RangeError);
  });
});
