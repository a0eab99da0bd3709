import type { SseEvent } from '../../lib/sse-parser.ts';
import type { ChatCompletion, ChatCompletionChunk, EmbeddingsResponse, OpenAiUsage } from '../spec/openai-types.ts';
import {
  MalformedUpstreamResponse,
  type ChatStreamDecoder,
  type ProviderAdapter,
  type ProviderTarget,
  type StreamItem,
  type TokenUsage,
  type UpstreamErrorDetails,
} from '../spec/provider-adapter.ts';

/** OpenAI and every OpenAI-compatible upstream: the request is the internal shape with the model swapped in. */
export const openAiAdapter: ProviderAdapter = {
  wireFormat: 'openai',

  buildChatRequest(request, target) {
    // Always ask for usage in streams so metering never has to guess; the gateway hides it if the client did not ask.
    const body = request.stream
      ? { ...request, model: target.upstreamModel, stream_options: { ...request.stream_options, include_usage: true } }
      : { ...request, model: target.upstreamModel };
    return { path: '/chat/completions', headers: buildHeaders(target), body: JSON.stringify(body) };
  },

  parseChatResponse(body) {
    const completion = parseJsonObject(body) as unknown as ChatCompletion;
    if (!Array.isArray(completion.choices)) throw new MalformedUpstreamResponse('chat completion without choices');
    return { completion, usage: toTokenUsage(completion.usage) };
  },

  createChatStreamDecoder(): ChatStreamDecoder {
    return { decode: decodeOpenAiStreamEvent };
  },

  embeddings: {
    buildRequest(request, target) {
      return {
        path: '/embeddings',
        headers: buildHeaders(target),
        body: JSON.stringify({ ...request, model: target.upstreamModel }),
      };
    },
    parseResponse(body) {
      const response = parseJsonObject(body) as unknown as EmbeddingsResponse;
      if (!Array.isArray(response.data)) throw new MalformedUpstreamResponse('embeddings response without data');
      return { response, usage: toTokenUsage(response.usage) };
    },
  },

  parseError(status, body): UpstreamErrorDetails {
    try {
      const parsed = JSON.parse(body) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
      const error = parsed.error;
      if (error && typeof error.message === 'string') {
        return {
          message: error.message,
          type: typeof error.type === 'string' ? error.type : undefined,
          code: typeof error.code === 'string' ? error.code : undefined,
        };
      }
    } catch {
      // Not JSON: fall through to a generic message; the raw body may hold anything, so it is not echoed.
    }
    return { message: `upstream answered with status ${status}`, type: undefined, code: undefined };
  },
};

function decodeOpenAiStreamEvent(event: SseEvent): StreamItem[] {
  if (event.data === '[DONE]') return [{ kind: 'done' }];
  const chunk = parseJsonObject(event.data) as unknown as ChatCompletionChunk;
  if (!Array.isArray(chunk.choices)) throw new MalformedUpstreamResponse('stream chunk without choices');
  const usage = toTokenUsage(chunk.usage);
  return usage ? [{ kind: 'usage', usage, chunk, raw: event.data }] : [{ kind: 'chunk', chunk, raw: event.data }];
}

function buildHeaders(target: ProviderTarget): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...target.headers };
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  return headers;
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedUpstreamResponse('upstream sent a body that is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MalformedUpstreamResponse('upstream sent JSON that is not an object');
  }
  return value as Record<string, unknown>;
}

export function toTokenUsage(usage: OpenAiUsage | null | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.prompt_tokens !== 'number') return undefined;
  return {
    promptTokens: usage.prompt_tokens,
    completionTokens: typeof usage.completion_tokens === 'number' ? usage.completion_tokens : 0,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
  };
}
