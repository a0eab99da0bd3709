import { startMockUpstream, type MockUpstreamHandle } from '@aihub/mock-upstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser } from '../../lib/sse-parser.ts';
import type { ChatRequest } from '../spec/openai-types.ts';
import type { ProviderTarget, StreamItem } from '../spec/provider-adapter.ts';
import { anthropicAdapter } from './anthropic-adapter.ts';

/** The adapter against the mock's Anthropic route over a real socket: what the gateway will do, minus the gateway. */
describe('anthropicAdapter against the mock upstream', () => {
  let upstream: MockUpstreamHandle;
  let target: ProviderTarget;
  beforeAll(async () => {
    upstream = await startMockUpstream({ chunks: 4 });
    // Anthropic base URLs are configured without /v1; the adapter's path carries it.
    target = {
      baseUrl: upstream.url.replace(/\/v1$/, ''),
      apiKey: 'sk-ant-mock',
      headers: {},
      upstreamModel: 'claude-mock',
      options: {},
    };
  });
  afterAll(() => upstream.close());

  async function send(request: ChatRequest): Promise<Response> {
    const built = anthropicAdapter.buildChatRequest(request, target);
    return fetch(`${target.baseUrl}${built.path}`, { method: 'POST', headers: built.headers, body: built.body });
  }

  async function decodeStream(request: ChatRequest): Promise<StreamItem[]> {
    const response = await send(request);
    const decoder = anthropicAdapter.createChatStreamDecoder(request);
    const parser = new SseParser();
    const items: StreamItem[] = [];
    for await (const chunk of response.body as ReadableStream<Uint8Array>) {
      for (const event of parser.push(chunk)) items.push(...decoder.decode(event));
    }
    for (const event of parser.end()) items.push(...decoder.decode(event));
    items.push(...(decoder.end?.() ?? []));
    return items;
  }

  const weatherTool = {
    type: 'function' as const,
    function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
  };

  it('gets a completion with usage', async () => {
    const request: ChatRequest = { model: 'alias', messages: [{ role: 'user', content: 'Hello there!' }] };
    const parsed = anthropicAdapter.parseChatResponse(await (await send(request)).text(), request);
    expect(parsed.completion.choices[0]).toMatchObject({
      message: { role: 'assistant', content: 'tok0 tok1 tok2 tok3 ' },
      finish_reason: 'stop',
    });
    expect(parsed.usage).toEqual({ promptTokens: 13, completionTokens: 4, cachedTokens: 0, cacheWriteTokens: 0 });
  });

  it('streams a completion ending in usage and done', async () => {
    const request: ChatRequest = {
      model: 'alias',
      messages: [{ role: 'user', content: 'Hello there!' }],
      stream: true,
    };
    const items = await decodeStream(request);
    const text = items
      .map((item) => (item.kind === 'chunk' ? (item.chunk.choices[0]?.delta?.content ?? '') : ''))
      .join('');
    expect(text).toBe('tok0 tok1 tok2 tok3 ');
    expect(items.slice(-2)).toMatchObject([
      { kind: 'usage', usage: { promptTokens: 13, completionTokens: 4 } },
      { kind: 'done' },
    ]);
  });

  it('gets a tool call back, streamed and not', async () => {
    const request: ChatRequest = {
      model: 'alias',
      messages: [{ role: 'user', content: "What's the weather in Paris?" }],
      tools: [weatherTool],
    };
    const parsed = anthropicAdapter.parseChatResponse(await (await send(request)).text(), request);
    expect(parsed.completion.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    });

    const items = await decodeStream({ ...request, stream: true });
    const fragments = items.flatMap((item) =>
      item.kind === 'chunk' ? (item.chunk.choices[0]?.delta?.tool_calls ?? []) : [],
    );
    expect(fragments[0]).toMatchObject({ index: 0, function: { name: 'get_weather', arguments: '' } });
    expect(JSON.parse(fragments.map((fragment) => fragment.function?.arguments ?? '').join(''))).toEqual({
      city: 'Paris',
    });
  });

  it('reads the mock error body of a rejected request', async () => {
    const built = anthropicAdapter.buildChatRequest({ model: 'alias', messages: [] }, target);
    const body = JSON.stringify({ ...JSON.parse(built.body), messages: [] });
    const response = await fetch(`${target.baseUrl}${built.path}`, { method: 'POST', headers: built.headers, body });
    expect(response.status).toBe(400);
    expect(anthropicAdapter.parseError(response.status, await response.text())).toMatchObject({
      type: 'invalid_request_error',
      message: expect.stringContaining('messages'),
    });
  });
});
