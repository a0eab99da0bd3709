import { describe, expect, it } from 'vitest';
import type { ChatCompletionChunk, ChatRequest } from '../spec/openai-types.ts';
import { MalformedUpstreamResponse, UpstreamStreamError, type StreamItem } from '../spec/provider-adapter.ts';
import { anthropicAdapter } from './anthropic-adapter.ts';
import { chunkings, decodeSseFixture, parseSse, readFixture } from './fixture-support.ts';

const chatRequest: ChatRequest = { model: 'alias', messages: [{ role: 'user', content: 'Hi' }] };

function parse(name: string) {
  return anthropicAdapter.parseChatResponse(readFixture(name), chatRequest);
}

function decode(name: string, sizes: readonly number[]): StreamItem[] {
  return decodeSseFixture(name, anthropicAdapter.createChatStreamDecoder(chatRequest), sizes);
}

function chunksOf(items: StreamItem[]): ChatCompletionChunk[] {
  return items.flatMap((item) => (item.kind === 'done' ? [] : [item.chunk]));
}

/** Reassembles a decoded stream the way an OpenAI client would. */
function collect(items: StreamItem[]) {
  let content = '';
  let reasoning = '';
  let signature = '';
  const toolCalls: { id?: string; name?: string; arguments: string }[] = [];
  const finishReasons: string[] = [];
  for (const chunk of chunksOf(items)) {
    for (const choice of chunk.choices) {
      const delta = choice.delta ?? {};
      content += delta.content ?? '';
      reasoning += delta.reasoning_content ?? '';
      signature += delta.reasoning_signature ?? '';
      for (const call of delta.tool_calls ?? []) {
        const entry = (toolCalls[call.index] ??= { arguments: '' });
        if (call.id) entry.id = call.id;
        if (call.function?.name) entry.name = call.function.name;
        entry.arguments += call.function?.arguments ?? '';
      }
      if (choice.finish_reason) finishReasons.push(choice.finish_reason);
    }
  }
  return { content, reasoning, signature, toolCalls, finishReasons };
}

describe('anthropicAdapter.parseChatResponse', () => {
  it('turns a text message into a chat completion', () => {
    const { completion, usage } = parse('message-text.json');
    expect(completion).toMatchObject({
      id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
      object: 'chat.completion',
      model: 'claude-sonnet-4-20250514',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi! My name is Claude.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 2095, completion_tokens: 503, total_tokens: 2598 },
    });
    expect(completion.choices[0]?.message?.tool_calls).toBeUndefined();
    expect(usage).toEqual({ promptTokens: 2095, completionTokens: 503, cachedTokens: 0, cacheWriteTokens: 0 });
  });

  it('turns tool_use blocks into tool_calls with JSON string arguments', () => {
    const { completion } = parse('message-tool-use.json');
    expect(completion.choices[0]).toEqual({
      index: 0,
      finish_reason: 'tool_calls',
      message: {
        role: 'assistant',
        content: "I'll check the current weather in San Francisco for you.",
        tool_calls: [
          {
            id: 'toolu_01A09q90qw90lq917835lq9',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' },
          },
        ],
      },
    });
  });

  it('keeps thinking as reasoning_content with its signature', () => {
    const message = parse('message-thinking.json').completion.choices[0]?.message;
    expect(message).toMatchObject({
      content: 'Yes, there are infinitely many prime numbers such that...',
      reasoning_content: "To approach this, let's think about what we know about prime numbers...",
      reasoning_signature: expect.stringMatching(/^zbbJhbGciOiJFU8zI1NiIsImtakcjsu38219c0/),
    });
  });

  it('counts cache reads and writes as prompt tokens, reads as cached, and maps max_tokens to length', () => {
    const { completion, usage } = parse('message-cache-usage.json');
    expect(usage).toEqual({
      promptTokens: 21 + 1800 + 188086,
      completionTokens: 393,
      cachedTokens: 188086,
      cacheWriteTokens: 1800,
    });
    expect(completion.usage).toMatchObject({
      prompt_tokens: 189907,
      prompt_tokens_details: { cached_tokens: 188086, cache_write_tokens: 1800 },
    });
    expect(completion.choices[0]?.finish_reason).toBe('length');
  });

  it.each([
    ['stop_sequence', 'stop'],
    ['pause_turn', 'stop'],
    ['refusal', 'content_filter'],
    ['tool_use', 'tool_calls'],
  ])('maps stop_reason %s to %s', (stopReason, finishReason) => {
    const body = JSON.stringify({ ...JSON.parse(readFixture('message-text.json')), stop_reason: stopReason });
    expect(anthropicAdapter.parseChatResponse(body, chatRequest).completion.choices[0]?.finish_reason).toBe(
      finishReason,
    );
  });

  it('gives content null when the message has only tool calls', () => {
    const body = JSON.parse(readFixture('message-tool-use.json')) as { content: unknown[] };
    body.content = body.content.slice(1);
    const message = anthropicAdapter.parseChatResponse(JSON.stringify(body), chatRequest).completion.choices[0]
      ?.message;
    expect(message?.content).toBeNull();
  });

  it('rejects bodies that are not Anthropic messages', () => {
    expect(() => anthropicAdapter.parseChatResponse('<html>', chatRequest)).toThrow(MalformedUpstreamResponse);
    expect(() => anthropicAdapter.parseChatResponse('[]', chatRequest)).toThrow(MalformedUpstreamResponse);
    expect(() => anthropicAdapter.parseChatResponse('{"id":"msg_1"}', chatRequest)).toThrow(MalformedUpstreamResponse);
  });
});

describe('anthropicAdapter.parseError', () => {
  it('reads Anthropic error bodies', () => {
    expect(anthropicAdapter.parseError(400, readFixture('error-invalid-request.json'))).toEqual({
      message: 'max_tokens: Field required',
      type: 'invalid_request_error',
      code: undefined,
    });
    expect(anthropicAdapter.parseError(529, readFixture('error-overloaded.json'))).toMatchObject({
      message: 'Overloaded',
      type: 'overloaded_error',
    });
  });

  it('falls back to the status for bodies it cannot read, without echoing them', () => {
    expect(anthropicAdapter.parseError(502, '<html>Bad gateway</html>')).toEqual({
      message: 'upstream answered with status 502',
      type: undefined,
      code: undefined,
    });
  });
});

describe('anthropicAdapter stream decoding', () => {
  it.each(chunkings)('decodes a text stream in chunks of $sizes', ({ sizes }) => {
    const items = decode('stream-text.sse', sizes);
    const chunks = chunksOf(items);
    expect(chunks[0]).toMatchObject({
      id: 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY',
      object: 'chat.completion.chunk',
      model: 'claude-opus-4-6',
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    expect(typeof chunks[0]?.created).toBe('number');
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(collect(items)).toMatchObject({ content: 'Hello!', finishReasons: ['stop'] });
    expect(items.map((item) => item.kind)).toEqual(['chunk', 'chunk', 'chunk', 'chunk', 'usage', 'done']);
    const usageItem = items.at(-2);
    expect(usageItem).toMatchObject({
      kind: 'usage',
      usage: { promptTokens: 25, completionTokens: 15, cachedTokens: 0 },
      chunk: { choices: [], usage: { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 } },
      raw: undefined,
    });
  });

  it.each(chunkings)('decodes a tool call split over many input_json_delta events in chunks of $sizes', ({ sizes }) => {
    const items = decode('stream-tool-use.sse', sizes);
    const collected = collect(items);
    expect(collected.content).toBe("Okay, let's check the weather for San Francisco, CA:");
    expect(collected.toolCalls).toEqual([
      {
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        name: 'get_weather',
        arguments: '{"location": "San Francisco, CA", "unit": "fahrenheit"}',
      },
    ]);
    expect(collected.finishReasons).toEqual(['tool_calls']);
    const opening = chunksOf(items).find((chunk) => chunk.choices[0]?.delta?.tool_calls?.[0]?.id);
    expect(opening?.choices[0]?.delta?.tool_calls).toEqual([
      {
        index: 0,
        id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
        type: 'function',
        function: { name: 'get_weather', arguments: '' },
      },
    ]);
    expect(items.find((item) => item.kind === 'usage')).toMatchObject({
      usage: { promptTokens: 472, completionTokens: 89 },
    });
  });

  it.each(chunkings)('decodes thinking and its signature in chunks of $sizes', ({ sizes }) => {
    const items = decode('stream-thinking.sse', sizes);
    const collected = collect(items);
    expect(collected.reasoning).toBe(
      'I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147' +
        '\n462 = 3 × 147 + 21\n147 = 7 × 21 + 0\nSo GCD(1071, 462) = 21',
    );
    expect(collected.signature).toBe('EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...');
    expect(collected.content).toBe('The greatest common divisor of 1071 and 462 is **21**.');
    // message_delta repeats the input counts with nulls for the cache ones; the nulls must not erase anything.
    expect(items.find((item) => item.kind === 'usage')).toMatchObject({
      usage: { promptTokens: 50, completionTokens: 180, cachedTokens: 0 },
    });
  });

  it.each(chunkings)('reports cache writes and reads from message_start in chunks of $sizes', ({ sizes }) => {
    const items = decode('stream-cache-usage.sse', sizes);
    expect(collect(items)).toMatchObject({ content: 'Love, class and reputation.', finishReasons: ['stop'] });
    // message_delta repeats the cache counts (as Anthropic now does); they must not be added twice.
    const usageItem = items.find((item) => item.kind === 'usage');
    expect(usageItem).toMatchObject({
      usage: { promptTokens: 21 + 1800 + 188086, completionTokens: 9, cachedTokens: 188086, cacheWriteTokens: 1800 },
      chunk: {
        usage: { prompt_tokens: 189907, prompt_tokens_details: { cached_tokens: 188086, cache_write_tokens: 1800 } },
      },
    });
  });

  it('reads cache counts that arrive only in message_delta', () => {
    const decoder = anthropicAdapter.createChatStreamDecoder(chatRequest);
    const event = (data: unknown) => decoder.decode({ event: undefined, data: JSON.stringify(data) });
    event({
      type: 'message_start',
      message: { id: 'msg_x', model: 'claude', content: [], usage: { input_tokens: 5, output_tokens: 1 } },
    });
    event({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 3, cache_creation_input_tokens: 40, cache_read_input_tokens: null },
    });
    const [usageItem] = event({ type: 'message_stop' });
    expect(usageItem).toMatchObject({
      kind: 'usage',
      usage: { promptTokens: 45, completionTokens: 3, cachedTokens: 0, cacheWriteTokens: 40 },
    });
  });

  it('numbers tool calls apart from content blocks', () => {
    const decoder = anthropicAdapter.createChatStreamDecoder(chatRequest);
    const event = (data: unknown) => decoder.decode({ event: undefined, data: JSON.stringify(data) });
    event({
      type: 'message_start',
      message: { id: 'msg_x', model: 'claude', content: [], usage: { input_tokens: 1, output_tokens: 0 } },
    });
    event({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    const second = event({
      type: 'content_block_start',
      index: 2,
      content_block: { type: 'tool_use', id: 'toolu_b', name: 'b', input: {} },
    });
    const fragment = event({
      type: 'content_block_delta',
      index: 2,
      delta: { type: 'input_json_delta', partial_json: '{}' },
    });
    expect(second[0]).toMatchObject({ chunk: { choices: [{ delta: { tool_calls: [{ index: 0, id: 'toolu_b' }] } }] } });
    expect(fragment[0]).toMatchObject({
      chunk: { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '{}' } }] } }] },
    });
  });

  it('throws UpstreamStreamError at an error event, after relaying what came before', () => {
    const decoder = anthropicAdapter.createChatStreamDecoder(chatRequest);
    const relayed: StreamItem[] = [];
    let caught: unknown;
    try {
      for (const event of parseSse(readFixture('stream-error.sse'), [5])) relayed.push(...decoder.decode(event));
    } catch (error) {
      caught = error;
    }
    expect(collect(relayed).content).toBe('Once upon');
    expect(caught).toBeInstanceOf(UpstreamStreamError);
    expect((caught as UpstreamStreamError).details).toEqual({
      message: 'Overloaded',
      type: 'overloaded_error',
      code: undefined,
    });
  });

  it.each(chunkings)('reports a stream cut before message_stop as malformed (chunks of $sizes)', ({ sizes }) => {
    expect(() => decode('stream-truncated.sse', sizes)).toThrow(MalformedUpstreamResponse);
  });

  it('rejects events that are not JSON, lack their fields, or come before message_start', () => {
    const decoder = anthropicAdapter.createChatStreamDecoder(chatRequest);
    expect(() => decoder.decode({ event: 'message_start', data: '{"choices": [ nope' })).toThrow(
      MalformedUpstreamResponse,
    );
    expect(() => decoder.decode({ event: 'message_start', data: '{"type":"message_start"}' })).toThrow(
      MalformedUpstreamResponse,
    );
    expect(() =>
      decoder.decode({
        event: 'content_block_delta',
        data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}',
      }),
    ).toThrow(MalformedUpstreamResponse);
  });

  it('ignores pings and event types it does not know', () => {
    const decoder = anthropicAdapter.createChatStreamDecoder(chatRequest);
    expect(decoder.decode({ event: 'ping', data: '{"type":"ping"}' })).toEqual([]);
    expect(decoder.decode({ event: 'future', data: '{"type":"future_event"}' })).toEqual([]);
  });
});
