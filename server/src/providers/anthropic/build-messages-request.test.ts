import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../spec/openai-types.ts';
import { UnsupportedRequest, type ProviderTarget } from '../spec/provider-adapter.ts';
import { anthropicAdapter } from './anthropic-adapter.ts';
import { buildMessagesRequest } from './build-messages-request.ts';

const target: ProviderTarget = {
  baseUrl: 'https://api.anthropic.com',
  apiKey: 'sk-ant-test',
  headers: {},
  upstreamModel: 'claude-sonnet-4-5',
  options: {},
};

const user = (content: ChatRequest['messages'][number]['content']) => ({ role: 'user', content });
const request = (fields: Partial<ChatRequest>): ChatRequest => ({ model: 'alias', messages: [user('Hi')], ...fields });
const pngData = 'iVBORw0KGgo=';
const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Get the current weather in a given location',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

interface TranslationCase {
  name: string;
  request: ChatRequest;
  expected: Record<string, unknown>;
  dropped?: string[];
}

const cases: TranslationCase[] = [
  {
    name: 'a single user turn, with the default max_tokens',
    request: request({}),
    expected: { model: 'claude-sonnet-4-5', max_tokens: 4096, messages: [{ role: 'user', content: 'Hi' }] },
  },
  {
    name: 'system and developer messages hoisted into system blocks, wherever they stand',
    request: request({
      messages: [
        { role: 'system', content: 'You are terse.' },
        user('Hi'),
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
      ],
    }),
    expected: {
      system: [
        { type: 'text', text: 'You are terse.' },
        { type: 'text', text: 'Answer in French.' },
      ],
      messages: [{ role: 'user', content: 'Hi' }],
    },
  },
  {
    name: 'a lone system message as a string',
    request: request({ messages: [{ role: 'system', content: 'Be kind.' }, user('Hi')] }),
    expected: { system: 'Be kind.', messages: [{ role: 'user', content: 'Hi' }] },
  },
  {
    name: 'consecutive user turns merged, multi-turn order kept',
    request: request({
      messages: [user('One'), user('Two'), { role: 'assistant', content: 'Three' }, user('Four')],
    }),
    expected: {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'One' },
            { type: 'text', text: 'Two' },
          ],
        },
        { role: 'assistant', content: 'Three' },
        { role: 'user', content: 'Four' },
      ],
    },
  },
  {
    name: 'images from data URLs (base64) and https URLs (url source), and an inline PDF',
    request: request({
      messages: [
        user([
          { type: 'text', text: 'Compare these' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${pngData}` } },
          { type: 'image_url', image_url: { url: 'https://upload.wikimedia.org/ant.jpg', detail: 'high' } },
          { type: 'file', file: { filename: 'paper.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } },
        ]),
      ],
    }),
    expected: {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare these' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: pngData } },
            { type: 'image', source: { type: 'url', url: 'https://upload.wikimedia.org/ant.jpg' } },
            {
              type: 'document',
              source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              title: 'paper.pdf',
            },
          ],
        },
      ],
    },
  },
  {
    name: 'tools with required tool_choice and parallel_tool_calls false',
    request: request({ tools: [weatherTool], tool_choice: 'required', parallel_tool_calls: false }),
    expected: {
      tools: [
        {
          name: 'get_weather',
          description: 'Get the current weather in a given location',
          input_schema: weatherTool.function.parameters,
        },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
    },
  },
  {
    name: 'a named tool_choice, and a tool without parameters',
    request: request({
      tools: [{ type: 'function', function: { name: 'now' } }],
      tool_choice: { type: 'function', function: { name: 'now' } },
    }),
    expected: {
      tools: [{ name: 'now', input_schema: { type: 'object', properties: {} } }],
      tool_choice: { type: 'tool', name: 'now' },
    },
  },
  {
    name: 'tool_choice none',
    request: request({ tools: [weatherTool], tool_choice: 'none' }),
    expected: { tool_choice: { type: 'none' } },
  },
  {
    name: 'parallel_tool_calls false alone becomes an auto tool_choice',
    request: request({ tools: [weatherTool], parallel_tool_calls: false }),
    expected: { tool_choice: { type: 'auto', disable_parallel_tool_use: true } },
  },
  {
    name: 'assistant tool calls and consecutive tool results, merged with the next user text',
    request: request({
      messages: [
        user('Weather in Paris and Rome?'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18°C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '22°C' }] },
        user('Thanks!'),
      ],
    }),
    expected: {
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { location: 'Paris' } },
            { type: 'tool_use', id: 'call_2', name: 'get_weather', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_1', content: '18°C' },
            { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '22°C' }] },
            { type: 'text', text: 'Thanks!' },
          ],
        },
      ],
    },
  },
  {
    name: 'stop as a string, user as metadata.user_id, stream',
    request: request({ stop: 'END', user: 'user-42', stream: true, stream_options: { include_usage: true } }),
    expected: { stop_sequences: ['END'], metadata: { user_id: 'user-42' }, stream: true },
  },
  {
    name: 'stop as an array; temperature above 1 clamped; top_p and top_k kept',
    request: request({ stop: ['a', 'b'], temperature: 1.6, top_p: 0.9, top_k: 40 }),
    expected: { stop_sequences: ['a', 'b'], temperature: 1, top_p: 0.9, top_k: 40 },
  },
  {
    name: 'max_completion_tokens before max_tokens',
    request: request({ max_tokens: 100, max_completion_tokens: 200, temperature: 0.2 }),
    expected: { max_tokens: 200, temperature: 0.2 },
  },
  {
    name: 'reasoning_effort medium: a 4096 budget on top of the default max_tokens',
    request: request({ reasoning_effort: 'medium' }),
    expected: { max_tokens: 8192, thinking: { type: 'enabled', budget_tokens: 4096 } },
  },
  {
    name: 'reasoning_effort high under a small max_tokens: the budget stays below it; temperature dropped',
    request: request({ reasoning_effort: 'high', max_tokens: 2000, temperature: 0.5, top_p: 0.97 }),
    expected: { max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1999 }, top_p: 0.97 },
    dropped: ['temperature'],
  },
  {
    name: 'reasoning_effort with max_tokens under the minimum budget: thinking left off and reported',
    request: request({ reasoning_effort: 'low', max_tokens: 1000 }),
    expected: { max_tokens: 1000 },
    dropped: ['reasoning_effort'],
  },
  {
    name: 'reasoning_effort with a forced tool: thinking left off',
    request: request({ reasoning_effort: 'low', tools: [weatherTool], tool_choice: 'required' }),
    expected: { max_tokens: 4096, tool_choice: { type: 'any' } },
    dropped: ['reasoning_effort'],
  },
  {
    name: 'reasoning_effort minimal: no thinking, nothing dropped',
    request: request({ reasoning_effort: 'minimal' }),
    expected: { max_tokens: 4096 },
  },
  {
    name: 'assistant reasoning with its signature replayed as a thinking block before the text',
    request: request({
      messages: [
        user('2+2?'),
        { role: 'assistant', content: '4', reasoning_content: 'Add them.', reasoning_signature: 'sig-1' },
        { role: 'assistant', content: 'Sure.', reasoning_content: 'From elsewhere, unsigned.' },
        user('And 3+3?'),
      ],
    }),
    expected: {
      messages: [
        { role: 'user', content: '2+2?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Add them.', signature: 'sig-1' },
            { type: 'text', text: '4' },
            { type: 'text', text: 'Sure.' },
          ],
        },
        { role: 'user', content: 'And 3+3?' },
      ],
    },
  },
  {
    name: 'response_format json_object as a system instruction',
    request: request({ response_format: { type: 'json_object' } }),
    expected: { system: expect.stringContaining('Respond with one valid JSON object') },
  },
  {
    name: 'response_format json_schema with the schema in the instruction',
    request: request({
      messages: [{ role: 'system', content: 'Extract.' }, user('Ann is 3')],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'person', schema: { type: 'object', properties: { age: { type: 'integer' } } } },
      },
    }),
    expected: {
      system: [
        { type: 'text', text: 'Extract.' },
        {
          type: 'text',
          text: expect.stringContaining('"person":\n{"type":"object","properties":{"age":{"type":"integer"}}}'),
        },
      ],
    },
  },
  {
    name: 'fields Anthropic cannot take reported as dropped',
    request: request({ frequency_penalty: 0.5, seed: 7, logprobs: null, n: 1 }),
    expected: { max_tokens: 4096 },
    dropped: ['frequency_penalty', 'seed'],
  },
];

describe('buildMessagesRequest', () => {
  it.each(cases)('translates $name', ({ request: chatRequest, expected, dropped }) => {
    const built = buildMessagesRequest(chatRequest, 'claude-sonnet-4-5');
    expect(built.body).toMatchObject(expected);
    expect(built.droppedParameters).toEqual(dropped ?? []);
  });

  it('sends nothing it was not asked for', () => {
    expect(buildMessagesRequest(request({}), 'claude-sonnet-4-5').body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Hi' }],
    });
  });

  const rejections: { name: string; request: ChatRequest; param: string }[] = [
    { name: 'n above 1', request: request({ n: 2 }), param: 'n' },
    {
      name: 'audio input',
      request: request({
        messages: [
          { role: 'system', content: 'x' },
          user([
            { type: 'text', text: 'Listen' },
            { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
          ]),
        ],
      }),
      param: 'messages[1].content[1]',
    },
    {
      name: 'a non-PDF file',
      request: request({ messages: [user([{ type: 'file', file: { file_data: 'data:text/csv;base64,YQ==' } }])] }),
      param: 'messages[0].content[0]',
    },
    {
      name: 'an uploaded file id',
      request: request({ messages: [user([{ type: 'file', file: { file_id: 'file-abc' } }])] }),
      param: 'messages[0].content[0]',
    },
    {
      name: 'an image in an unsupported format',
      request: request({
        messages: [user([{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }])],
      }),
      param: 'messages[0].content[0]',
    },
    {
      name: 'an image URL that is not http(s)',
      request: request({ messages: [user([{ type: 'image_url', image_url: { url: 'ftp://example.com/a.png' } }])] }),
      param: 'messages[0].content[0]',
    },
    {
      name: 'tool call arguments that are not JSON',
      request: request({
        messages: [
          user('Hi'),
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":' } }],
          },
        ],
      }),
      param: 'messages[1].tool_calls[0].function.arguments',
    },
    {
      name: 'tool call arguments that are not an object',
      request: request({
        messages: [
          user('Hi'),
          { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '[1]' } }] },
        ],
      }),
      param: 'messages[1].tool_calls[0].function.arguments',
    },
    {
      name: 'a tool message without tool_call_id',
      request: request({ messages: [user('Hi'), { role: 'tool', content: 'x' }] }),
      param: 'messages[1].tool_call_id',
    },
    {
      name: 'an unknown role',
      request: request({ messages: [{ role: 'function', content: 'x', name: 'f' }] }),
      param: 'messages[0].role',
    },
    {
      name: 'an unknown reasoning_effort',
      request: request({ reasoning_effort: 'extreme' }),
      param: 'reasoning_effort',
    },
  ];

  it.each(rejections)('rejects $name naming $param', ({ request: chatRequest, param }) => {
    let caught: unknown;
    try {
      buildMessagesRequest(chatRequest, 'claude-sonnet-4-5');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsupportedRequest);
    expect((caught as UnsupportedRequest).param).toBe(param);
  });
});

describe('anthropicAdapter.buildChatRequest', () => {
  it('posts to /v1/messages with the key, the default version and JSON', () => {
    const built = anthropicAdapter.buildChatRequest(request({}), target);
    expect(built.path).toBe('/v1/messages');
    expect(built.headers).toEqual({
      'content-type': 'application/json',
      'anthropic-version': '2023-06-01',
      'x-api-key': 'sk-ant-test',
    });
    expect(JSON.parse(built.body)).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(built.droppedParameters).toBeUndefined();
  });

  it('takes the version from options, adds configured headers, and reports dropped fields', () => {
    const built = anthropicAdapter.buildChatRequest(request({ presence_penalty: 1 }), {
      ...target,
      apiKey: undefined,
      headers: { 'anthropic-beta': 'prompt-caching-2024-07-31' },
      options: { anthropic_version: '2024-01-01' },
    });
    expect(built.headers).toEqual({
      'content-type': 'application/json',
      'anthropic-version': '2024-01-01',
      'anthropic-beta': 'prompt-caching-2024-07-31',
    });
    expect(built.droppedParameters).toEqual(['presence_penalty']);
  });

  it('has no embeddings', () => {
    expect(anthropicAdapter.embeddings).toBeUndefined();
    expect(anthropicAdapter.wireFormat).toBe('anthropic');
  });
});
