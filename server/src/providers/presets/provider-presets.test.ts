import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OpenAiCompatibleAdapter } from '../openai/openai-quirks.ts';
import { adapterFor } from '../registry.ts';
import type { ChatRequest } from '../spec/openai-types.ts';
import type { ProviderTarget, StreamItem, TokenUsage } from '../spec/provider-adapter.ts';
import { findPreset, presetNames } from './provider-presets.ts';

/**
 * Each preset replays request/response pairs written from its provider's published documentation
 * (fixtures/<preset>.json, with the pages they come from under `sources`).
 */
interface PresetFixture {
  preset: string;
  sources: string[];
  upstreamModel: string;
  chat: {
    request: ChatRequest;
    upstreamBody: Record<string, unknown>;
    droppedParameters?: string[];
    response: Record<string, unknown>;
    expected: {
      usage: TokenUsage;
      content: string | null;
      /** Absent: the response carries no reasoning. */
      reasoningContent?: string;
      /** Default true. */
      passthroughResponses?: boolean;
      /** Message fields that must be gone after parsing (moved elsewhere). */
      absentFields?: string[];
    };
  };
  stream?: {
    request: ChatRequest;
    upstreamBody: Record<string, unknown>;
    events: (Record<string, unknown> | '[DONE]')[];
    expected: { usage: TokenUsage; content: string; reasoningContent: string; rewrittenChunks: number };
  };
}

const fixturesDirectory = path.join(import.meta.dirname, 'fixtures');
const fixtures = readdirSync(fixturesDirectory)
  .filter((file) => file.endsWith('.json'))
  .map((file) => JSON.parse(readFileSync(path.join(fixturesDirectory, file), 'utf8')) as PresetFixture);

it('has a documented fixture for every preset, and no fixture without a preset', () => {
  expect(fixtures.map((fixture) => fixture.preset).sort()).toEqual([...presetNames].sort());
  for (const fixture of fixtures) expect(fixture.sources.length).toBeGreaterThan(0);
});

describe.each(fixtures)('preset $preset', (fixture) => {
  const preset = findPreset(fixture.preset)!;
  const adapter = adapterFor({ type: 'openai-compatible', preset: fixture.preset }) as OpenAiCompatibleAdapter;
  const target: ProviderTarget = {
    baseUrl: preset.baseUrl,
    apiKey: preset.requiresApiKey ? 'sk-test' : undefined,
    headers: { 'x-team': 'search' },
    options: {},
    upstreamModel: fixture.upstreamModel,
  };

  it('builds the upstream request: path, headers, body with dropped and renamed parameters', () => {
    const original = structuredClone(fixture.chat.request);
    const built = adapter.buildChatRequest(fixture.chat.request, target);

    expect(built.path).toBe('/chat/completions');
    expect(built.headers).toEqual({
      'content-type': 'application/json',
      'x-team': 'search',
      ...(preset.requiresApiKey ? { authorization: 'Bearer sk-test' } : {}),
    });
    expect(JSON.parse(built.body)).toEqual(fixture.chat.upstreamBody);
    expect(built.droppedParameters).toEqual(fixture.chat.droppedParameters);
    expect(fixture.chat.request).toEqual(original);
  });

  it('parses the documented response: usage and reasoning_content', () => {
    const { expected } = fixture.chat;
    const parsed = adapter.parseChatResponse(JSON.stringify(fixture.chat.response), fixture.chat.request);
    const message = parsed.completion.choices[0]?.message;

    expect(parsed.usage).toEqual(expected.usage);
    expect(message?.content).toBe(expected.content);
    expect(message?.reasoning_content).toBe(expected.reasoningContent);
    for (const field of expected.absentFields ?? []) expect(message).not.toHaveProperty(field);
    expect(adapter.passthroughResponses).toBe(expected.passthroughResponses ?? true);
  });

  const stream = fixture.stream;
  if (stream) {
    it('streams: asks for usage the provider way and decodes usage and reasoning', () => {
      const built = adapter.buildChatRequest(stream.request, target);
      expect(JSON.parse(built.body)).toEqual(stream.upstreamBody);

      const decoder = adapter.createChatStreamDecoder(stream.request);
      let content = '';
      let reasoning = '';
      let usage: TokenUsage | undefined;
      let rewrittenChunks = 0;
      let done = false;
      for (const event of stream.events) {
        const data = event === '[DONE]' ? event : JSON.stringify(event);
        for (const item of decoder.decode({ event: undefined, data })) {
          if (item.kind === 'done') {
            done = true;
            continue;
          }
          if (item.raw === undefined) rewrittenChunks += 1;
          else expect(item.raw).toBe(data);
          if (item.kind === 'usage') usage = item.usage;
          for (const choice of item.chunk.choices) {
            content += choice.delta?.content ?? '';
            reasoning += choice.delta?.reasoning_content ?? '';
            expect(typeof choice.delta?.reasoning).not.toBe('string');
            expect(choice).not.toHaveProperty('usage');
          }
        }
      }

      expect(done).toBe(true);
      expect(usage).toEqual(stream.expected.usage);
      expect(content).toBe(stream.expected.content);
      expect(reasoning).toBe(stream.expected.reasoningContent);
      expect(rewrittenChunks).toBe(stream.expected.rewrittenChunks);
    });
  }
});

it('forwards every chunk byte for byte when a preset has no stream quirks', () => {
  const adapter = adapterFor({ type: 'openai-compatible', preset: 'qwen' });
  const data = JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'm', choices: [] });
  const [item] = adapter.createChatStreamDecoder({ model: 'm', messages: [] }).decode({ event: undefined, data });
  expect((item as Extract<StreamItem, { kind: 'chunk' }>).raw).toBe(data);
});
