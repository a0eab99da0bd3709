/**
 * Google Gemini's REST wire format (generativelanguage.googleapis.com, v1beta), typed as far as the adapter writes
 * or reads it. Responses are parsed from untrusted JSON, so every response field is optional and checked on use.
 */
import type { JsonValue } from '../spec/openai-types.ts';

export type GeminiJsonObject = { [key: string]: JsonValue };

/** A part holds exactly one kind of data; `thought` marks a text part as a thought summary. */
export interface GeminiPart {
  text?: string;
  thought?: boolean;
  /** Opaque token that lets the model resume its reasoning; must be sent back on the part it came with. */
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType: string; fileUri: string };
  /** `id` is filled only by some API surfaces; plain generateContent calls have none. */
  functionCall?: { name: string; args?: GeminiJsonObject; id?: string };
  functionResponse?: { name: string; response: GeminiJsonObject };
}

export interface GeminiContent {
  role?: 'user' | 'model' | (string & {});
  parts?: GeminiPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  /** Gemini's Schema: a subset of the OpenAPI 3.0 schema object. */
  parameters?: GeminiJsonObject;
  /** Plain JSON Schema; mutually exclusive with `parameters`. */
  parametersJsonSchema?: GeminiJsonObject;
}

export interface GeminiFunctionCallingConfig {
  mode: 'AUTO' | 'ANY' | 'NONE';
  allowedFunctionNames?: string[];
}

export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  candidateCount?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  seed?: number;
  responseMimeType?: string;
  responseJsonSchema?: GeminiJsonObject;
  thinkingConfig?: { thinkingBudget?: number; includeThoughts?: boolean };
}

export interface GeminiGenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: { parts: GeminiPart[] };
  tools?: { functionDeclarations: GeminiFunctionDeclaration[] }[];
  toolConfig?: { functionCallingConfig: GeminiFunctionCallingConfig };
  generationConfig?: GeminiGenerationConfig;
}

export interface GeminiCandidate {
  content?: GeminiContent;
  finishReason?: string;
  index?: number;
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
}

/** Google's error envelope (google.rpc.Status as JSON). */
export interface GeminiErrorObject {
  code?: number;
  message?: string;
  status?: string;
  details?: { '@type'?: string; reason?: string }[];
}

/** One whole answer, and also one event of a stream (each SSE `data:` is a full response fragment). */
export interface GeminiGenerateContentResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  error?: GeminiErrorObject;
}

export interface GeminiBatchEmbedContentsRequest {
  requests: {
    model: string;
    content: { parts: { text: string }[] };
    outputDimensionality?: number;
  }[];
}

export interface GeminiBatchEmbedContentsResponse {
  embeddings?: { values?: number[] }[];
}
