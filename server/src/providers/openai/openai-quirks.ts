import type { ProviderAdapter } from '../spec/provider-adapter.ts';

/**
 * How one OpenAI-compatible upstream differs from OpenAI, as data. Every field is optional and absent means "as
 * OpenAI"; an upstream with no quirks gets the plain OpenAI adapter and pays nothing per request.
 */
export interface OpenAiQuirks {
  /**
   * Top-level request fields the upstream rejects. They are removed before sending; those that carried a value
   * (not null or false) are reported in `droppedParameters`.
   */
  readonly unsupportedParameters?: readonly string[];
  /** Request fields the upstream spells differently, `from → to` (e.g. max_completion_tokens → max_tokens). */
  readonly renamedParameters?: Readonly<Record<string, string>>;
  /** Fields the upstream rejects on messages (reported as `messages[].<field>`). */
  readonly unsupportedMessageFields?: readonly string[];
  /** The largest `n` the upstream takes; a larger one is dropped, so the client gets one choice and a warning. */
  readonly maxChoices?: number;
  /**
   * The upstream takes `response_format: {type: 'json_object'}` but not `json_schema`: a schema request is sent as
   * plain JSON mode and `response_format.json_schema` is reported as dropped.
   */
  readonly jsonSchemaFallback?: 'json_object';
  /**
   * How usage reaches the end of a stream. `on-request` (OpenAI's way, the default): only when asked with
   * `stream_options.include_usage`. `always`: the upstream rejects `stream_options` but always ends with usage.
   */
  readonly streamUsage?: 'on-request' | 'always';
  /**
   * Where the upstream puts the model's thinking when not in `reasoning_content` (the internal convention).
   * `reasoning`: a string, moved to `reasoning_content`. `reasoning_details`: a list of `{text}` parts, joined into
   * `reasoning_content` (the list itself is kept, some upstreams want it back in later turns).
   */
  readonly reasoningField?: 'reasoning' | 'reasoning_details';
  /** The upstream puts stream usage in `choices[i].usage` instead of the chunk's `usage`; it is lifted up. */
  readonly usageInStreamChoices?: boolean;
  /**
   * The usage field counting cached prompt tokens when the upstream does not fill OpenAI's
   * `prompt_tokens_details.cached_tokens` (DeepSeek: `prompt_cache_hit_tokens`). Read for metering only; the
   * client sees the upstream's usage as sent.
   */
  readonly cachedTokensField?: string;
}

/**
 * An adapter speaking the OpenAI wire format. `passthroughResponses` says whether a non-streamed upstream body may
 * go to OpenAI-format clients byte for byte; when false, `parseChatResponse` returns a rewritten completion that
 * must be serialized instead. (Streams need no flag: rewritten chunks carry `raw: undefined`.)
 */
export interface OpenAiCompatibleAdapter extends ProviderAdapter {
  readonly wireFormat: 'openai';
  readonly passthroughResponses: boolean;
}
