import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../spec/openai-types.ts';
import { MalformedUpstreamResponse } from '../spec/provider-adapter.ts';
import { geminiAdapter } from './gemini-adapter.ts';

const readFixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/responses/${name}`, import.meta.url), 'utf8');

const request: ChatRequest = { model: 'gemini-flash', messages: [{ role: 'user', content: 'Hi' }] };

describe('geminiAdapter.parseChatResponse', () => {
  it.each(['text', 'function-call', 'thoughts', 'prompt-blocked'])('parses the %s fixture', (name) => {
    const { completion } = geminiAdapter.parseChatResponse(readFixture(`${name}.gemini.json`), request);
    const { created, ...rest } = completion;
    expect(typeof created).toBe('number');
    expect(rest).toEqual(JSON.parse(readFixture(`${name}.openai.json`)));
  });

  it('maps every candidate and each filtered finish reason, inventing an id when Gemini sent none', () => {
    const { completion } = geminiAdapter.parseChatResponse(readFixture('candidate-filtered.gemini.json'), request);
    const { created: _created, id, ...rest } = completion;
    expect(id).toMatch(/^chatcmpl-gemini-/);
    expect(rest).toEqual(JSON.parse(readFixture('candidate-filtered.openai.json')));
  });

  it('counts thinking tokens as completion tokens and reports cached prompt tokens', () => {
    expect(geminiAdapter.parseChatResponse(readFixture('thoughts.gemini.json'), request).usage).toEqual({
      promptTokens: 2048,
      completionTokens: 514,
      cachedTokens: 1024,
    });
    expect(geminiAdapter.parseChatResponse(readFixture('text.gemini.json'), request).usage).toEqual({
      promptTokens: 8,
      completionTokens: 9,
      cachedTokens: 0,
    });
  });

  it('falls back to the requested model and leaves usage out when Gemini sent no usageMetadata', () => {
    const body = JSON.stringify({ candidates: [{ content: { parts: [{ text: 'ok' }] }, finishReason: 'OTHER' }] });
    const { completion, usage } = geminiAdapter.parseChatResponse(body, request);
    expect(usage).toBeUndefined();
    expect(completion).not.toHaveProperty('usage');
    expect(completion.model).toBe('gemini-flash');
    expect(completion.choices[0]).toMatchObject({ index: 0, message: { content: 'ok' }, finish_reason: 'stop' });
  });

  it.each([
    ['a body that is not JSON', '<html>502</html>'],
    ['JSON that is not an object', '[1, 2]'],
    ['no candidates and no block reason', '{"usageMetadata": {"promptTokenCount": 3}}'],
    ['a function call without a name', '{"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}'],
  ])('rejects %s as malformed', (_case, body) => {
    expect(() => geminiAdapter.parseChatResponse(body, request)).toThrow(MalformedUpstreamResponse);
  });
});
