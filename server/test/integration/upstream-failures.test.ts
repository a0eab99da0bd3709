import type { FailureMode } from '@aihub/mock-upstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { fetchStream, parseSseData, parseSseJson } from '../support/server-sent-events.ts';
import { defaultTestConfigFile, startTestApp, withSingleAttempt, type TestApp } from '../support/test-app.ts';
import { flushAndFindOnlyRecord } from '../support/usage-records.ts';

/** Short enough that the `timeout` failure costs the suite little, long enough for every normal mock answer. */
const providerTimeoutMs = 300;

const chatPayload = { model: 'test', messages: [{ role: 'user', content: 'hello there' }] };

describe('upstream failures', () => {
  let testApp: TestApp;
  let origin: string;
  beforeAll(async () => {
    testApp = await startTestApp({
      configFile: (upstreamUrl) => {
        const file = withSingleAttempt(defaultTestConfigFile(upstreamUrl));
        return {
          ...file,
          providers: file.providers!.map((provider) => ({ ...provider, timeout_ms: providerTimeoutMs })),
        };
      },
    });
    origin = await listenOnLoopback(testApp.instance.app);
  });
  afterEach(() => {
    testApp.upstream.setOptions({ failMode: undefined, retryAfterSeconds: undefined, chunkDelayMs: undefined });
  });
  afterAll(async () => {
    await testApp.close();
  });

  describe('before the response starts', () => {
    it.each<{ mode: FailureMode; status: number; code: string; type: string }>([
      { mode: '500', status: 502, code: 'upstream_error:500', type: 'upstream_error' },
      { mode: '502', status: 502, code: 'upstream_error:502', type: 'upstream_error' },
      { mode: '503', status: 503, code: 'upstream_unavailable:503', type: 'upstream_error' },
      { mode: '429', status: 429, code: 'upstream_rate_limited:429', type: 'rate_limit_error' },
      { mode: 'reset', status: 503, code: 'upstream_unavailable', type: 'upstream_error' },
      { mode: 'timeout', status: 504, code: 'upstream_timeout', type: 'upstream_error' },
      { mode: 'garbage', status: 502, code: 'upstream_error', type: 'upstream_error' },
      { mode: 'truncated', status: 502, code: 'upstream_error', type: 'upstream_error' },
    ])('maps upstream $mode to $status $code and records it once', async ({ mode, status, code, type }) => {
      testApp.upstream.setOptions({ failMode: mode });
      const startedAt = Date.now();
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: testApp.headers(),
        payload: chatPayload,
      });
      expect(response.statusCode).toBe(status);
      expect(response.json()).toEqual({ error: { message: expect.any(String), type, param: null, code } });
      if (mode === 'timeout') expect(Date.now() - startedAt).toBeLessThan(providerTimeoutMs * 5);

      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({
        outcome: 'upstream_error',
        status,
        error_code: code,
        model: 'gpt-test',
        provider_id: 'mock',
        usage_source: 'none',
        cost_micros: 0,
      });
    });

    it('passes the upstream Retry-After on a 429', async () => {
      testApp.upstream.setOptions({ failMode: '429', retryAfterSeconds: 7 });
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: testApp.headers(),
        payload: chatPayload,
      });
      expect(response.statusCode).toBe(429);
      expect(response.headers['retry-after']).toBe('7');
    });

    it('does not leak the body of a garbage answer to the client', async () => {
      testApp.upstream.setOptions({ failMode: 'garbage' });
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: testApp.headers(),
        payload: chatPayload,
      });
      expect(response.statusCode).toBe(502);
      expect(response.body).not.toContain('<html>');
    });

    it('maps a failing embeddings upstream the same way', async () => {
      testApp.upstream.setOptions({ failMode: '503' });
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/embeddings',
        headers: testApp.headers(),
        payload: { model: 'embed-test', input: 'hello' },
      });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ error: { code: 'upstream_unavailable:503' } });
      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({ outcome: 'upstream_error', status: 503, endpoint: 'embeddings' });
    });

    it('answers a streaming request whose upstream fails at once with a plain JSON error', async () => {
      testApp.upstream.setOptions({ failMode: '500' });
      const { response, text } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
        ...chatPayload,
        stream: true,
      });
      expect(response.status).toBe(502);
      expect(response.headers.get('content-type')).toContain('application/json');
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'upstream_error:500' } });
    });
  });

  describe('in the middle of a stream, over a real socket', () => {
    it.each<{ mode: FailureMode; code: string; status: number; delivered: boolean }>([
      // The upstream drops the connection: the same failure as being unable to reach it.
      { mode: 'abort-mid-stream', code: 'upstream_unavailable', status: 503, delivered: true },
      // The upstream ends the response cleanly but without [DONE]: an incomplete answer.
      { mode: 'truncated', code: 'upstream_error', status: 502, delivered: true },
      // A data line that is not JSON, right after the role chunk.
      { mode: 'garbage', code: 'upstream_error', status: 502, delivered: false },
    ])(
      'ends the stream with an error event when the upstream sends $mode',
      async ({ mode, code, status, delivered }) => {
        // Pacing the frames makes the failure arrive after the client already has content, as in real life.
        testApp.upstream.setOptions({ failMode: mode, chunkDelayMs: 5 });
        const { response, text } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
          ...chatPayload,
          stream: true,
        });
        expect(response.status).toBe(200);
        const data = parseSseData(text);
        expect(data).not.toContain('[DONE]');
        const events = parseSseJson(text);
        const last = events.at(-1);
        expect(last).toEqual({ error: { message: expect.any(String), type: 'upstream_error', param: null, code } });
        // Everything before the error was ordinary content, relayed as it came.
        const content = events
          .slice(0, -1)
          .map(
            (event) => (event as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '',
          )
          .join('');
        if (delivered) expect(content).toMatch(/^tok0 /);

        const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
        expect(record).toMatchObject({
          outcome: 'upstream_error',
          status,
          error_code: code,
          streamed: 1,
          usage_source: 'counted',
        });
        expect(record.prompt_tokens).toBeGreaterThan(0);
        if (delivered) expect(record.completion_tokens).toBeGreaterThan(0);
        expect(record.cost_micros).toBeGreaterThan(0);
      },
    );

    it('ends the stream with a timeout error when the upstream stalls between chunks', async () => {
      // undici checks body timeouts on a coarse (about one second) clock, so the stall must be well past that.
      testApp.upstream.setOptions({ chunkDelayMs: 1_500, chunks: 1 });
      try {
        const { response, text } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
          ...chatPayload,
          stream: true,
        });
        expect(response.status).toBe(200);
        expect(parseSseJson(text).at(-1)).toMatchObject({ error: { code: 'upstream_timeout' } });
        const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
        expect(record).toMatchObject({ outcome: 'upstream_error', status: 504, error_code: 'upstream_timeout' });
      } finally {
        testApp.upstream.setOptions({ chunks: undefined });
      }
    });
  });
});
