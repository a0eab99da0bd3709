import { describe, expect, it } from 'vitest';
import { anthropicAdapter } from './anthropic/anthropic-adapter.ts';
import { geminiAdapter } from './gemini/gemini-adapter.ts';
import { azureOpenAiAdapter } from './openai/azure-openai-adapter.ts';
import { openAiAdapter } from './openai/openai-adapter.ts';
import { adapterFor } from './registry.ts';

describe('adapterFor', () => {
  it('picks the adapter by type', () => {
    expect(adapterFor({ type: 'openai', preset: undefined })).toBe(openAiAdapter);
    expect(adapterFor({ type: 'openai-compatible', preset: undefined })).toBe(openAiAdapter);
    expect(adapterFor({ type: 'azure-openai', preset: undefined })).toBe(azureOpenAiAdapter);
    expect(adapterFor({ type: 'anthropic', preset: undefined })).toBe(anthropicAdapter);
    expect(adapterFor({ type: 'gemini', preset: undefined })).toBe(geminiAdapter);
  });

  it('builds one adapter per preset and reuses it', () => {
    const first = adapterFor({ type: 'openai-compatible', preset: 'groq' });
    expect(adapterFor({ type: 'openai-compatible', preset: 'groq' })).toBe(first);
    expect(first).not.toBe(openAiAdapter);
  });

  it('gives presets without quirks the plain OpenAI adapter', () => {
    expect(adapterFor({ type: 'openai-compatible', preset: 'qwen' })).toBe(openAiAdapter);
  });

  it('rejects an unknown preset', () => {
    expect(() => adapterFor({ type: 'openai-compatible', preset: 'nope' })).toThrow(/unknown provider preset nope/);
  });
});
