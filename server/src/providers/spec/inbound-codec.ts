import type { AppError } from '../../errors/app-error.ts';
import type { ChatCompletion, ChatRequest } from './openai-types.ts';
import type { StreamItem, TokenUsage, WireFormat } from './provider-adapter.ts';

/**
 * How one client-facing API format (OpenAI chat, Anthropic Messages) enters and leaves the internal shape. Like
 * adapters, codecs are pure: the gateway validates the body with `requestSchema`, decodes it, routes it to any
 * provider, and encodes what comes back.
 */
export interface InboundCodec<Body = unknown> {
  readonly format: WireFormat;
  decodeRequest(body: Body): ChatRequest;
  encodeResponse(completion: ChatCompletion, usage: TokenUsage | undefined, requestedModel: string): unknown;
  /**
   * For codecs of the upstream's own format: the upstream body, forwarded without parsing, with only what must change
   * for the client changed (the model it asked for).
   */
  encodePassthroughResponse?(body: string, requestedModel: string): string;
  createStreamEncoder(request: ChatRequest, requestedModel: string): InboundStreamEncoder;
  /** The error body in this format (OpenAI: `{error:{...}}`; Anthropic: `{type:'error', error:{...}}`). */
  encodeError(error: AppError): unknown;
}

export interface InboundStreamEncoder {
  /** SSE text to write for one internal item ('' for nothing). */
  encode(item: StreamItem): string;
  /** SSE text for a failure after the stream started; the response ends after it. */
  encodeError(error: AppError): string;
}
