import { describe, expect, it } from 'vitest';
import type { ProviderTarget } from '../spec/provider-adapter.ts';
import { azureOpenAiAdapter } from './azure-openai-adapter.ts';

const target: ProviderTarget = {
  baseUrl: 'https://contoso.openai.azure.com',
  apiKey: 'azure-key',
  headers: { 'x-ms-useragent': 'aihub' },
  options: { api_version: '2024-10-21' },
  upstreamModel: 'gpt-4o prod',
};

describe('azureOpenAiAdapter', () => {
  it('addresses the deployment with the api-version and authenticates with api-key', () => {
    const built = azureOpenAiAdapter.buildChatRequest(
      { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }], stream: true },
      target,
    );
    expect(built.path).toBe('/openai/deployments/gpt-4o%20prod/chat/completions?api-version=2024-10-21');
    expect(built.headers).toEqual({
      'content-type': 'application/json',
      'x-ms-useragent': 'aihub',
      'api-key': 'azure-key',
    });
    expect(JSON.parse(built.body)).toEqual({
      model: 'gpt-4o prod',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('sends embeddings to the deployment the same way', () => {
    const built = azureOpenAiAdapter.embeddings!.buildRequest({ model: 'embed', input: 'hello' }, target);
    expect(built.path).toBe('/openai/deployments/gpt-4o%20prod/embeddings?api-version=2024-10-21');
    expect(built.headers['api-key']).toBe('azure-key');
    expect(built.headers).not.toHaveProperty('authorization');
  });

  it('parses an Azure completion with content-filter results and passes it through', () => {
    // Shape from https://learn.microsoft.com/azure/ai-services/openai/reference (chat completions response).
    const body = JSON.stringify({
      id: 'chatcmpl-7R1nGnsXO8n4oi9UPz2f3UHdgAYMn',
      object: 'chat.completion',
      created: 1686676106,
      model: 'gpt-4o-2024-08-06',
      prompt_filter_results: [
        { prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: 'safe' } } },
      ],
      choices: [
        {
          index: 0,
          finish_reason: 'stop',
          message: { role: 'assistant', content: 'Hello!' },
          content_filter_results: { hate: { filtered: false, severity: 'safe' } },
        },
      ],
      usage: { completion_tokens: 2, prompt_tokens: 9, total_tokens: 11, prompt_tokens_details: { cached_tokens: 0 } },
    });
    const parsed = azureOpenAiAdapter.parseChatResponse(body, { model: 'gpt-4o', messages: [] });
    expect(parsed.usage).toEqual({ promptTokens: 9, completionTokens: 2, cachedTokens: 0 });
    expect(azureOpenAiAdapter.passthroughResponses).toBe(true);
  });

  it('refuses to build a request without an api-version', () => {
    expect(() => azureOpenAiAdapter.buildChatRequest({ model: 'm', messages: [] }, { ...target, options: {} })).toThrow(
      /api_version/,
    );
  });
});
