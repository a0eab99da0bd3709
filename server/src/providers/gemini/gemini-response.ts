import { randomUUID } from 'node:crypto';
import type {
  ChatChoice,
  ChatCompletion,
  ChatRequest,
  FinishReason,
  OpenAiUsage,
  ToolCall,
} from '../spec/openai-types.ts';
import { MalformedUpstreamResponse, type TokenUsage } from '../spec/provider-adapter.ts';
import { thoughtSignatureField } from './gemini-thought-signature.ts';
import { isRecord } from './gemini-schema.ts';
import type {
  GeminiCandidate,
  GeminiGenerateContentResponse,
  GeminiPart,
  GeminiUsageMetadata,
} from './gemini-types.ts';

/** Gemini's finish reasons that mean "stopped by a filter"; OpenAI has one value for all of them. */
const filteredFinishReasons = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
]);

/**
 * STOP becomes `tool_calls` when the turn called functions, because Gemini has no separate reason for it and
 * OpenAI clients run their tool loop on that value. Reasons without an OpenAI equivalent (OTHER, LANGUAGE,
 * MALFORMED_FUNCTION_CALL, ...) become `stop`: the answer ended, and the content says how.
 */
export function toFinishReason(reason: string | undefined, calledFunctions: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (reason !== undefined && filteredFinishReasons.has(reason)) return 'content_filter';
  return calledFunctions ? 'tool_calls' : 'stop';
}

/**
 * Thinking tokens are billed by Google as output but reported apart from candidatesTokenCount, so they are added
 * to completion_tokens (and shown as reasoning_tokens); otherwise metering would undercount every thinking model.
 */
export function toOpenAiUsage(metadata: GeminiUsageMetadata | undefined): OpenAiUsage | undefined {
  if (!metadata || typeof metadata.promptTokenCount !== 'number') return undefined;
  const promptTokens = metadata.promptTokenCount;
  const thoughtTokens = metadata.thoughtsTokenCount ?? 0;
  const completionTokens = (metadata.candidatesTokenCount ?? 0) + thoughtTokens;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: metadata.totalTokenCount ?? promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: metadata.cachedContentTokenCount ?? 0 },
    completion_tokens_details: { reasoning_tokens: thoughtTokens },
  };
}

export function toTokenUsage(usage: OpenAiUsage | undefined): TokenUsage | undefined {
  if (!usage) return undefined;
  return {
    promptTokens: usage.prompt_tokens ?? 0,
    completionTokens: usage.completion_tokens ?? 0,
    cachedTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
  };
}

/**
 * Gemini calls carry no id (except where the API fills the optional `id`), yet OpenAI tool messages must name one.
 * The id is derived from the response id and the call's position, so it is stable for one answer and does not
 * repeat across turns of a conversation.
 */
export function toToolCall(part: GeminiPart, responseId: string | undefined, position: number): ToolCall {
  const call = part.functionCall;
  if (!call || typeof call.name !== 'string') throw new MalformedUpstreamResponse('function call without a name');
  const id =
    typeof call.id === 'string' && call.id !== '' ? call.id : `call_${responseId ? `${responseId}_` : ''}${position}`;
  return {
    id,
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
    ...thoughtSignatureField(part.thoughtSignature),
  };
}

export function parseGeminiJson(text: string): GeminiGenerateContentResponse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MalformedUpstreamResponse('Gemini sent a body that is not JSON');
  }
  if (!isRecord(value)) throw new MalformedUpstreamResponse('Gemini sent JSON that is not an object');
  return value;
}

export function newCompletionId(responseId: string | undefined): string {
  return responseId ?? `chatcmpl-gemini-${randomUUID()}`;
}

export function parseGenerateContentResponse(
  body: string,
  request: ChatRequest,
): { completion: ChatCompletion; usage: TokenUsage | undefined } {
  const response = parseGeminiJson(body);
  const candidates = Array.isArray(response.candidates) ? response.candidates : [];
  let choices: ChatChoice[];
  if (candidates.length > 0) {
    choices = candidates.map((candidate, position) => toChoice(candidate, position, response.responseId));
  } else if (response.promptFeedback?.blockReason) {
    // The prompt itself was blocked: Gemini answers 200 with no candidates, OpenAI clients expect a filtered choice.
    choices = [{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'content_filter' }];
  } else {
    throw new MalformedUpstreamResponse('Gemini response without candidates');
  }
  const usage = toOpenAiUsage(response.usageMetadata);
  const completion: ChatCompletion = {
    id: newCompletionId(response.responseId),
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: response.modelVersion ?? request.model,
    choices,
    ...(usage ? { usage } : {}),
  };
  return { completion, usage: toTokenUsage(usage) };
}

function toChoice(candidate: GeminiCandidate, position: number, responseId: string | undefined): ChatChoice {
  const parts = Array.isArray(candidate.content?.parts) ? candidate.content.parts : [];
  let content = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const part of parts) {
    if (part.functionCall) toolCalls.push(toToolCall(part, responseId, toolCalls.length));
    else if (typeof part.text === 'string' && part.thought === true) reasoning += part.text;
    else if (typeof part.text === 'string') content += part.text;
  }
  return {
    index: candidate.index ?? position,
    message: {
      role: 'assistant',
      content: content === '' && toolCalls.length > 0 ? null : content,
      ...(reasoning === '' ? {} : { reasoning_content: reasoning }),
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
    },
    finish_reason: toFinishReason(candidate.finishReason, toolCalls.length > 0),
  };
}
