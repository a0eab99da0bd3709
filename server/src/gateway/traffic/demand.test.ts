import { describe, expect, it } from 'vitest';
import { countWithEncoder, loadEncoder } from '../meter/tokenizer.ts';
import { demandReaderFor, endpointDemands, estimateTokens, imageTokenAllowance } from './demand.ts';

describe('endpoint demands', () => {
  const chat = demandReaderFor('/v1/chat/completions');
  const messages = demandReaderFor('/v1/messages');

  it('covers every gateway route and nothing unknown', () => {
    expect(Object.keys(endpointDemands).sort()).toEqual([
      '/v1/chat/completions',
      '/v1/embeddings',
      '/v1/messages',
      '/v1/messages/count_tokens',
      '/v1/models',
      '/v1/models/:model',
    ]);
    expect(demandReaderFor('/v1/unknown')).toBeUndefined();
    expect(demandReaderFor('toString')).toBeUndefined();
  });

  it('reads the model and the output bound of a chat request, times the choices asked for', () => {
    const body = { model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }], max_tokens: 100, n: 3 };
    expect(chat?.(body)).toMatchObject({ model: 'gpt-test', maxOutputTokens: 300, metered: true });
    expect(chat?.({ ...body, max_completion_tokens: 7, n: undefined })).toMatchObject({ maxOutputTokens: 7 });
    expect(chat?.({ model: 'gpt-test', messages: [] })?.maxOutputTokens).toBeUndefined();
    expect(messages?.({ model: 'claude', max_tokens: 64, messages: [] })?.maxOutputTokens).toBe(64);
  });

  it('counts nothing but the request for token counting and listings', () => {
    expect(demandReaderFor('/v1/messages/count_tokens')?.({ model: 'claude', messages: [] })).toEqual({
      model: 'claude',
      promptTokens: 0,
      maxOutputTokens: 0,
      metered: false,
    });
    expect(demandReaderFor('/v1/models')?.(undefined)).toMatchObject({ model: undefined, metered: false });
  });

  it('bounds embeddings by their input only', () => {
    const demand = demandReaderFor('/v1/embeddings')?.({ model: 'embed', input: ['abc', 'de'] });
    expect(demand).toMatchObject({ model: 'embed', maxOutputTokens: 0, metered: true });
    expect(demand?.promptTokens).toBeGreaterThanOrEqual(5);
  });
});

describe('estimateTokens', () => {
  it('never falls below what the tokenizer counts, in any script', async () => {
    const encoder = await loadEncoder();
    const texts = [
      'The quick brown fox jumps over the lazy dog. '.repeat(20),
      '今日は良い天気ですね。東京タワーに行きましょう。'.repeat(10),
      'Ünïcödé ✓ 🚀🚀🚀 مرحبا بالعالم',
      'a'.repeat(5000),
      '{"json": [1, 2, 3], "nested": {"k": "v"}}',
    ];
    for (const text of texts) {
      const counted = countWithEncoder(encoder, text);
      expect(estimateTokens({ role: 'user', content: text })).toBeGreaterThanOrEqual(counted);
    }
  });

  it('counts an inline image as a fixed allowance instead of its bytes', () => {
    const dataUrl = `data:image/png;base64,${'A'.repeat(100_000)}`;
    const openai = [{ type: 'image_url', image_url: { url: dataUrl } }];
    expect(estimateTokens(openai)).toBeLessThan(imageTokenAllowance + 100);
    const anthropic = [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'A'.repeat(9000) } }];
    expect(estimateTokens(anthropic)).toBeLessThan(imageTokenAllowance + 100);
    // A short data: string is text like any other.
    expect(estimateTokens('data:x;base64,AA')).toBe(16);
  });

  it('counts structure, numbers and booleans, and nothing for null', () => {
    expect(estimateTokens(null)).toBe(0);
    expect(estimateTokens(undefined)).toBe(0);
    expect(estimateTokens(3)).toBe(1);
    expect(estimateTokens(true)).toBe(1);
    expect(estimateTokens([])).toBe(4);
    expect(estimateTokens({ ab: 'cd' })).toBe(4 + 2 + 2);
  });
});
