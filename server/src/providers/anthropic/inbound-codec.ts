import type { AppError } from '../../errors/app-error.ts';
import type { ChatCompletion } from '../spec/openai-types.ts';
import type { InboundCodec } from '../spec/inbound-codec.ts';
import { MalformedUpstreamResponse, type TokenUsage } from '../spec/provider-adapter.ts';
import { anthropicUsageFrom, errorTypeForStatus, stopReasonFor } from './anthropic-mappings.ts';
import type {
  AnthropicContentBlock,
  AnthropicErrorBody,
  AnthropicMessageResponse,
  AnthropicMessagesRequest,
} from './anthropic-types.ts';
import { decodeMessagesRequest } from './decode-messages-request.ts';
import { anthropicMessageId, AnthropicStreamEncoder } from './inbound-stream-encoder.ts';
import { isJsonObject } from './parse-json-object.ts';

export { AnthropicCountTokensRequestSchema, AnthropicMessagesRequestSchema } from './messages-request-schema.ts';

/** Lets Anthropic SDK clients talk to any provider: POST /v1/messages in, Anthropic messages and events out. */
export const anthropicInboundCodec: InboundCodec<AnthropicMessagesRequest> = {
  format: 'anthropic',

  decodeRequest: decodeMessagesRequest,

  encodeResponse(completion, usage, requestedModel): AnthropicMessageResponse {
    const choice = completion.choices[0];
    const message = choice?.message;
    const content: AnthropicContentBlock[] = [];
    if (message?.reasoning_content) {
      content.push({
        type: 'thinking',
        thinking: message.reasoning_content,
        signature: message.reasoning_signature ?? '',
      });
    }
    if (message?.content) content.push({ type: 'text', text: message.content });
    for (const call of Array.isArray(message?.tool_calls) ? message.tool_calls : []) {
      if (!isJsonObject(call) || !isJsonObject(call.function) || typeof call.function.name !== 'string') {
        throw new MalformedUpstreamResponse('the upstream sent a tool call without a function name');
      }
      content.push({
        type: 'tool_use',
        id: call.id,
        name: call.function.name,
        input: parseToolInput(call.function.arguments),
      });
    }
    return {
      id: anthropicMessageId(completion.id),
      type: 'message',
      role: 'assistant',
      content,
      model: requestedModel,
      stop_reason: stopReasonFor(choice?.finish_reason),
      // OpenAI does not say which stop sequence matched, so a stop is reported as end_turn.
      stop_sequence: null,
      usage: anthropicUsageFrom(usage ?? usageFromCompletion(completion)),
    };
  },

  createStreamEncoder(_request, requestedModel) {
    return new AnthropicStreamEncoder(requestedModel);
  },

  encodeError(error): AnthropicErrorBody {
    return { type: 'error', error: { type: errorTypeForStatus(error.status), message: messageNamingParam(error) } };
  },
};

/** The texts to count for POST /v1/messages/count_tokens: the system prompt, one entry per message, one per tool. */
export function countTokensInput(request: AnthropicMessagesRequest): string[] {
  const texts: string[] = [];
  if (typeof request.system === 'string') texts.push(request.system);
  else if (request.system) texts.push(request.system.map((block) => block.text).join('\n'));
  for (const message of request.messages) {
    if (typeof message.content === 'string') texts.push(message.content);
    else texts.push(message.content.map(blockText).filter(Boolean).join('\n'));
  }
  for (const tool of request.tools ?? []) {
    texts.push([tool.name, tool.description ?? '', JSON.stringify(tool.input_schema ?? {})].join('\n'));
  }
  return texts;
}

function blockText(block: AnthropicContentBlock): string {
  switch (block.type) {
    case 'text':
      return block.text;
    case 'thinking':
      return block.thinking;
    case 'tool_use':
      return `${block.name} ${JSON.stringify(block.input)}`;
    case 'tool_result':
      if (typeof block.content === 'string') return block.content;
      return (block.content ?? []).map((part) => (part.type === 'text' ? part.text : '')).join('\n');
    case 'document':
      return block.source.type === 'text' ? block.source.data : '';
    case 'image':
    case 'redacted_thinking':
    default:
      // Images and PDFs are counted by pixels and pages upstream; a text tokenizer has nothing to say about them.
      return '';
  }
}

/** Anthropic's error body has no `param`, so the field at fault is named in the message. */
function messageNamingParam(error: AppError): string {
  const { param, message } = error;
  return param === undefined || message.includes(param) ? message : `${param}: ${message}`;
}

/** Anthropic requires tool input to be an object; arguments that are not one are the upstream model's fault. */
function parseToolInput(argumentsText: unknown): Record<string, unknown> {
  if (typeof argumentsText !== 'string') {
    throw new MalformedUpstreamResponse('the upstream sent tool call arguments that are not a string');
  }
  if (argumentsText.trim() === '') return {};
  let input: unknown;
  try {
    input = JSON.parse(argumentsText);
  } catch {
    throw new MalformedUpstreamResponse('the upstream sent tool call arguments that are not JSON');
  }
  if (!isJsonObject(input))
    throw new MalformedUpstreamResponse('the upstream sent tool call arguments that are not an object');
  return input;
}

function usageFromCompletion(completion: ChatCompletion): TokenUsage {
  const usage = completion.usage;
  return {
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens: usage?.completion_tokens ?? 0,
    cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: usage?.prompt_tokens_details?.cache_write_tokens ?? 0,
  };
}
