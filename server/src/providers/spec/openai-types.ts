/**
 * The internal request/response shapes: OpenAI's chat and embeddings formats, typed only as far as the gateway
 * reads them. Unknown fields are carried through untouched, which is why every object keeps an index signature.
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface ChatMessage {
  role: string;
  content?: JsonValue;
  [field: string]: unknown;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean; [field: string]: JsonValue | undefined } | null;
  [field: string]: unknown;
}

export interface OpenAiUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; [field: string]: JsonValue | undefined } | null;
  [field: string]: unknown;
}

export interface ChatChoice {
  index: number;
  message?: { role: string; content?: string | null; [field: string]: JsonValue | undefined };
  finish_reason?: string | null;
  [field: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: string;
  model: string;
  choices: ChatChoice[];
  usage?: OpenAiUsage | null;
  [field: string]: unknown;
}

export interface ChatChunkChoice {
  index: number;
  delta?: { role?: string; content?: string | null; [field: string]: JsonValue | undefined };
  finish_reason?: string | null;
  [field: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: string;
  model: string;
  choices: ChatChunkChoice[];
  usage?: OpenAiUsage | null;
  [field: string]: unknown;
}

export interface EmbeddingsRequest {
  model: string;
  input: JsonValue;
  [field: string]: unknown;
}

export interface EmbeddingsResponse {
  object: string;
  data: JsonValue[];
  model: string;
  usage?: OpenAiUsage | null;
  [field: string]: unknown;
}
