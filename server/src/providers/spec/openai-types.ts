/**
 * The internal request/response shapes: OpenAI's chat and embeddings formats. Every adapter translates to and from
 * these. Fields are typed as far as some part of AI Hub reads them; unknown fields are carried through untouched,
 * which is why objects keep an index signature.
 *
 * Extensions beyond OpenAI's own schema (used by OpenAI-compatible upstreams and needed for translation):
 * - `reasoning_content` on assistant messages and stream deltas: the model's thinking text (DeepSeek's convention);
 * - `reasoning_signature` on the same: an opaque signature some providers (Anthropic) need to accept the thinking
 *   back in a later turn.
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface TextContentPart {
  type: 'text';
  text: string;
  [field: string]: unknown;
}

export interface ImageContentPart {
  type: 'image_url';
  /** An http(s) URL or a `data:<mime>;base64,<data>` URL. */
  image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
  [field: string]: unknown;
}

/** Any other part type (input_audio, file, ...): adapters that cannot carry it reject it naming the part. */
export interface OtherContentPart {
  type: string;
  [field: string]: unknown;
}

export type ContentPart = TextContentPart | ImageContentPart | OtherContentPart;

export interface ToolCall {
  id: string;
  /** 'function' for every call AI Hub translates; OpenAI's custom tool calls reach only OpenAI-format upstreams. */
  type: 'function' | (string & {});
  function: { name: string; arguments: string };
  [field: string]: unknown;
}

export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | (string & {});
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  reasoning_content?: string | null;
  reasoning_signature?: string | null;
  [field: string]: unknown;
}

export interface FunctionTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
  [field: string]: unknown;
}

export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | {
      type: 'json_schema';
      json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean | null; description?: string };
    };

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean; [field: string]: unknown } | null;
  tools?: FunctionTool[] | null;
  tool_choice?: ToolChoice | null;
  parallel_tool_calls?: boolean;
  response_format?: ResponseFormat | null;
  stop?: string | string[] | null;
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  /** OpenAI's reasoning control; adapters map it to the provider's thinking budget where one exists. */
  reasoning_effort?: 'minimal' | 'low' | 'medium' | 'high' | (string & {}) | null;
  n?: number;
  user?: string;
  [field: string]: unknown;
}

export interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  /** `cache_write_tokens` is not OpenAI's: OpenRouter reports prompt cache writes there, and so do we. */
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number; [field: string]: unknown } | null;
  completion_tokens_details?: { reasoning_tokens?: number; [field: string]: unknown } | null;
  [field: string]: unknown;
}

/** OpenAI finish reasons; adapters map provider stop reasons onto these. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call' | (string & {});

export interface AssistantMessage {
  role: 'assistant' | (string & {});
  content?: string | null;
  tool_calls?: ToolCall[];
  reasoning_content?: string | null;
  reasoning_signature?: string | null;
  refusal?: string | null;
  [field: string]: unknown;
}

export interface ChatChoice {
  index: number;
  message?: AssistantMessage;
  finish_reason?: FinishReason | null;
  [field: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: string;
  created?: number;
  model: string;
  choices: ChatChoice[];
  usage?: OpenAiUsage | null;
  [field: string]: unknown;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function' | (string & {});
  function?: { name?: string; arguments?: string };
  [field: string]: unknown;
}

export interface ChatChunkChoice {
  index: number;
  delta?: {
    role?: string;
    content?: string | null;
    tool_calls?: ToolCallDelta[];
    reasoning_content?: string | null;
    reasoning_signature?: string | null;
    [field: string]: unknown;
  };
  finish_reason?: FinishReason | null;
  [field: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: string;
  created?: number;
  model: string;
  choices: ChatChunkChoice[];
  usage?: OpenAiUsage | null;
  [field: string]: unknown;
}

export interface EmbeddingsRequest {
  model: string;
  input: JsonValue;
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  [field: string]: unknown;
}

export interface EmbeddingsResponse {
  object: string;
  data: { object: string; index: number; embedding: number[] | string; [field: string]: unknown }[];
  model: string;
  usage?: OpenAiUsage | null;
  [field: string]: unknown;
}
