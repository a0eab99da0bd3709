import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../spec/openai-types.ts';
import { UnsupportedRequest, type ProviderTarget } from '../spec/provider-adapter.ts';
import { geminiAdapter } from './gemini-adapter.ts';

const readFixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/requests/${name}`, import.meta.url), 'utf8'));

const target: ProviderTarget = {
  baseUrl: 'https://generativelanguage.googleapis.com/v1beta',
  apiKey: 'test-key',
  headers: { 'x-extra': '1' },
  upstreamModel: 'gemini-2.5-flash',
  options: {},
};

function build(request: ChatRequest, overrides: Partial<ProviderTarget> = {}) {
  const upstream = geminiAdapter.buildChatRequest(request, { ...target, ...overrides });
  return { ...upstream, json: JSON.parse(upstream.body) as Record<string, unknown> };
}

function chat(overrides: Partial<ChatRequest>): ChatRequest {
  return { model: 'gemini-flash', messages: [{ role: 'user', content: 'Hi' }], ...overrides };
}

function expectUnsupported(request: ChatRequest, param: string): void {
  let caught: unknown;
  try {
    geminiAdapter.buildChatRequest(request, target);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(UnsupportedRequest);
  expect((caught as UnsupportedRequest).param).toBe(param);
}

describe('geminiAdapter.buildChatRequest', () => {
  it.each(['system-multi-turn', 'images-audio', 'tools', 'json-schema', 'thinking'])(
    'translates the %s fixture',
    (name) => {
      const request = readFixture(`${name}.openai.json`) as ChatRequest;
      expect(build(request).json).toEqual(readFixture(`${name}.gemini.json`));
    },
  );

  it('picks the method from request.stream and URL-encodes the model', () => {
    expect(build(chat({})).path).toBe('/models/gemini-2.5-flash:generateContent');
    expect(build(chat({ stream: true })).path).toBe('/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(build(chat({}), { upstreamModel: 'models/tuned model?v=1' }).path).toBe(
      '/models/tuned%20model%3Fv%3D1:generateContent',
    );
  });

  it('authenticates with x-goog-api-key and keeps configured headers', () => {
    expect(build(chat({})).headers).toEqual({
      'content-type': 'application/json',
      'x-extra': '1',
      'x-goog-api-key': 'test-key',
    });
    expect(build(chat({}), { apiKey: undefined }).headers).not.toHaveProperty('x-goog-api-key');
  });

  it('reports the fields it could not carry', () => {
    const request = readFixture('system-multi-turn.openai.json') as ChatRequest;
    expect(build(request).droppedParameters).toEqual(['user', 'logit_bias']);
    expect(build(readFixture('tools.openai.json') as ChatRequest).droppedParameters).toBeUndefined();
    expect(build(chat({ parallel_tool_calls: false, logprobs: null })).droppedParameters).toEqual([
      'parallel_tool_calls',
    ]);
  });

  it.each([
    ['auto', { mode: 'AUTO' }],
    ['none', { mode: 'NONE' }],
    ['required', { mode: 'ANY' }],
  ] as const)('maps tool_choice %s', (choice, config) => {
    expect(build(chat({ tool_choice: choice })).json['toolConfig']).toEqual({ functionCallingConfig: config });
  });

  it.each([
    ['none', { thinkingBudget: 0 }],
    ['minimal', { thinkingBudget: 1024, includeThoughts: true }],
    ['low', { thinkingBudget: 1024, includeThoughts: true }],
    ['high', { thinkingBudget: 24576, includeThoughts: true }],
  ] as const)('maps reasoning_effort %s to a thinking budget', (effort, thinkingConfig) => {
    expect(build(chat({ reasoning_effort: effort })).json['generationConfig']).toEqual({ thinkingConfig });
  });

  it('rejects tools and tool choices Gemini has no equivalent for', () => {
    expectUnsupported(chat({ tools: [{ type: 'custom', custom: { name: 'grammar' } } as never] }), 'tools[0]');
    expectUnsupported(chat({ tool_choice: 'sometimes' as never }), 'tool_choice');
    expectUnsupported(chat({ tool_choice: { type: 'allowed_tools', allowed_tools: {} } as never }), 'tool_choice');
  });

  it('rejects a reasoning_effort it has no budget for', () => {
    expectUnsupported(chat({ reasoning_effort: 'xhigh' }), 'reasoning_effort');
  });

  it('rejects tool call arguments that are not a JSON object, naming the argument', () => {
    const withArguments = (text: string): ChatRequest =>
      chat({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: text } }] },
        ],
      });
    expectUnsupported(withArguments('{"city": '), 'messages[1].tool_calls[0].function.arguments');
    expectUnsupported(withArguments('["Paris"]'), 'messages[1].tool_calls[0].function.arguments');
  });

  it('rejects a tool result whose call it cannot find', () => {
    expectUnsupported(
      chat({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'tool', tool_call_id: 'call_unknown', content: '42' },
        ],
      }),
      'messages[1].tool_call_id',
    );
  });

  it('rejects content it cannot carry, naming the part', () => {
    const userParts = (...parts: Record<string, unknown>[]): ChatRequest =>
      chat({ messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, ...parts] as never }] });
    expectUnsupported(userParts({ type: 'video_url', video_url: 'x' }), 'messages[0].content[1]');
    expectUnsupported(
      userParts({ type: 'image_url', image_url: { url: 'ftp://host/a.png' } }),
      'messages[0].content[1].image_url.url',
    );
    expectUnsupported(
      userParts({ type: 'image_url', image_url: { url: 'data:image/png,rawbytes' } }),
      'messages[0].content[1].image_url.url',
    );
    expectUnsupported(
      userParts({ type: 'input_audio', input_audio: { data: 'AAAA', format: 'pcm16' } }),
      'messages[0].content[1].input_audio.format',
    );
    expectUnsupported(userParts({ type: 'file', file: { file_id: 'file-abc' } }), 'messages[0].content[1]');
    expectUnsupported(
      chat({ messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://a/b.png' } }] }] }),
      'messages[0].content[0]',
    );
    expectUnsupported(chat({ messages: [{ role: 'function', content: 'x' }] }), 'messages[0].role');
  });

  it('leaves out an empty assistant turn and sends no generationConfig when nothing is set', () => {
    const { json } = build(
      chat({
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: '' },
          { role: 'user', content: 'Still there?' },
        ],
      }),
    );
    expect(json).toEqual({
      contents: [
        { role: 'user', parts: [{ text: 'Hi' }] },
        { role: 'user', parts: [{ text: 'Still there?' }] },
      ],
    });
  });
});
