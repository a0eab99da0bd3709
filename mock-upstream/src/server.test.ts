import { describe, expect, it } from 'vitest';
import { startMockUpstream } from './server.ts';
import { chatRequest, postJson, readJson, readSse, type ErrorBody } from './test-support.ts';

describe('startMockUpstream', () => {
  it('listens on an ephemeral port and reports a base URL ending with /v1', async () => {
    const upstream = await startMockUpstream();
    try {
      expect(upstream.port).toBeGreaterThan(0);
      expect(upstream.url).toBe(`http://127.0.0.1:${upstream.port}/v1`);
    } finally {
      await upstream.close();
    }
  });

  it('counts requests in flight and the peak since the last reset', async () => {
    const upstream = await startMockUpstream({ latencyMs: 50 });
    try {
      const answers = await Promise.all(
        [1, 2, 3].map(() => postJson(`${upstream.url}/chat/completions`, chatRequest())),
      );
      await Promise.all(answers.map((answer) => answer.text()));
      expect(upstream.stats()).toMatchObject({ inFlight: 0, peakInFlight: 3 });
      upstream.resetStats();
      expect(upstream.stats()).toMatchObject({ inFlight: 0, peakInFlight: 0 });
    } finally {
      await upstream.close();
    }
  });

  it('answers unknown routes with an OpenAI-shaped 404', async () => {
    const upstream = await startMockUpstream();
    try {
      const response = await fetch(`${upstream.url}/completions/legacy`, { method: 'POST', body: '{}' });
      expect(response.status).toBe(404);
      expect((await readJson<ErrorBody>(response)).error.message).toBe('Invalid URL (POST /v1/completions/legacy)');
    } finally {
      await upstream.close();
    }
  });

  it('demands the configured bearer key', async () => {
    const upstream = await startMockUpstream({ apiKey: 'sk-mock' });
    try {
      const denied = await postJson(`${upstream.url}/chat/completions`, chatRequest(), { authorization: 'Bearer no' });
      expect(denied.status).toBe(401);
      expect((await readJson<ErrorBody>(denied)).error).toMatchObject({
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      });

      const missing = await fetch(`${upstream.url}/models`);
      expect(missing.status).toBe(401);
      await missing.body?.cancel();

      const allowed = await postJson(`${upstream.url}/chat/completions`, chatRequest(), {
        authorization: 'Bearer sk-mock',
      });
      expect(allowed.status).toBe(200);
      await allowed.body?.cancel();
    } finally {
      await upstream.close();
    }
  });

  it('takes the key from x-api-key on Anthropic routes and x-goog-api-key on Gemini routes, answering natively', async () => {
    const upstream = await startMockUpstream({ apiKey: 'sk-mock' });
    const anthropicUrl = `${upstream.url}/messages`;
    const geminiUrl = `${upstream.url.replace(/\/v1$/, '/v1beta')}/models/gemini-mock:generateContent`;
    const anthropicRequest = { model: 'claude-mock', max_tokens: 16, messages: [{ role: 'user', content: 'Hi' }] };
    const geminiRequest = { contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] };
    try {
      const anthropicDenied = await postJson(anthropicUrl, anthropicRequest, { 'x-api-key': 'no' });
      expect(anthropicDenied.status).toBe(401);
      expect(await anthropicDenied.json()).toEqual({
        type: 'error',
        error: { type: 'authentication_error', message: expect.any(String) },
      });
      const anthropicAllowed = await postJson(anthropicUrl, anthropicRequest, { 'x-api-key': 'sk-mock' });
      expect(anthropicAllowed.status).toBe(200);
      await anthropicAllowed.body?.cancel();

      const geminiDenied = await postJson(geminiUrl, geminiRequest, { 'x-goog-api-key': 'no' });
      expect(geminiDenied.status).toBe(401);
      expect(await geminiDenied.json()).toEqual({
        error: { code: 401, message: expect.any(String), status: 'UNAUTHENTICATED' },
      });
      const geminiAllowed = await postJson(geminiUrl, geminiRequest, { 'x-goog-api-key': 'sk-mock' });
      expect(geminiAllowed.status).toBe(200);
      await geminiAllowed.body?.cancel();

      // Each API's header counts on its own routes only.
      const crossed = await postJson(`${upstream.url}/chat/completions`, chatRequest(), { 'x-api-key': 'sk-mock' });
      expect(crossed.status).toBe(401);
      expect((await readJson<ErrorBody>(crossed)).error.code).toBe('invalid_api_key');
      const geminiWithAnthropicHeader = await postJson(geminiUrl, geminiRequest, { 'x-api-key': 'sk-mock' });
      expect(geminiWithAnthropicHeader.status).toBe(401);
      await geminiWithAnthropicHeader.body?.cancel();
    } finally {
      await upstream.close();
    }
  });

  it('records nothing by default', async () => {
    const upstream = await startMockUpstream();
    try {
      await (await fetch(`${upstream.url}/models`)).body?.cancel();
      expect(upstream.requests).toEqual([]);
    } finally {
      await upstream.close();
    }
  });

  it('records the last N requests with method, path, headers and parsed body', async () => {
    const upstream = await startMockUpstream({ recordRequests: 2 });
    try {
      await (await fetch(`${upstream.url}/models?limit=1`)).body?.cancel();
      await (await postJson(`${upstream.url}/chat/completions`, chatRequest(), { 'x-trace': 'a' })).body?.cancel();
      await (await fetch(`${upstream.url}/embeddings`, { method: 'POST', body: 'not json' })).body?.cancel();

      const [first, second, third] = upstream.requests;
      expect(third).toBeUndefined();
      expect(first).toMatchObject({ method: 'POST', path: '/v1/chat/completions', body: chatRequest() });
      expect(first!.headers['x-trace']).toBe('a');
      expect(second).toMatchObject({ method: 'POST', path: '/v1/embeddings', body: 'not json' });

      upstream.clearRequests();
      expect(upstream.requests).toEqual([]);
      upstream.setOptions({ recordRequests: false });
      await (await fetch(`${upstream.url}/models`)).body?.cancel();
      expect(upstream.requests).toEqual([]);
    } finally {
      await upstream.close();
    }
  });

  it('keeps recorded requests when setOptions changes the capacity', async () => {
    const upstream = await startMockUpstream({ recordRequests: true });
    try {
      await (await fetch(`${upstream.url}/models`)).body?.cancel();
      upstream.setOptions({ recordRequests: 5 });
      expect(upstream.requests.map((request) => request.path)).toEqual(['/v1/models']);
    } finally {
      await upstream.close();
    }
  });

  it('waits x-mock-latency-ms before answering', async () => {
    const upstream = await startMockUpstream();
    try {
      const startedAt = performance.now();
      const response = await fetch(`${upstream.url}/models`, { headers: { 'x-mock-latency-ms': '120' } });
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(110);
      expect(response.status).toBe(200);
      await response.body?.cancel();
    } finally {
      await upstream.close();
    }
  });

  it('paces stream chunks by x-mock-chunk-delay-ms', async () => {
    const upstream = await startMockUpstream({ chunks: 3 });
    try {
      const startedAt = performance.now();
      const response = await postJson(`${upstream.url}/chat/completions`, chatRequest({ stream: true }), {
        'x-mock-chunk-delay-ms': '30',
      });
      const { dataLines } = await readSse(response);
      // Six frames (role, three words, finish, [DONE]) have five gaps between them.
      expect(dataLines).toHaveLength(6);
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(5 * 30 - 10);
    } finally {
      await upstream.close();
    }
  });

  it('rejects a malformed x-mock header with a 400 that names it', async () => {
    const upstream = await startMockUpstream();
    try {
      const response = await fetch(`${upstream.url}/models`, { headers: { 'x-mock-chunks': 'many' } });
      expect(response.status).toBe(400);
      expect((await readJson<ErrorBody>(response)).error.message).toContain('x-mock-chunks');
    } finally {
      await upstream.close();
    }
  });

  it('closes promptly while a timeout-mode request and a slow stream are still open', async () => {
    const upstream = await startMockUpstream();
    const hanging = postJson(`${upstream.url}/chat/completions`, chatRequest(), { 'x-mock-fail': 'timeout' });
    const slow = postJson(`${upstream.url}/chat/completions`, chatRequest({ stream: true }), {
      'x-mock-chunk-delay-ms': '10000',
    });
    const slowResponse = await slow;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const startedAt = performance.now();
    await upstream.close();
    expect(performance.now() - startedAt).toBeLessThan(1000);
    await expect(hanging).rejects.toThrow(TypeError);
    expect((await readSse(slowResponse)).error).toBeDefined();
  });
});
