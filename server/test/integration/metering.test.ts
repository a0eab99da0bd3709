import { countChatPromptTokens, mockCompletionText } from '@aihub/mock-upstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TokenCounter } from '../../src/gateway/meter/token-counter.ts';
import { listenOnLoopback } from '../support/listen-on-loopback.ts';
import { fetchStream, parseSseData, parseSseJson } from '../support/server-sent-events.ts';
import { defaultTestConfigFile, startTestApp, testKey, type TestApp } from '../support/test-app.ts';
import { testEngines } from '../support/test-database.ts';
import { createTestKey } from '../support/test-keys.ts';
import { buildUsageRecord } from '../support/usage-record-builder.ts';
import {
  startUpstreamConnectionWatcher,
  type UpstreamConnectionWatcher,
} from '../support/upstream-connection-watcher.ts';
import { flushAndFindOnlyRecord, waitForRecord } from '../support/usage-records.ts';

interface ChunkEvent {
  choices: Array<{ delta: { content?: string } }>;
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
}

const prompt = 'hello there';
const messages = [{ role: 'user', content: prompt }];
const chatPayload = { model: 'test', messages };
/** The mock's default: ten content chunks, so ten completion tokens. */
const mockChunks = 10;
/** By the mock's rule: 10 per message + round(11 characters / 4) = 13. */
const expectedPromptTokens = 13;

describe.each(testEngines)('usage metering on %s', (engine) => {
  let testApp: TestApp;
  let origin: string;
  let watcher: UpstreamConnectionWatcher;
  let bootstrapKeyId: string;
  beforeAll(async () => {
    watcher = await startUpstreamConnectionWatcher();
    testApp = await startTestApp({
      engine,
      configFile: (upstreamUrl) => defaultTestConfigFile(watcher.relay(upstreamUrl)),
    });
    origin = await listenOnLoopback(testApp.instance.app);
    const keys = await testApp.instance.services.keys.list();
    bootstrapKeyId = keys.find((key) => key.name === 'bootstrap')!.id;
  });
  afterEach(() => {
    testApp.upstream.setOptions({ failMode: undefined, chunkDelayMs: undefined });
    testApp.upstream.clearRequests();
  });
  afterAll(async () => {
    await testApp.close();
    await watcher.close();
  });

  const postChat = (payload: Record<string, unknown>, headers = testApp.headers()) =>
    testApp.instance.app.inject({ method: 'POST', url: '/v1/chat/completions', headers, payload });
  const streamChat = (payload: Record<string, unknown>) =>
    fetchStream(`${origin}/v1/chat/completions`, testApp.headers(), { ...payload, stream: true });

  it('records a completion with the upstream usage and its exact cost', async () => {
    expect(countChatPromptTokens(messages)).toBe(expectedPromptTokens);
    const response = await postChat(chatPayload);
    expect(response.statusCode).toBe(200);
    expect(response.json().usage).toMatchObject({
      prompt_tokens: expectedPromptTokens,
      completion_tokens: mockChunks,
    });

    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record).toMatchObject({
      key_id: bootstrapKeyId,
      model: 'gpt-test',
      provider_id: 'mock',
      deployment_model: 'mock-gpt',
      endpoint: 'chat.completions',
      streamed: 0,
      prompt_tokens: expectedPromptTokens,
      completion_tokens: mockChunks,
      cached_tokens: 0,
      usage_source: 'upstream',
      status: 200,
      outcome: 'success',
      error_code: null,
      first_token_ms: null,
    });
    // 13 × $2.50/M + 10 × $10.00/M = 32.5 + 100 = 132.5 micro-dollars, rounded half up once, at the end.
    expect(record.cost_micros).toBe(133);
    expect(Number.isInteger(record.latency_ms)).toBe(true);
  });

  it('relays the usage chunk of a stream to a client that asked for it, and records that usage', async () => {
    const { response, text } = await streamChat({ ...chatPayload, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(parseSseData(text).at(-1)).toBe('[DONE]');
    const events = parseSseJson(text) as unknown as ChunkEvent[];
    const usageChunk = events.at(-1)!;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toMatchObject({ prompt_tokens: expectedPromptTokens, completion_tokens: mockChunks });
    const content = events.map((event) => event.choices[0]?.delta.content ?? '').join('');
    expect(content).toBe(mockCompletionText(mockChunks));

    const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
    expect(record).toMatchObject({
      streamed: 1,
      prompt_tokens: expectedPromptTokens,
      completion_tokens: mockChunks,
      usage_source: 'upstream',
      outcome: 'success',
      status: 200,
      cost_micros: 133,
    });
    expect(record.first_token_ms).not.toBeNull();
    expect(record.first_token_ms!).toBeGreaterThanOrEqual(0);
    expect(record.first_token_ms!).toBeLessThanOrEqual(record.latency_ms);
  });

  it('asks the upstream for stream usage but hides it from a client that did not ask', async () => {
    const { response, text } = await streamChat(chatPayload);
    expect(response.status).toBe(200);
    expect(parseSseData(text).at(-1)).toBe('[DONE]');
    const events = parseSseJson(text) as unknown as ChunkEvent[];
    expect(events.length).toBeGreaterThan(mockChunks);
    for (const event of events) {
      expect(event.choices.length).toBeGreaterThan(0);
      expect(event.usage ?? null).toBeNull();
    }
    expect(testApp.upstream.requests.at(-1)?.body).toMatchObject({ stream_options: { include_usage: true } });

    const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
    expect(record).toMatchObject({
      prompt_tokens: expectedPromptTokens,
      completion_tokens: mockChunks,
      usage_source: 'upstream',
      outcome: 'success',
    });
  });

  describe('when the upstream reports no usage', () => {
    const tokenCounter = new TokenCounter();
    afterAll(async () => {
      await tokenCounter.close();
    });
    // What the gateway's tokenizer makes of this request's messages and the mock's answer.
    const countedPrompt = () => tokenCounter.countMessages([prompt]);
    const countedCompletion = () => tokenCounter.count(mockCompletionText(mockChunks));

    it('counts the tokens of a completion itself', async () => {
      testApp.upstream.setOptions({ failMode: 'no-usage' });
      const response = await postChat(chatPayload);
      expect(response.statusCode).toBe(200);
      const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
      expect(record).toMatchObject({
        usage_source: 'counted',
        outcome: 'success',
        prompt_tokens: await countedPrompt(),
        completion_tokens: await countedCompletion(),
      });
      expect(record.prompt_tokens).toBeGreaterThan(0);
      expect(record.completion_tokens).toBeGreaterThan(0);
      expect(record.cost_micros).toBeGreaterThan(0);
    });

    it('counts the tokens of a stream itself', async () => {
      testApp.upstream.setOptions({ failMode: 'no-usage' });
      const { response, text } = await streamChat(chatPayload);
      expect(parseSseData(text).at(-1)).toBe('[DONE]');
      const record = await flushAndFindOnlyRecord(testApp, response.headers.get('x-request-id')!);
      expect(record).toMatchObject({
        usage_source: 'counted',
        outcome: 'success',
        prompt_tokens: await countedPrompt(),
        completion_tokens: await countedCompletion(),
      });
    });
  });

  it('records a client that leaves mid-stream as 499 and aborts the upstream request', async () => {
    // Slow enough that the whole stream would take seconds, so only an abort explains an early end upstream.
    testApp.upstream.setOptions({ chunkDelayMs: 300 });
    const client = new AbortController();
    const response = await fetch(`${origin}/v1/chat/completions`, {
      method: 'POST',
      headers: testApp.headers(),
      body: JSON.stringify({ ...chatPayload, stream: true }),
      signal: client.signal,
    });
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id')!;
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value as Uint8Array)).toContain('data: ');
    // Counted from here: the gateway cannot notice the abort before this synchronous block ends.
    const cutBefore = watcher.streamsCutByGateway;
    client.abort();

    // The upstream stream would take seconds more; the gateway must drop it rather than read it to the end.
    await watcher.waitForStreamCut(cutBefore, 5_000);
    await waitForRecord(testApp, requestId);
    const record = await flushAndFindOnlyRecord(testApp, requestId);
    expect(record).toMatchObject({
      outcome: 'client_disconnected',
      status: 499,
      error_code: 'client_disconnected',
      streamed: 1,
      usage_source: 'counted',
    });
    expect(record.prompt_tokens).toBeGreaterThan(0);
    expect(record.first_token_ms).not.toBeNull();
  });

  it('records a request for an unknown model once, as an error with no cost', async () => {
    const response = await postChat({ ...chatPayload, model: 'no-such-model' });
    expect(response.statusCode).toBe(404);
    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record).toMatchObject({
      model: 'no-such-model',
      provider_id: null,
      outcome: 'error',
      status: 404,
      error_code: 'model_not_found',
      usage_source: 'none',
      cost_micros: 0,
    });
  });

  it("updates the key's last use once its usage is written", async () => {
    const { key, secret } = await createTestKey(testApp, { name: 'last-used' });
    expect(key.lastUsedAt).toBeNull();
    const response = await postChat(chatPayload, testApp.headers(secret));
    expect(response.statusCode).toBe(200);
    const record = await flushAndFindOnlyRecord(testApp, response.headers['x-request-id'] as string);
    expect(record.key_id).toBe(key.id);
    const after = (await testApp.instance.services.keys.list()).find((listed) => listed.id === key.id)!;
    expect(after.lastUsedAt).toBe(record.created_at);
    // Another key's use must not touch this one.
    const other = await postChat(chatPayload, testApp.headers(testKey));
    await flushAndFindOnlyRecord(testApp, other.headers['x-request-id'] as string);
    const unchanged = (await testApp.instance.services.keys.list()).find((listed) => listed.id === key.id)!;
    expect(unchanged.lastUsedAt).toBe(record.created_at);
  });

  it('writes records appended while an earlier flush is still running when flushed again', async () => {
    const journal = testApp.instance.services.gateway.journal;
    const record = (requestId: string) => buildUsageRecord({ request_id: requestId, key_id: bootstrapKeyId });
    journal.append(record('flush-first'));
    const firstFlush = journal.flush();
    journal.append(record('flush-second'));
    await journal.flush();
    const written = await testApp.instance.services.usage.listRecent(1_000);
    expect(written.map((row) => row.request_id)).toEqual(expect.arrayContaining(['flush-first', 'flush-second']));
    await firstFlush;
  });
});
