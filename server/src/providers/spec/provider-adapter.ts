import type { SseEvent } from '../../lib/sse-parser.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './openai-types.ts';

/**
 * The seam between the gateway and one upstream wire format. The internal shape is OpenAI's chat format;
 * an adapter translates requests out of it and responses back into it. Adapters are pure: they never touch the
 * network, the database, tenancy or billing; the gateway does the HTTP with its pools.
 */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

/** Where and how to reach one deployment; built by the gateway from config, handed to the adapter. */
export interface ProviderTarget {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly upstreamModel: string;
}

export interface UpstreamHttpRequest {
  /** Path and query appended to the provider's base URL. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface ParsedChatResponse {
  readonly completion: ChatCompletion;
  readonly usage: TokenUsage | undefined;
}

export type StreamItem =
  | {
      readonly kind: 'chunk';
      readonly chunk: ChatCompletionChunk;
      /** Original event data when already OpenAI-shaped. */ readonly raw: string | undefined;
    }
  | {
      readonly kind: 'usage';
      readonly usage: TokenUsage;
      readonly chunk: ChatCompletionChunk;
      readonly raw: string | undefined;
    }
  | { readonly kind: 'done' };

/** Decodes one upstream stream into internal items; one instance per request. */
export interface ChatStreamDecoder {
  decode(event: SseEvent): StreamItem[];
}

export interface UpstreamErrorDetails {
  readonly message: string;
  readonly type: string | undefined;
  readonly code: string | undefined;
}

export interface ProviderAdapter {
  /** The wire format this adapter speaks; inbound requests in the same format can be passed through. */
  readonly wireFormat: 'openai';
  buildChatRequest(request: ChatRequest, target: ProviderTarget): UpstreamHttpRequest;
  parseChatResponse(body: string): ParsedChatResponse;
  createChatStreamDecoder(): ChatStreamDecoder;
  buildEmbeddingsRequest(request: EmbeddingsRequest, target: ProviderTarget): UpstreamHttpRequest;
  parseEmbeddingsResponse(body: string): { response: EmbeddingsResponse; usage: TokenUsage | undefined };
  parseError(status: number, body: string): UpstreamErrorDetails;
}

/** Thrown by adapters when an upstream answer cannot be understood; the gateway maps it to a 502. */
export class MalformedUpstreamResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedUpstreamResponse';
  }
}
