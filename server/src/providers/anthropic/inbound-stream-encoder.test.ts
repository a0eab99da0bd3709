import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors/app-error.ts';
import type { ChatChunkChoice, ChatCompletionChunk, ChatRequest } from '../spec/openai-types.ts';
import type { InboundStreamEncoder } from '../spec/inbound-codec.ts';
import type { StreamItem, TokenUsage } from '../spec/provider-adapter.ts';
import { anthropicAdapter } from './anthropic-adapter.ts';
import type { AnthropicContentBlock, AnthropicStreamEvent } from './anthropic-types.ts';
import { chunkings, decodeSseFixture, parseSse } from './fixture-support.ts';
import { anthropicInboundCodec } from './inbound-codec.ts';

const chatRequest: ChatRequest = { model: 'claude-alias', messages: [{ role: 'user', content: 'Hi' }], stream: true };

function chunk(delta: ChatChunkChoice['delta'], finishReason: string | null = null): StreamItem {
  const body: ChatCompletionChunk = {
    id: 'chatcmpl-42',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-4o',
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  };
  return { kind: 'chunk', chunk: body, raw: undefined };
}

function usageItem(usage: TokenUsage): StreamItem {
  const body: ChatCompletionChunk = {
    id: 'chatcmpl-42',
    object: 'chat.completion.chunk',
    model: 'gpt-4o',
    choices: [],
  };
  return { kind: 'usage', usage, chunk: body, raw: undefined };
}

const done: StreamItem = { kind: 'done' };

function encodeAll(
  items: StreamItem[],
  encoder = anthropicInboundCodec.createStreamEncoder(chatRequest, 'claude-alias'),
) {
  return items.map((item) => encoder.encode(item)).join('');
}

/** Parses encoder output the way an SDK does, checking each event's name matches its type. */
function parseEvents(text: string): AnthropicStreamEvent[] {
  return parseSse(text, [7]).map((event) => {
    const data = JSON.parse(event.data) as AnthropicStreamEvent;
    expect(event.event).toBe(data.type);
    return data;
  });
}

/**
 * Checks the event grammar Anthropic clients rely on and rebuilds the message from it: message_start first; blocks
 * numbered from 0, each started, given deltas and stopped before the next; one message_delta; message_stop last.
 */
function assembleMessage(events: AnthropicStreamEvent[]) {
  expect(events[0]?.type).toBe('message_start');
  expect(events.at(-1)?.type).toBe('message_stop');
  expect(events.at(-2)?.type).toBe('message_delta');
  expect(events.filter((event) => event.type === 'message_delta')).toHaveLength(1);
  const content: AnthropicContentBlock[] = [];
  const partialJson: string[] = [];
  let open: number | undefined;
  for (const event of events.slice(1, -2)) {
    switch (event.type) {
      case 'content_block_start':
        expect(open).toBeUndefined();
        expect(event.index).toBe(content.length);
        open = event.index;
        content.push(structuredClone(event.content_block));
        partialJson.push('');
        break;
      case 'content_block_delta': {
        expect(event.index).toBe(open);
        const block = content[event.index]!;
        const delta = event.delta;
        if (delta.type === 'text_delta' && block.type === 'text') block.text += delta.text;
        else if (delta.type === 'thinking_delta' && block.type === 'thinking') block.thinking += delta.thinking;
        else if (delta.type === 'signature_delta' && block.type === 'thinking') block.signature = delta.signature;
        else if (delta.type === 'input_json_delta' && block.type === 'tool_use')
          partialJson[event.index] += delta.partial_json;
        else throw new Error(`${delta.type} inside a ${block.type} block`);
        break;
      }
      case 'content_block_stop':
        expect(event.index).toBe(open);
        open = undefined;
        break;
      case 'message_start':
      case 'message_delta':
      case 'message_stop':
      case 'ping':
      case 'error':
        throw new Error(`unexpected ${event.type} between message_start and message_delta`);
    }
  }
  expect(open).toBeUndefined();
  content.forEach((block, index) => {
    if (block.type === 'tool_use' && partialJson[index])
      block.input = JSON.parse(partialJson[index]) as Record<string, unknown>;
  });
  const start = events[0] as Extract<AnthropicStreamEvent, { type: 'message_start' }>;
  const delta = events.at(-2) as Extract<AnthropicStreamEvent, { type: 'message_delta' }>;
  return { ...start.message, content, stop_reason: delta.delta.stop_reason, usage: delta.usage };
}

describe('AnthropicStreamEncoder', () => {
  it('encodes a text stream as a complete Anthropic event sequence', () => {
    const text = encodeAll([
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hello' }),
      chunk({ content: '!' }),
      chunk({}, 'stop'),
      usageItem({ promptTokens: 25, completionTokens: 15, cachedTokens: 5 }),
      done,
    ]);
    const events = parseEvents(text);
    expect(events.map((event) => event.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(assembleMessage(events)).toEqual({
      id: 'msg_chatcmpl-42',
      type: 'message',
      role: 'assistant',
      model: 'claude-alias',
      content: [{ type: 'text', text: 'Hello!' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 20, output_tokens: 15, cache_creation_input_tokens: 0, cache_read_input_tokens: 5 },
    });
  });

  it('holds message_delta back from the finish chunk until usage arrives', () => {
    const encoder = anthropicInboundCodec.createStreamEncoder(chatRequest, 'claude-alias');
    encoder.encode(chunk({ content: 'Hi' }));
    expect(encoder.encode(chunk({}, 'length'))).not.toContain('message_delta');
    const atUsage = encoder.encode(usageItem({ promptTokens: 3, completionTokens: 7, cachedTokens: 0 }));
    expect(parseEvents(atUsage)).toEqual([
      {
        type: 'message_delta',
        delta: { stop_reason: 'max_tokens', stop_sequence: null },
        usage: { input_tokens: 3, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    ]);
    expect(parseEvents(encoder.encode(done))).toEqual([{ type: 'message_stop' }]);
  });

  it('splits cache writes and reads out of input_tokens in message_delta', () => {
    const encoder = anthropicInboundCodec.createStreamEncoder(chatRequest, 'claude-alias');
    encoder.encode(chunk({ content: 'Hi' }, 'stop'));
    const usage = { promptTokens: 2000, completionTokens: 7, cachedTokens: 1500, cacheWriteTokens: 400 };
    expect(parseEvents(encoder.encode(usageItem(usage)))).toEqual([
      {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { input_tokens: 100, output_tokens: 7, cache_creation_input_tokens: 400, cache_read_input_tokens: 1500 },
      },
    ]);
  });

  it('sends message_delta at once when usage came before the finish', () => {
    const encoder = anthropicInboundCodec.createStreamEncoder(chatRequest, 'claude-alias');
    encoder.encode(usageItem({ promptTokens: 3, completionTokens: 1, cachedTokens: 0 }));
    const atFinish = parseEvents(encoder.encode(chunk({ content: 'x' }, 'stop')));
    expect(atFinish.map((event) => event.type)).toEqual([
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
    ]);
  });

  it('closes the stream with zero usage and end_turn when neither arrived', () => {
    const message = assembleMessage(parseEvents(encodeAll([chunk({ content: 'cut' }), done])));
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage).toMatchObject({ input_tokens: 0, output_tokens: 0 });
  });

  it('encodes an empty stream as start, delta and stop', () => {
    expect(parseEvents(encodeAll([done])).map((event) => event.type)).toEqual([
      'message_start',
      'message_delta',
      'message_stop',
    ]);
  });

  it('opens one tool_use block per OpenAI tool call, parallel calls included', () => {
    const text = encodeAll([
      chunk({ role: 'assistant', content: null }),
      chunk({
        tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({
        tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }],
      }),
      chunk({}, 'tool_calls'),
      usageItem({ promptTokens: 50, completionTokens: 30, cachedTokens: 0 }),
      done,
    ]);
    const message = assembleMessage(parseEvents(text));
    expect(message.content).toEqual([
      { type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris' } },
      { type: 'tool_use', id: 'call_b', name: 'get_time', input: {} },
    ]);
    expect(message.stop_reason).toBe('tool_use');
  });

  it.each(chunkings)(
    'relays an Anthropic tool_use stream through the decoder and back (chunks of $sizes)',
    ({ sizes }) => {
      const items = decodeSseFixture(
        'stream-tool-use.sse',
        anthropicAdapter.createChatStreamDecoder(chatRequest),
        sizes,
      );
      const message = assembleMessage(parseEvents(encodeAll(items)));
      expect(message).toMatchObject({
        id: 'msg_014p7gG3wDgGV9EUtLvnow3U',
        model: 'claude-alias',
        content: [
          { type: 'text', text: "Okay, let's check the weather for San Francisco, CA:" },
          {
            type: 'tool_use',
            id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
            name: 'get_weather',
            input: { location: 'San Francisco, CA', unit: 'fahrenheit' },
          },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 472, output_tokens: 89 },
      });
    },
  );

  it('relays thinking with its signature before the text', () => {
    const items = decodeSseFixture('stream-thinking.sse', anthropicAdapter.createChatStreamDecoder(chatRequest), [16]);
    const message = assembleMessage(parseEvents(encodeAll(items)));
    expect(message.content).toEqual([
      {
        type: 'thinking',
        thinking: expect.stringMatching(/^I need to find the GCD[\s\S]*= 21$/),
        signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...',
      },
      { type: 'text', text: 'The greatest common divisor of 1071 and 462 is **21**.' },
    ]);
  });

  it('ends with an error event and writes nothing after it', () => {
    const encoder: InboundStreamEncoder = anthropicInboundCodec.createStreamEncoder(chatRequest, 'claude-alias');
    encoder.encode(chunk({ content: 'partial' }));
    const failure = encoder.encodeError(new AppError('upstream_unavailable', 'the upstream is overloaded'));
    expect(failure).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"the upstream is overloaded"}}\n\n',
    );
    expect(encoder.encode(done)).toBe('');
  });
});
