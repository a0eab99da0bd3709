import {
  mockCompletionText,
  mockEmbeddingVector,
  startMockUpstream,
  type MockUpstreamHandle,
} from '@aihub/mock-upstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser } from '../../lib/sse-parser.ts';
import type { ChatRequest } from '../spec/openai-types.ts';
import {
  MalformedUpstreamResponse,
  type ProviderTarget,
  type StreamItem,
  type UpstreamHttpRequest,
} from '../spec/provider-adapter.ts';
import { geminiAdapter } from './gemini-adapter.ts';

/** The adapter against the mock's Gemini routes: what one writes, the other must read, and back. */
describe('geminiAdapter against the mock upstream', () => {
  let upstream: MockUpstreamHandle;
  let target: ProviderTarget;
  beforeAll(async () => {
    upstream = await startMockUpstream({ chunks: 3 });
    target = {
      baseUrl: upstream.url.replace(/\/v1$/, '/v1beta'),
      apiKey: 'key',
      headers: {},
      upstreamModel: 'gemini-2.5-flash',
      options: {},
    };
  });
  afterAll(() => upstream.close());

  const send = (request: UpstreamHttpRequest, headers: Record<string, string> = {}) =>
    fetch(`${target.baseUrl}${request.path}`, {
      method: 'POST',
      headers: { ...request.headers, ...headers },
      body: request.body,
    });

  async function streamItems(request: ChatRequest, headers: Record<string, string> = {}): Promise<StreamItem[]> {
    const response = await send(geminiAdapter.buildChatRequest(request, target), headers);
    const parser = new SseParser();
    const decoder = geminiAdapter.createChatStreamDecoder(request);
    const items: StreamItem[] = [];
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      for (const event of parser.push(chunk)) items.push(...decoder.decode(event));
    }
    for (const event of parser.end()) items.push(...decoder.decode(event));
    items.push(...(decoder.end?.() ?? []));
    return items;
  }

  const weatherRequest: ChatRequest = {
    model: 'gemini',
    messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
    tools: [
      {
        type: 'function',
        function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ],
  };

  it('completes a chat', async () => {
    const request: ChatRequest = { model: 'gemini', messages: [{ role: 'user', content: 'Hello there!' }] };
    const response = await send(geminiAdapter.buildChatRequest(request, target));
    const { completion, usage } = geminiAdapter.parseChatResponse(await response.text(), request);
    expect(completion.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: mockCompletionText(3) }, finish_reason: 'stop' },
    ]);
    expect(usage).toEqual({ promptTokens: 13, completionTokens: 3, cachedTokens: 0 });
  });

  it('runs a tool loop: call, result, answer', async () => {
    const first = await send(geminiAdapter.buildChatRequest(weatherRequest, target));
    const { completion } = geminiAdapter.parseChatResponse(await first.text(), weatherRequest);
    const message = completion.choices[0]!.message!;
    expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
    expect(message.tool_calls).toMatchObject([
      { type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
    ]);

    const followUp: ChatRequest = {
      ...weatherRequest,
      messages: [
        ...weatherRequest.messages,
        { role: 'assistant', content: null, tool_calls: message.tool_calls! },
        { role: 'tool', tool_call_id: message.tool_calls![0]!.id, content: '{"forecast":"sunny"}' },
      ],
    };
    const second = await send(geminiAdapter.buildChatRequest(followUp, target));
    expect(second.status).toBe(200);
    const answer = geminiAdapter.parseChatResponse(await second.text(), followUp).completion;
    expect(answer.choices[0]).toMatchObject({ message: { content: mockCompletionText(3) }, finish_reason: 'stop' });
  });

  it('streams text, then usage and done', async () => {
    const items = await streamItems({ model: 'gemini', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    const text = items
      .map((item) => (item.kind === 'chunk' ? (item.chunk.choices[0]?.delta?.content ?? '') : ''))
      .join('');
    expect(text).toBe(mockCompletionText(3));
    expect(items.at(-2)).toMatchObject({ kind: 'usage', usage: { promptTokens: 11, completionTokens: 3 } });
    expect(items.at(-1)).toEqual({ kind: 'done' });
  });

  it('streams a function call', async () => {
    const items = await streamItems({ ...weatherRequest, stream: true });
    const finish = items.flatMap((item) =>
      item.kind === 'chunk' ? item.chunk.choices.map((choice) => choice.finish_reason) : [],
    );
    expect(finish.at(-1)).toBe('tool_calls');
  });

  it('reports a truncated stream', async () => {
    await expect(
      streamItems(
        { model: 'gemini', messages: [{ role: 'user', content: 'Hi' }], stream: true },
        { 'x-mock-fail': 'truncated' },
      ),
    ).rejects.toThrow(MalformedUpstreamResponse);
  });

  it('embeds', async () => {
    const request = { model: 'embed', input: ['a', 'b'], dimensions: 4 };
    const response = await send(
      geminiAdapter.embeddings!.buildRequest(request, { ...target, upstreamModel: 'gemini-embedding-001' }),
    );
    const { response: parsed } = geminiAdapter.embeddings!.parseResponse(await response.text(), request);
    expect(parsed.data.map((item) => item.embedding)).toEqual([
      mockEmbeddingVector('a', 4),
      mockEmbeddingVector('b', 4),
    ]);
  });

  it('reads the mock’s Gemini-shaped errors', async () => {
    const request: ChatRequest = { model: 'gemini', messages: [{ role: 'system', content: 'only a system prompt' }] };
    const response = await send(geminiAdapter.buildChatRequest(request, target));
    expect(response.status).toBe(400);
    expect(geminiAdapter.parseError(400, await response.text())).toMatchObject({ type: 'INVALID_ARGUMENT' });
  });
});
