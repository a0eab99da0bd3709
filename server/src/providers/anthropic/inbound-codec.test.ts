import Value from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { AppError, type ErrorCode } from '../../errors/app-error.ts';
import type { ChatCompletion, ChatRequest } from '../spec/openai-types.ts';
import { MalformedUpstreamResponse, UnsupportedRequest } from '../spec/provider-adapter.ts';
import type { AnthropicMessagesRequest } from './anthropic-types.ts';
import { buildMessagesRequest } from './build-messages-request.ts';
import { readJsonFixture } from './fixture-support.ts';
import { AnthropicMessagesRequestSchema, anthropicInboundCodec, countTokensInput } from './inbound-codec.ts';

const toolLoop = readJsonFixture<{ anthropic: AnthropicMessagesRequest; internal: ChatRequest }>(
  'inbound-request-tool-loop.json',
);

const minimal = (fields: Partial<AnthropicMessagesRequest> = {}): AnthropicMessagesRequest => ({
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  messages: [{ role: 'user', content: 'Hello, Claude' }],
  ...fields,
});

function completion(message: Record<string, unknown>, finishReason: string | null = 'stop'): ChatCompletion {
  return {
    id: 'chatcmpl-abc123',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finishReason }],
    usage: { prompt_tokens: 100, completion_tokens: 20, prompt_tokens_details: { cached_tokens: 60 } },
  };
}

describe('anthropicInboundCodec.decodeRequest', () => {
  it('decodes a tool loop with system, thinking, tool results and images', () => {
    expect(anthropicInboundCodec.decodeRequest(toolLoop.anthropic)).toEqual(toolLoop.internal);
  });

  it('round-trips through the Anthropic adapter to the same Anthropic body', () => {
    const internal = anthropicInboundCodec.decodeRequest(toolLoop.anthropic);
    expect(buildMessagesRequest(internal, 'claude-sonnet-4-5')).toEqual({
      body: toolLoop.anthropic,
      droppedParameters: [],
    });
  });

  it('round-trips sampling parameters, system blocks and streaming', () => {
    const body = minimal({
      system: [
        { type: 'text', text: 'One.' },
        { type: 'text', text: 'Two.' },
      ],
      temperature: 0.3,
      top_p: 0.8,
      top_k: 5,
      stream: true,
      tool_choice: { type: 'any' },
      tools: [{ name: 'now', input_schema: { type: 'object', properties: {} } }],
    });
    const internal = anthropicInboundCodec.decodeRequest(body);
    expect(internal).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
      tool_choice: 'required',
      temperature: 0.3,
      top_k: 5,
    });
    expect(buildMessagesRequest(internal, 'claude-sonnet-4-5').body).toEqual(body);
  });

  it.each([
    [1024, 'low'],
    [4095, 'low'],
    [4096, 'medium'],
    [16384, 'high'],
    [64000, 'high'],
  ])('maps a thinking budget of %i to reasoning_effort %s', (budget, effort) => {
    const body = minimal({ max_tokens: 70000, thinking: { type: 'enabled', budget_tokens: budget } });
    expect(anthropicInboundCodec.decodeRequest(body).reasoning_effort).toBe(effort);
  });

  it('decodes named tool choice, disabled thinking, error tool results and PDF documents', () => {
    const internal = anthropicInboundCodec.decodeRequest(
      minimal({
        tools: [{ name: 'lookup', input_schema: { type: 'object' } }],
        tool_choice: { type: 'tool', name: 'lookup' },
        thinking: { type: 'disabled' },
        messages: [
          { role: 'user', content: 'Look it up' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} }] },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'toolu_1', content: 'not found', is_error: true },
              {
                type: 'document',
                title: 'spec.pdf',
                source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              },
              { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'plain notes' } },
            ],
          },
        ],
      }),
    );
    expect(internal.tool_choice).toEqual({ type: 'function', function: { name: 'lookup' } });
    expect(internal.reasoning_effort).toBeUndefined();
    expect(internal.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'lookup', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Error: not found' },
      {
        role: 'user',
        content: [
          { type: 'file', file: { filename: 'spec.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
          { type: 'text', text: 'plain notes' },
        ],
      },
    ]);
  });

  it('keeps tool results that hold images as content parts', () => {
    const internal = anthropicInboundCodec.decodeRequest(
      minimal({
        messages: [
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_2',
                content: [
                  { type: 'text', text: 'screenshot:' },
                  { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBO' } },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(internal.messages).toEqual([
      {
        role: 'tool',
        tool_call_id: 'toolu_2',
        content: [
          { type: 'text', text: 'screenshot:' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO' } },
        ],
      },
    ]);
  });

  it('drops redacted thinking, which only Anthropic can read', () => {
    const internal = anthropicInboundCodec.decodeRequest(
      minimal({
        messages: [
          { role: 'user', content: 'Hi' },
          {
            role: 'assistant',
            content: [
              { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4a' },
              { type: 'text', text: 'Hello' },
            ],
          },
        ],
      }),
    );
    expect(internal.messages[1]).toEqual({ role: 'assistant', content: 'Hello' });
  });

  it.each([
    {
      name: 'a server tool',
      body: minimal({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }),
      param: 'tools[0]',
    },
    {
      name: 'a document by URL',
      body: minimal({
        messages: [
          { role: 'user', content: [{ type: 'document', source: { type: 'url', url: 'https://x.test/a.pdf' } }] },
        ],
      }),
      param: 'messages[0].content[0].source',
    },
    {
      name: 'a tool_use block in a user message',
      body: minimal({
        messages: [{ role: 'user', content: [{ type: 'tool_use', id: 't', name: 'n', input: {} }] }],
      }),
      param: 'messages[0].content[0]',
    },
    {
      name: 'an image in an assistant message',
      body: minimal({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: [{ type: 'image', source: { type: 'url', url: 'https://x.test/a.png' } }] },
        ],
      }),
      param: 'messages[1].content[0]',
    },
  ])('rejects $name naming $param', ({ body, param }) => {
    let caught: unknown;
    try {
      anthropicInboundCodec.decodeRequest(body);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsupportedRequest);
    expect((caught as UnsupportedRequest).param).toBe(param);
  });
});

describe('AnthropicMessagesRequestSchema', () => {
  it('accepts documented requests, unknown fields included', () => {
    expect(Value.Check(AnthropicMessagesRequestSchema, toolLoop.anthropic)).toBe(true);
    expect(Value.Check(AnthropicMessagesRequestSchema, { ...minimal(), service_tier: 'auto' })).toBe(true);
  });

  it.each([
    ['without max_tokens', { model: 'm', messages: [{ role: 'user', content: 'x' }] }],
    ['with max_tokens 0', { ...minimal(), max_tokens: 0 }],
    ['with a fractional max_tokens', { ...minimal(), max_tokens: 1.5 }],
    ['without messages', { ...minimal(), messages: [] }],
    ['with a system role message', { ...minimal(), messages: [{ role: 'system', content: 'x' }] }],
    ['with a block without type', { ...minimal(), messages: [{ role: 'user', content: [{ text: 'x' }] }] }],
    ['with temperature above 1', { ...minimal(), temperature: 1.5 }],
    ['with a tool choice naming no tool', { ...minimal(), tool_choice: { type: 'tool' } }],
    ['with stream not a boolean', { ...minimal(), stream: 'yes' }],
  ])('rejects a body %s', (_name, body) => {
    expect(Value.Check(AnthropicMessagesRequestSchema, body)).toBe(false);
  });
});

describe('anthropicInboundCodec.encodeResponse', () => {
  it('encodes text with the requested model, an msg_ id and usage split into cache reads', () => {
    const usage = { promptTokens: 100, completionTokens: 20, cachedTokens: 60 };
    expect(anthropicInboundCodec.encodeResponse(completion({ content: 'Hi there' }), usage, 'claude-alias')).toEqual({
      id: 'msg_chatcmpl-abc123',
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'Hi there' }],
      model: 'claude-alias',
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 40, output_tokens: 20, cache_creation_input_tokens: 0, cache_read_input_tokens: 60 },
    });
  });

  it('reports cache writes as cache_creation_input_tokens, apart from input_tokens and cache reads', () => {
    const usage = { promptTokens: 1000, completionTokens: 20, cachedTokens: 600, cacheWriteTokens: 300 };
    const encoded = anthropicInboundCodec.encodeResponse(completion({ content: 'x' }), usage, 'm') as {
      usage: unknown;
    };
    expect(encoded.usage).toEqual({
      input_tokens: 100,
      output_tokens: 20,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 600,
    });
  });

  it('reads cache writes from the completion when the gateway has no usage of its own', () => {
    const withCacheWrites = {
      ...completion({ content: 'x' }),
      usage: {
        prompt_tokens: 1000,
        completion_tokens: 20,
        prompt_tokens_details: { cached_tokens: 600, cache_write_tokens: 300 },
      },
    };
    const encoded = anthropicInboundCodec.encodeResponse(withCacheWrites, undefined, 'm') as { usage: unknown };
    expect(encoded.usage).toMatchObject({ input_tokens: 100, cache_creation_input_tokens: 300 });
  });

  it('puts thinking first, then text, then tool_use with parsed input', () => {
    const encoded = anthropicInboundCodec.encodeResponse(
      completion(
        {
          content: 'Checking.',
          reasoning_content: 'Need the tool.',
          reasoning_signature: 'sig',
          tool_calls: [
            { id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
          ],
        },
        'tool_calls',
      ),
      undefined,
      'claude-alias',
    ) as { content: unknown; stop_reason: string; usage: unknown };
    expect(encoded.content).toEqual([
      { type: 'thinking', thinking: 'Need the tool.', signature: 'sig' },
      { type: 'text', text: 'Checking.' },
      { type: 'tool_use', id: 'call_9', name: 'get_weather', input: { city: 'Paris' } },
    ]);
    expect(encoded.stop_reason).toBe('tool_use');
    // Without gateway usage, the completion's own usage is used.
    expect(encoded.usage).toMatchObject({ input_tokens: 40, output_tokens: 20, cache_read_input_tokens: 60 });
  });

  it.each([
    ['length', 'max_tokens'],
    ['content_filter', 'refusal'],
    [null, 'end_turn'],
  ])('maps finish_reason %s to stop_reason %s', (finishReason, stopReason) => {
    const encoded = anthropicInboundCodec.encodeResponse(completion({ content: 'x' }, finishReason), undefined, 'm');
    expect((encoded as { stop_reason: string }).stop_reason).toBe(stopReason);
  });

  it('keeps ids that already look like Anthropic ids', () => {
    const body = { ...completion({ content: 'x' }), id: 'msg_01abc' };
    expect((anthropicInboundCodec.encodeResponse(body, undefined, 'm') as { id: string }).id).toBe('msg_01abc');
  });

  it('refuses tool arguments that are not a JSON object', () => {
    const bad = completion({ tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{' } }] });
    expect(() => anthropicInboundCodec.encodeResponse(bad, undefined, 'm')).toThrow(MalformedUpstreamResponse);
  });
});

describe('anthropicInboundCodec.encodeError', () => {
  it.each<[ErrorCode, string]>([
    ['invalid_request', 'invalid_request_error'],
    ['unsupported_content', 'invalid_request_error'],
    ['invalid_api_key', 'authentication_error'],
    ['model_not_allowed', 'permission_error'],
    ['model_not_found', 'not_found_error'],
    ['body_too_large', 'request_too_large'],
    ['upstream_rate_limited', 'rate_limit_error'],
    ['internal_error', 'api_error'],
    ['upstream_error', 'api_error'],
    ['upstream_timeout', 'api_error'],
    ['upstream_unavailable', 'overloaded_error'],
    ['service_unavailable', 'overloaded_error'],
  ])('maps %s to %s', (code, type) => {
    expect(anthropicInboundCodec.encodeError(new AppError(code, 'something happened'))).toEqual({
      type: 'error',
      error: { type, message: 'something happened' },
    });
  });
});

describe('countTokensInput', () => {
  it('lists the system prompt, each message and each tool', () => {
    expect(
      countTokensInput({
        ...toolLoop.anthropic,
        messages: [
          ...toolLoop.anthropic.messages,
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'result' }] }],
          },
        ],
      }),
    ).toEqual([
      'You are a weather assistant.',
      "What's the weather like in San Francisco?",
      'The user wants the weather; I should call get_weather.\n' +
        "I'll check the current weather in San Francisco for you.\n" +
        'get_weather {"location":"San Francisco, CA"}',
      '15 degrees\nAnd what should I wear?',
      'result',
      `get_weather\nGet the current weather in a given location\n${JSON.stringify(toolLoop.anthropic.tools?.[0]?.input_schema)}`,
    ]);
  });
});
