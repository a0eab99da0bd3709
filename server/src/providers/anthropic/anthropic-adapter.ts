import type { AssistantMessage, ChatCompletion, ToolCall } from '../spec/openai-types.ts';
import {
  MalformedUpstreamResponse,
  type ProviderAdapter,
  type ProviderTarget,
  type UpstreamErrorDetails,
} from '../spec/provider-adapter.ts';
import { finishReasonFor, openAiUsageFrom, tokenUsageFromAnthropic } from './anthropic-mappings.ts';
import type { AnthropicMessageResponse } from './anthropic-types.ts';
import { buildMessagesRequest } from './build-messages-request.ts';
import { AnthropicChatStreamDecoder } from './chat-stream-decoder.ts';
import { isJsonObject, parseJsonObject } from './parse-json-object.ts';

/** Sent unless the deployment sets `options.anthropic_version`; the only version of the Messages API so far. */
export const defaultAnthropicVersion = '2023-06-01';

/**
 * Anthropic Messages. Base URLs are configured without `/v1` (https://api.anthropic.com), so the path carries it.
 * Anthropic has no embeddings API.
 */
export const anthropicAdapter: ProviderAdapter = {
  wireFormat: 'anthropic',

  buildChatRequest(request, target) {
    const { body, droppedParameters } = buildMessagesRequest(request, target.upstreamModel);
    return {
      path: '/v1/messages',
      headers: buildHeaders(target),
      body: JSON.stringify(body),
      ...(droppedParameters.length > 0 ? { droppedParameters } : {}),
    };
  },

  parseChatResponse(body) {
    const message = parseJsonObject(body) as unknown as AnthropicMessageResponse;
    if (!Array.isArray(message.content)) throw new MalformedUpstreamResponse('Anthropic message without content');
    const usage = isJsonObject(message.usage) ? tokenUsageFromAnthropic(message.usage) : undefined;
    const completion: ChatCompletion = {
      id: message.id,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: message.model,
      choices: [
        { index: 0, message: toAssistantMessage(message), finish_reason: finishReasonFor(message.stop_reason) },
      ],
      ...(usage ? { usage: openAiUsageFrom(usage) } : {}),
    };
    return { completion, usage };
  },

  createChatStreamDecoder() {
    return new AnthropicChatStreamDecoder();
  },

  parseError(status, body): UpstreamErrorDetails {
    try {
      // Anthropic: {type:'error', error:{type, message}}; the OpenAI shape {error:{message, type}} reads the same way.
      const error = (JSON.parse(body) as { error?: { message?: unknown; type?: unknown } }).error;
      if (error && typeof error.message === 'string') {
        return {
          message: error.message,
          type: typeof error.type === 'string' ? error.type : undefined,
          code: undefined,
        };
      }
    } catch {
      // Not JSON (a proxy's HTML page, say): the raw body may hold anything, so it is not echoed.
    }
    return { message: `upstream answered with status ${status}`, type: undefined, code: undefined };
  },
};

function buildHeaders(target: ProviderTarget): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'anthropic-version': target.options.anthropic_version ?? defaultAnthropicVersion,
    ...target.headers,
  };
  if (target.apiKey) headers['x-api-key'] = target.apiKey;
  return headers;
}

/**
 * Text blocks are joined into one content string; thinking blocks into reasoning_content with the last signature
 * (the internal shape holds one). Redacted thinking and server-tool blocks have no OpenAI counterpart and are left out.
 */
function toAssistantMessage(message: AnthropicMessageResponse): AssistantMessage {
  const texts: string[] = [];
  const thoughts: string[] = [];
  const toolCalls: ToolCall[] = [];
  let signature: string | undefined;
  for (const block of message.content) {
    if (block.type === 'text') texts.push(block.text);
    else if (block.type === 'thinking') {
      thoughts.push(block.thinking);
      signature = block.signature;
    } else if (block.type === 'tool_use') {
      toolCalls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    }
  }
  const assistant: AssistantMessage = { role: 'assistant', content: texts.length > 0 ? texts.join('') : null };
  if (toolCalls.length > 0) assistant.tool_calls = toolCalls;
  if (thoughts.length > 0) assistant.reasoning_content = thoughts.join('');
  if (signature !== undefined) assistant.reasoning_signature = signature;
  return assistant;
}
