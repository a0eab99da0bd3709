import { describe, expect, it } from 'vitest';
import type { ProviderTarget, StreamItem } from '../spec/provider-adapter.ts';
import { openAiAdapter } from './openai-adapter.ts';

const target: ProviderTarget = {
  baseUrl: 'https://api.openai.com/v1',
  apiKey: 'sk-test',
  headers: {},
  options: {},
  upstreamModel: 'gpt-4o-mini',
};

describe('openAiAdapter', () => {
  it('swaps in the upstream model and always asks for stream usage, keeping other stream options', () => {
    const built = openAiAdapter.buildChatRequest(
      { model: 'mini', messages: [], stream: true, stream_options: { include_usage: false, extra: 1 } },
      target,
    );
    expect(built.path).toBe('/chat/completions');
    expect(built.headers).toEqual({ 'content-type': 'application/json', authorization: 'Bearer sk-test' });
    expect(JSON.parse(built.body)).toEqual({
      model: 'gpt-4o-mini',
      messages: [],
      stream: true,
      stream_options: { include_usage: true, extra: 1 },
    });
    expect(built.droppedParameters).toBeUndefined();
  });

  it('sends no Authorization header without a key', () => {
    const built = openAiAdapter.buildChatRequest({ model: 'm', messages: [] }, { ...target, apiKey: undefined });
    expect(built.headers).not.toHaveProperty('authorization');
  });

  it('forwards stream chunks byte for byte and marks the usage chunk', () => {
    const decoder = openAiAdapter.createChatStreamDecoder({ model: 'm', messages: [] });
    const data =
      '{"id":"c","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}';
    const [item] = decoder.decode({ event: undefined, data });
    expect(item).toMatchObject({ kind: 'usage', usage: { promptTokens: 3, completionTokens: 2, cachedTokens: 0 } });
    expect((item as Extract<StreamItem, { kind: 'usage' }>).raw).toBe(data);
    expect(decoder.decode({ event: undefined, data: '[DONE]' })).toEqual([{ kind: 'done' }]);
  });

  it('reads cached tokens, and cache writes where OpenRouter reports them, from a forwarded body', () => {
    const body = (details: string) =>
      `{"id":"c","object":"chat.completion","choices":[],"usage":{"prompt_tokens":900,"completion_tokens":5,"prompt_tokens_details":${details}}}`;
    expect(openAiAdapter.readPassthroughUsage?.(body('{"cached_tokens":600,"cache_write_tokens":200}'))).toEqual({
      promptTokens: 900,
      completionTokens: 5,
      cachedTokens: 600,
      cacheWriteTokens: 200,
    });
    const plain = openAiAdapter.readPassthroughUsage?.(body('{"cached_tokens":600}'));
    expect(plain).toEqual({ promptTokens: 900, completionTokens: 5, cachedTokens: 600 });
    expect(plain).not.toHaveProperty('cacheWriteTokens');
  });

  it('does not echo an error body that is not JSON', () => {
    expect(openAiAdapter.parseError(502, '<html>bad gateway</html>')).toEqual({
      message: 'upstream answered with status 502',
      type: undefined,
      code: undefined,
    });
  });
});
