import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { everyFormatConfigFile } from '../support/every-format-config.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { fetchStream, parseSseJson } from '../support/server-sent-events.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { flushAndFindOnlyRecord, waitForRecord } from '../support/usage-records.ts';

/**
 * What clients see in a successful response besides the answer itself: the model they asked for, usage only when
 * they asked for it, and a usage record that says what happened even when they left while it was being counted.
 */

const responseConfigFile = (upstreamUrl: string) =>
  everyFormatConfigFile(upstreamUrl, { embeddings: true, aliases: true });

const messages = [{ role: 'user', content: 'hello there' }];
const anthropicHeaders = (key: string) => ({
  'x-api-key': key,
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
});

describe('gateway response details', () => {
  let testApp: TestApp;
  let origin: string;
  const requestIds: string[] = [];
  /** The server side of each request's connection, in arrival order. */
  const requestSockets: Socket[] = [];
  beforeAll(async () => {
    testApp = await startTestApp({ configFile: responseConfigFile });
    const { app } = testApp.instance;
    app.addHook('onRequest', (request, _reply, done) => {
      requestIds.push(request.id);
      requestSockets.push(request.raw.socket);
      done();
    });
    origin = await listenOnLoopback(app);
  });
  afterEach(() => {
    testApp.upstream.setOptions({ failMode: undefined });
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await testApp.close();
  });

  describe('responses name the model the client asked for', () => {
    it.each(['m-openai', 'openai-alias', 'm-anthropic', 'm-gemini'])(
      'on /v1/chat/completions for %s, whole and streamed',
      async (model) => {
        const response = await testApp.instance.app.inject({
          method: 'POST',
          url: '/v1/chat/completions',
          headers: testApp.headers(),
          payload: { model, messages },
        });
        expect(response.statusCode).toBe(200);
        expect(response.json<{ model: string }>().model).toBe(model);

        const { text } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
          model,
          messages,
          stream: true,
          stream_options: { include_usage: true },
        });
        const chunks = parseSseJson(text) as { model: string }[];
        expect(chunks.length).toBeGreaterThan(2);
        expect(new Set(chunks.map((chunk) => chunk.model))).toEqual(new Set([model]));
      },
    );

    it.each(['m-openai', 'openai-alias', 'm-anthropic', 'm-gemini'])(
      'on /v1/messages for %s, whole and streamed',
      async (model) => {
        const response = await testApp.instance.app.inject({
          method: 'POST',
          url: '/v1/messages',
          headers: anthropicHeaders(testApp.key),
          payload: { model, max_tokens: 64, messages },
        });
        expect(response.statusCode).toBe(200);
        expect(response.json<{ model: string }>().model).toBe(model);

        const { text } = await fetchStream(`${origin}/v1/messages`, anthropicHeaders(testApp.key), {
          model,
          max_tokens: 64,
          messages,
          stream: true,
        });
        const startData = text
          .split('\n')
          .find((line) => line.startsWith('data: ') && line.includes('"message_start"'));
        const start = JSON.parse(startData!.slice('data: '.length)) as {
          message: { model: string };
        };
        expect(start.message.model).toBe(model);
      },
    );
  });

  it.each(['e-openai', 'embed-alias', 'e-gemini'])('on /v1/embeddings for %s, floats and base64', async (model) => {
    for (const encoding_format of ['float', 'base64']) {
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/embeddings',
        headers: testApp.headers(),
        payload: { model, input: ['one', 'two'], encoding_format },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json<{ model: string; data: unknown[] }>()).toMatchObject({ model, data: [{}, {}] });
    }
  });

  it.each(['m-openai', 'm-anthropic', 'm-gemini'])(
    'leaves usage out of every chunk of %s when the client did not ask for it',
    async (model) => {
      const { text } = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
        model,
        messages,
        stream: true,
      });
      expect(text).not.toContain('"usage"');
      expect(parseSseJson(text).length).toBeGreaterThan(2);

      const asked = await fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), {
        model,
        messages,
        stream: true,
        stream_options: { include_usage: true },
      });
      const usageChunks = (parseSseJson(asked.text) as { usage?: unknown }[]).filter((chunk) => chunk.usage);
      expect(usageChunks).toHaveLength(1);
    },
  );

  it('counts embedding inputs given as token arrays by their length when the upstream reports no usage', async () => {
    testApp.upstream.setOptions({ failMode: 'no-usage' });
    for (const [input, tokens] of [
      [[11, 22, 33, 44, 55], 5],
      [[[1, 2, 3], [4, 5], [6]], 6],
    ] as const) {
      const response = await testApp.instance.app.inject({
        method: 'POST',
        url: '/v1/embeddings',
        headers: testApp.headers(),
        payload: { model: 'e-openai', input },
      });
      expect(response.statusCode).toBe(200);
      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({ usage_source: 'counted', prompt_tokens: tokens, outcome: 'success' });
    }
  });

  it('records a client that left while its usage was being counted as disconnected, with the usage', async () => {
    testApp.upstream.setOptions({ failMode: 'no-usage' });
    const counter = testApp.instance.services.gateway.tokenCounter;
    const countMessages = counter.countMessages.bind(counter);
    const client = new AbortController();
    // The client leaves while the count runs, and the count only ends once the server has seen it go.
    vi.spyOn(counter, 'countMessages').mockImplementationOnce(async (texts) => {
      const socket = requestSockets.at(-1)!;
      const closed = socket.destroyed
        ? Promise.resolve()
        : new Promise<void>((resolve) => socket.once('close', () => resolve()));
      client.abort();
      await closed;
      return countMessages(texts);
    });
    const requestsBefore = requestIds.length;
    await expect(
      fetch(`${origin}/v1/chat/completions`, {
        method: 'POST',
        headers: testApp.headers(),
        body: JSON.stringify({ model: 'm-openai', messages }),
        signal: client.signal,
      }),
    ).rejects.toThrow();
    const requestId = requestIds[requestsBefore]!;
    await waitForRecord(testApp, requestId);
    const record = await flushAndFindOnlyRecord(testApp, requestId);
    expect(record).toMatchObject({
      status: 499,
      outcome: 'client_disconnected',
      error_code: 'client_disconnected',
      usage_source: 'counted',
    });
    expect(record.prompt_tokens).toBeGreaterThan(0);
    expect(record.completion_tokens).toBeGreaterThan(0);
  });
});
