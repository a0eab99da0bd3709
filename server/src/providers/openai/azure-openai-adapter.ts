import type { ProviderTarget } from '../spec/provider-adapter.ts';
import { openAiAdapter } from './openai-adapter.ts';
import type { OpenAiCompatibleAdapter } from './openai-quirks.ts';
import { buildChatBody, parseEmbeddingsResponse } from './openai-wire.ts';

/**
 * Azure OpenAI: the OpenAI wire format behind a per-deployment path, a required `api-version` query parameter and
 * an `api-key` header. The deployment is the configured upstream model; the `model` field stays in the body, where
 * Azure ignores it. Responses and streams are OpenAI's (plus content-filter fields, carried through untouched).
 * https://learn.microsoft.com/azure/ai-services/openai/reference
 */
export const azureOpenAiAdapter: OpenAiCompatibleAdapter = {
  ...openAiAdapter,

  buildChatRequest(request, target) {
    return {
      path: deploymentPath(target, 'chat/completions'),
      headers: apiKeyHeaders(target),
      body: JSON.stringify(buildChatBody(request, target.upstreamModel)),
    };
  },

  embeddings: {
    parseResponse: parseEmbeddingsResponse,
    buildRequest(request, target) {
      return {
        path: deploymentPath(target, 'embeddings'),
        headers: apiKeyHeaders(target),
        body: JSON.stringify({ ...request, model: target.upstreamModel }),
      };
    },
  },
};

function deploymentPath(target: ProviderTarget, operation: string): string {
  const apiVersion = target.options.api_version;
  // Config validation guarantees it; reaching here without one is a programming error, not a client's.
  if (!apiVersion) throw new Error('an azure-openai provider needs options.api_version');
  return (
    `/openai/deployments/${encodeURIComponent(target.upstreamModel)}/${operation}` +
    `?api-version=${encodeURIComponent(apiVersion)}`
  );
}

function apiKeyHeaders(target: ProviderTarget): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...target.headers };
  if (target.apiKey) headers['api-key'] = target.apiKey;
  return headers;
}
