import type { SseEvent } from '../../lib/sse-parser.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsResponse,
  OpenAiUsage,
} from '../spec/openai-types.ts';
import {
  MalformedUpstreamResponse,
  type StreamItem,
  type TokenUsage,
  type UpstreamErrorDetails,
} from '../spec/provider-adapter.ts';

/**
 * Pieces of the OpenAI wire format shared by the plain OpenAI adapter, the preset-driven OpenAI-compatible adapter
 * and Azure OpenAI.
 */

/** The internal request with the upstream model swapped in; streams always ask for usage so metering never guesses. */
export function buildChatBody(request: ChatRequest, upstreamModel: string): Record<string, unknown> {
  return request.stream
    ? { ...request, model: upstreamModel, stream_options: { ...request.stream_options, include_usage: true } }
    : { ...request, model: upstreamModel };
}

export function parseChatCompletion(body: string): ChatCompletion {
  const completion = parseJsonObject(body) as unknown as ChatCompletion;
  if (!Array.isArray(completion.choices)) throw new MalformedUpstreamResponse('chat completion without choices');
  return completion;
}

export function parseChatChunk(data: string): ChatCompletionChunk {
  const chunk = parseJsonObject(data) as unknown as ChatCompletionChunk;
  if (!Array.isArray(chunk.choices)) throw new MalformedUpstreamResponse('stream chunk without choices');
  return chunk;
}

export function parseEmbeddingsResponse(body: string): { response: EmbeddingsResponse; usage: TokenUsage | undefined } {
  const response = parseJsonObject(body) as unknown as EmbeddingsResponse;
  if (!Array.isArray(response.data)) throw new MalformedUpstreamResponse('embeddings response without data');
  return { response, usage: toTokenUsage(response.usage) };
}

export type UsageReader = (usage: OpenAiUsage | null | undefined) => TokenUsage | undefined;

/** `raw` is the event data to forward unchanged, or undefined when the chunk was rewritten and must be serialized. */
export function toStreamItems(
  chunk: ChatCompletionChunk,
  raw: string | undefined,
  readUsage: UsageReader = toTokenUsage,
): StreamItem[] {
  const usage = readUsage(chunk.usage);
  return usage ? [{ kind: 'usage', usage, chunk, raw }] : [{ kind: 'chunk', chunk, raw }];
}

export function decodeOpenAiStreamEvent(event: SseEvent): StreamItem[] {
  if (event.data === '[DONE]') return [{ kind: 'done' }];
  return toStreamItems(parseChatChunk(event.data), event.data);
}

export function parseOpenAiError(status: number, body: string): UpstreamErrorDetails {
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
}

export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedUpstreamResponse('upstream sent a body that is not JSON');
  }
  if (!isRecord(value)) throw new MalformedUpstreamResponse('upstream sent JSON that is not an object');
  return value;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function toTokenUsage(usage: OpenAiUsage | null | undefined): TokenUsage | undefined {
  if (!usage || typeof usage.prompt_tokens !== 'number') return undefined;
  const tokenUsage: TokenUsage = {
    promptTokens: usage.prompt_tokens,
    completionTokens: typeof usage.completion_tokens === 'number' ? usage.completion_tokens : 0,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
  };
  // OpenAI itself reports no cache writes; OpenRouter (and AI Hub in front of Anthropic) report them here.
  const cacheWriteTokens = usage.prompt_tokens_details?.cache_write_tokens;
  if (typeof cacheWriteTokens === 'number' && cacheWriteTokens > 0) tokenUsage.cacheWriteTokens = cacheWriteTokens;
  return tokenUsage;
}
