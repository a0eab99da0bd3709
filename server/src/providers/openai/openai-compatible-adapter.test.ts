import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../spec/openai-types.ts';
import type { ProviderTarget } from '../spec/provider-adapter.ts';
import { openAiAdapter } from './openai-adapter.ts';
import { createOpenAiCompatibleAdapter } from './openai-compatible-adapter.ts';

const target: ProviderTarget = {
  baseUrl: 'https://upstream.example/v1',
  apiKey: 'sk-test',
  headers: {},
  options: {},
  upstreamModel: 'upstream-model',
};

const request: ChatRequest = { model: 'alias', messages: [{ role: 'user', content: 'Hi' }] };

function sentBody(
  adapter: ReturnType<typeof createOpenAiCompatibleAdapter>,
  body: ChatRequest,
): Record<string, unknown> {
  return JSON.parse(adapter.buildChatRequest(body, target).body) as Record<string, unknown>;
}

describe('createOpenAiCompatibleAdapter', () => {
  it('is the plain OpenAI adapter when there are no quirks, so such upstreams pay nothing per request', () => {
    expect(createOpenAiCompatibleAdapter()).toBe(openAiAdapter);
    expect(createOpenAiCompatibleAdapter({})).toBe(openAiAdapter);
    expect(openAiAdapter.passthroughResponses).toBe(true);
  });

  it('keeps the upstream spelling when a request sets both spellings of a renamed parameter, and reports the other', () => {
    const adapter = createOpenAiCompatibleAdapter({ renamedParameters: { max_completion_tokens: 'max_tokens' } });
    const built = adapter.buildChatRequest({ ...request, max_tokens: 10, max_completion_tokens: 20 }, target);
    expect(JSON.parse(built.body)).toMatchObject({ max_tokens: 10 });
    expect(JSON.parse(built.body)).not.toHaveProperty('max_completion_tokens');
    expect(built.droppedParameters).toEqual(['max_completion_tokens']);
  });

  it('drops empty, null and false values silently, and leaves out droppedParameters when nothing was dropped', () => {
    const adapter = createOpenAiCompatibleAdapter({
      unsupportedParameters: ['logprobs', 'user'],
      renamedParameters: { seed: 'random_seed' },
    });
    const built = adapter.buildChatRequest({ ...request, logprobs: false, user: undefined, seed: null }, target);
    expect(JSON.parse(built.body)).toEqual({ model: 'upstream-model', messages: request.messages });
    expect(built).not.toHaveProperty('droppedParameters');
  });

  it('keeps n up to the limit and json_object formats as they are', () => {
    const adapter = createOpenAiCompatibleAdapter({ maxChoices: 2, jsonSchemaFallback: 'json_object' });
    const built = adapter.buildChatRequest({ ...request, n: 2, response_format: { type: 'json_object' } }, target);
    expect(JSON.parse(built.body)).toMatchObject({ n: 2, response_format: { type: 'json_object' } });
    expect(built.droppedParameters).toBeUndefined();
  });

  it('leaves messages without the unsupported field untouched, and does not alter the client request', () => {
    const adapter = createOpenAiCompatibleAdapter({ unsupportedMessageFields: ['name'] });
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', name: 'alice', content: 'Hi' },
    ];
    const built = adapter.buildChatRequest({ ...request, messages }, target);
    expect(sentBody(adapter, { ...request, messages }).messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ]);
    expect(built.droppedParameters).toEqual(['messages[].name']);
    expect(messages[1]).toHaveProperty('name', 'alice');
  });

  it('sends no stream_options to upstreams that always report stream usage, streaming or not', () => {
    const adapter = createOpenAiCompatibleAdapter({ streamUsage: 'always' });
    expect(sentBody(adapter, { ...request, stream: true })).not.toHaveProperty('stream_options');
    expect(sentBody(adapter, { ...request, stream_options: { include_usage: true } })).not.toHaveProperty(
      'stream_options',
    );
  });

  it('prefers reasoning_content when an upstream sends both spellings', () => {
    const adapter = createOpenAiCompatibleAdapter({ reasoningField: 'reasoning' });
    const body = JSON.stringify({
      id: 'c',
      object: 'chat.completion',
      model: 'm',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'A', reasoning_content: 'kept', reasoning: 'other' } },
      ],
    });
    const message = adapter.parseChatResponse(body, request).completion.choices[0]?.message;
    expect(message?.reasoning_content).toBe('kept');
    expect(message).not.toHaveProperty('reasoning');
  });

  it('reads cached tokens from OpenAI’s field first and the upstream’s own field otherwise', () => {
    const adapter = createOpenAiCompatibleAdapter({ cachedTokensField: 'prompt_cache_hit_tokens' });
    const completion = (usage: Record<string, unknown>): string =>
      JSON.stringify({ id: 'c', object: 'chat.completion', model: 'm', choices: [], usage });
    expect(
      adapter.parseChatResponse(
        completion({
          prompt_tokens: 10,
          completion_tokens: 1,
          prompt_tokens_details: { cached_tokens: 4 },
          prompt_cache_hit_tokens: 8,
        }),
        request,
      ).usage,
    ).toEqual({ promptTokens: 10, completionTokens: 1, cachedTokens: 4 });
    expect(
      adapter.parseChatResponse(
        completion({ prompt_tokens: 10, completion_tokens: 1, prompt_cache_hit_tokens: 8 }),
        request,
      ).usage,
    ).toEqual({ promptTokens: 10, completionTokens: 1, cachedTokens: 8 });
  });

  it('keeps an upstream error readable', () => {
    const adapter = createOpenAiCompatibleAdapter({ maxChoices: 1 });
    expect(adapter.parseError(400, '{"error":{"message":"bad n","type":"invalid_request_error"}}')).toEqual({
      message: 'bad n',
      type: 'invalid_request_error',
      code: undefined,
    });
  });
});
