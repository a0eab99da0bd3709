import type { SseEvent } from '../../lib/sse-parser.ts';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
} from './openai-types.ts';

/**
 * The seam between the gateway and one upstream wire format. The internal shape is OpenAI's chat format
 * (openai-types.ts); an adapter translates requests out of it and responses back into it. Adapters are pure: they
 * never touch the network, the database, tenancy or billing; the gateway does the HTTP with its pools.
 */
export type WireFormat = 'openai' | 'anthropic' | 'gemini';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens served from the provider's cache (a subset of promptTokens). */
  cachedTokens: number;
  /**
   * Prompt tokens written to the provider's cache (Anthropic `cache_creation_input_tokens`; a subset of promptTokens,
   * apart from cachedTokens). Absent means none: most providers do not charge for cache writes or report them.
   */
  cacheWriteTokens?: number;
}

/** Where and how to reach one deployment; built by the gateway from config, handed to the adapter. */
export interface ProviderTarget {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly upstreamModel: string;
  /** Provider-specific settings from config (e.g. Azure's api-version, Anthropic's version header). */
  readonly options: Readonly<Record<string, string>>;
}

export interface UpstreamHttpRequest {
  /** Path and query appended to the provider's base URL path. */
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Request fields the provider cannot take and the adapter dropped; reported to the client in a header. */
  readonly droppedParameters?: readonly string[];
}

export interface ParsedChatResponse {
  readonly completion: ChatCompletion;
  readonly usage: TokenUsage | undefined;
}

export type StreamItem =
  | {
      readonly kind: 'chunk';
      readonly chunk: ChatCompletionChunk;
      /** The original event data when it is already an OpenAI chunk, so OpenAI clients get the bytes unchanged. */
      readonly raw: string | undefined;
    }
  | {
      /** A chunk that carries the final usage (OpenAI: `choices: []` plus `usage`). */
      readonly kind: 'usage';
      readonly usage: TokenUsage;
      readonly chunk: ChatCompletionChunk;
      readonly raw: string | undefined;
    }
  | { readonly kind: 'done' };

/** Decodes one upstream stream into internal items; stateful, one instance per request. */
export interface ChatStreamDecoder {
  decode(event: SseEvent): StreamItem[];
  /** Called when the upstream body ended; returns closing items, or throws if the stream was cut short. */
  end?(): StreamItem[];
}

export interface UpstreamErrorDetails {
  readonly message: string;
  readonly type: string | undefined;
  readonly code: string | undefined;
}

export interface ProviderAdapter {
  readonly wireFormat: WireFormat;
  /**
   * For OpenAI-format adapters: whether a non-streamed upstream body may be forwarded to OpenAI clients byte for
   * byte. False when the adapter rewrites responses (a preset renaming `reasoning` to `reasoning_content`).
   */
  readonly passthroughResponses?: boolean;
  /**
   * For responses forwarded byte for byte: read just the usage, without parsing the whole body. Returns undefined
   * when it cannot tell, and the gateway then parses the body in full.
   */
  readPassthroughUsage?(body: string): TokenUsage | undefined;
  /** `request.stream` decides whether the upstream is asked to stream. */
  buildChatRequest(request: ChatRequest, target: ProviderTarget): UpstreamHttpRequest;
  parseChatResponse(body: string, request: ChatRequest): ParsedChatResponse;
  createChatStreamDecoder(request: ChatRequest): ChatStreamDecoder;
  /** Absent for providers without an embeddings API. */
  readonly embeddings?: {
    buildRequest(request: EmbeddingsRequest, target: ProviderTarget): UpstreamHttpRequest;
    parseResponse(
      body: string,
      request: EmbeddingsRequest,
    ): { response: EmbeddingsResponse; usage: TokenUsage | undefined };
  };
  parseError(status: number, body: string): UpstreamErrorDetails;
}

/** Thrown by adapters when an upstream answer cannot be understood; the gateway maps it to a 502. */
export class MalformedUpstreamResponse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedUpstreamResponse';
  }
}

/** Thrown by adapters when the upstream reports an error inside a stream (e.g. Anthropic's `error` event). */
export class UpstreamStreamError extends Error {
  readonly details: UpstreamErrorDetails;
  constructor(details: UpstreamErrorDetails) {
    super(details.message);
    this.name = 'UpstreamStreamError';
    this.details = details;
  }
}

/**
 * Thrown when a request holds something the target provider cannot carry (audio to a text-only API, a malformed
 * tool schema). The gateway answers 400 naming `param`, e.g. `messages[2].content[1]`.
 */
export class UnsupportedRequest extends Error {
  readonly param: string | undefined;
  constructor(message: string, param?: string) {
    super(message);
    this.name = 'UnsupportedRequest';
    this.param = param;
  }
}
