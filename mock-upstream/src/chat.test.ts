import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockCompletionText, mockToolCallCompletionTokens } from './chat.ts';
import { startMockUpstream, type MockUpstreamHandle } from './server.ts';
import {
  chatRequest,
  parseChunk,
  postJson,
  readJson,
  readSse,
  type ChatCompletionBody,
  type ErrorBody,
} from './test-support.ts';
import { countChatPromptTokens } from './token-counting.ts';

describe('POST /v1/chat/completions', () => {
  let upstream: MockUpstreamHandle;
  beforeAll(async () => {
    upstream = await startMockUpstream({ chunks: 4 });
  });
  afterAll(() => upstream.close());

  it('answers a non-stream request with a chat.completion echoing the model', async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, chatRequest({ model: 'anything-v2' }));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    const completion = await readJson<ChatCompletionBody>(response);
    expect(completion).toMatchObject({
      object: 'chat.completion',
      model: 'anything-v2',
      choices: [{ index: 0, message: { role: 'assistant', content: 'tok0 tok1 tok2 tok3 ' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 13, completion_tokens: 4, total_tokens: 17, prompt_tokens_details: { cached_tokens: 0 } },
    });
    expect(completion.id).toMatch(/^chatcmpl-mock-\d+$/);
    expect(typeof completion.created).toBe('number');
  });

  it('counts prompt tokens as messages * 10 + round(content characters / 4)', () => {
    expect(countChatPromptTokens([{ role: 'user', content: 'Hello there!' }])).toBe(10 + 3);
    const parts = [
      { type: 'text', text: 'abcdef' },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
    ];
    expect(
      countChatPromptTokens([
        { role: 'system', content: 'ab' },
        { role: 'user', content: parts },
      ]),
    ).toBe(20 + 2);
    expect(countChatPromptTokens([{ role: 'assistant', content: null, tool_calls: [] }])).toBe(10);
  });

  it('takes the chunk count from x-mock-chunks', async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, chatRequest(), { 'x-mock-chunks': '2' });
    const completion = await readJson<ChatCompletionBody>(response);
    expect(completion.choices[0]!.message.content).toBe(mockCompletionText(2));
    expect(completion.usage!.completion_tokens).toBe(2);
  });

  it('streams role, content, finish, usage and [DONE] frames when include_usage is set', async () => {
    const response = await postJson(
      `${upstream.url}/chat/completions`,
      chatRequest({ stream: true, stream_options: { include_usage: true } }),
    );
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const { dataLines, error } = await readSse(response);
    expect(error).toBeUndefined();
    expect(dataLines.at(-1)).toBe('[DONE]');
    const chunks = dataLines.slice(0, -1).map(parseChunk);
    expect(chunks).toHaveLength(1 + 4 + 1 + 1);
    for (const chunk of chunks) expect(chunk).toMatchObject({ object: 'chat.completion.chunk', model: 'mock-gpt' });
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.slice(1, 5).map((chunk) => chunk.choices[0]!.delta.content)).toEqual([
      'tok0 ',
      'tok1 ',
      'tok2 ',
      'tok3 ',
    ]);
    expect(chunks[5]!.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(chunks.slice(0, 6).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks[6]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 13, completion_tokens: 4, total_tokens: 17 },
    });
  });

  it('sends no usage frame when include_usage is not asked for', async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, chatRequest({ stream: true }));
    const { dataLines } = await readSse(response);
    const chunks = dataLines.slice(0, -1).map(parseChunk);
    expect(chunks).toHaveLength(1 + 4 + 1);
    expect(chunks.every((chunk) => !('usage' in chunk))).toBe(true);
    expect(dataLines.at(-1)).toBe('[DONE]');
  });

  it('streams a role, a finish and [DONE] when configured for zero chunks', async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, chatRequest({ stream: true }), {
      'x-mock-chunks': '0',
    });
    const { dataLines } = await readSse(response);
    expect(dataLines).toHaveLength(3);
  });

  describe('tool calls', () => {
    const weatherTools = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } },
      { type: 'function', function: { name: 'other' } },
    ];

    it('calls the first tool when tools are offered and the last user message asks about the weather', async () => {
      const response = await postJson(
        `${upstream.url}/chat/completions`,
        chatRequest({
          tools: weatherTools,
          messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather?' }] }],
        }),
      );
      const completion = await readJson<ChatCompletionBody>(response);
      expect(completion.choices[0]).toMatchObject({
        message: { role: 'assistant', content: null },
        finish_reason: 'tool_calls',
      });
      expect(completion.choices[0]!.message.tool_calls).toEqual([
        {
          id: expect.stringMatching(/^call_mock_\d+$/),
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
        },
      ]);
      expect(completion.usage!.completion_tokens).toBe(mockToolCallCompletionTokens);
    });

    it('streams the call as an opening delta and argument fragments, finishing with tool_calls', async () => {
      const response = await postJson(
        `${upstream.url}/chat/completions`,
        chatRequest({
          stream: true,
          stream_options: { include_usage: true },
          tools: weatherTools,
          messages: [{ role: 'user', content: 'what is the weather in Paris' }],
        }),
      );
      const { dataLines } = await readSse(response);
      expect(dataLines.at(-1)).toBe('[DONE]');
      const chunks = dataLines.slice(0, -1).map(parseChunk);
      const calls = chunks.flatMap((chunk) => chunk.choices[0]?.delta.tool_calls ?? []);
      expect(calls[0]).toMatchObject({
        index: 0,
        id: expect.stringMatching(/^call_mock_\d+$/),
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      });
      const fragments = calls.slice(1).map((call) => call.function.arguments);
      expect(fragments.length).toBeGreaterThan(1);
      expect(JSON.parse(fragments.join(''))).toEqual({ city: 'Paris' });
      expect(chunks.some((chunk) => (chunk.choices[0]?.delta.content ?? '') !== '')).toBe(false);
      expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
      expect(chunks.at(-1)!.usage!.completion_tokens).toBe(mockToolCallCompletionTokens);
    });

    it('answers in text once a tool result is the latest turn, or when the user does not ask', async () => {
      const afterResult = chatRequest({
        tools: weatherTools,
        messages: [
          { role: 'user', content: 'weather in Paris?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        ],
      });
      const answered = await readJson<ChatCompletionBody>(
        await postJson(`${upstream.url}/chat/completions`, afterResult),
      );
      expect(answered.choices[0]).toMatchObject({ message: { content: mockCompletionText(4) }, finish_reason: 'stop' });

      const unrelated = chatRequest({ tools: weatherTools, messages: [{ role: 'user', content: 'weatherproof?' }] });
      const plain = await readJson<ChatCompletionBody>(await postJson(`${upstream.url}/chat/completions`, unrelated));
      expect(plain.choices[0]!.message.tool_calls).toBeUndefined();
    });
  });

  it('rejects a request without messages with a 400 naming the parameter', async () => {
    const response = await postJson(`${upstream.url}/chat/completions`, { model: 'mock-gpt' });
    expect(response.status).toBe(400);
    expect(await readJson<ErrorBody>(response)).toMatchObject({
      error: { type: 'invalid_request_error', param: 'messages' },
    });
  });

  it('rejects malformed JSON with an OpenAI-shaped 400', async () => {
    const response = await fetch(`${upstream.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model": "mock-gpt", ',
    });
    expect(response.status).toBe(400);
    const body = await readJson<ErrorBody>(response);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param: null, code: null });
    expect(typeof body.error.message).toBe('string');
  });
});
