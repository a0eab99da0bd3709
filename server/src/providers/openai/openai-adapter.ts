import type { ChatStreamDecoder, ProviderTarget } from '../spec/provider-adapter.ts';
import { findLastObjectMember } from '../../lib/json-member-scan.ts';
import type { OpenAiUsage } from '../spec/openai-types.ts';
import type { OpenAiCompatibleAdapter } from './openai-quirks.ts';
import {
  buildChatBody,
  decodeOpenAiStreamEvent,
  parseChatCompletion,
  parseEmbeddingsResponse,
  parseOpenAiError,
  toTokenUsage,
} from './openai-wire.ts';

export { toTokenUsage };

/**
 * OpenAI, and every OpenAI-compatible upstream without quirks: the request is the internal shape with the model
 * swapped in, and responses pass through untouched.
 */
export const openAiAdapter: OpenAiCompatibleAdapter = {
  wireFormat: 'openai',
  passthroughResponses: true,

  buildChatRequest(request, target) {
    return {
      path: '/chat/completions',
      headers: bearerHeaders(target),
      body: JSON.stringify(buildChatBody(request, target.upstreamModel)),
    };
  },

  parseChatResponse(body) {
    const completion = parseChatCompletion(body);
    return { completion, usage: toTokenUsage(completion.usage) };
  },

  readPassthroughUsage(body) {
    // A whole JSON object whose usage member can be read on its own; anything else gets the full parse.
    if (body.charCodeAt(0) !== 123 || body.charCodeAt(body.length - 1) !== 125) return undefined;
    const source = findLastObjectMember(body, 'usage');
    if (source === undefined) return undefined;
    try {
      return toTokenUsage(JSON.parse(source) as OpenAiUsage);
    } catch {
      return undefined;
    }
  },

  createChatStreamDecoder(): ChatStreamDecoder {
    return { decode: decodeOpenAiStreamEvent };
  },

  embeddings: {
    buildRequest(request, target) {
      return {
        path: '/embeddings',
        headers: bearerHeaders(target),
        body: JSON.stringify({ ...request, model: target.upstreamModel }),
      };
    },
    parseResponse: parseEmbeddingsResponse,
  },

  parseError: parseOpenAiError,
};

/** Local servers (Ollama, vLLM, LM Studio) take no key: without one, no Authorization header is sent. */
export function bearerHeaders(target: ProviderTarget): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...target.headers };
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  return headers;
}
