import { mockCompletionText, mockCompletionWord } from '../chat.ts';
import { isJsonRecord, type JsonRecord } from '../json-value.ts';
import type { MockReply } from '../reply.ts';
import type { RouteContext } from '../routes.ts';
import { countChatPromptTokens } from '../token-counting.ts';
import { serializeAnthropicError } from './anthropic-error.ts';

/**
 * POST /v1/messages in Anthropic's wire format. The answer is the same deterministic text as the OpenAI route
 * ("tok0 tok1 …", one word per stream delta), except that a request offering tools whose last user text mentions
 * "weather" gets a tool_use block for the first tool, so cross-format tool-call tests have something to call.
 * Prompt tokens follow the OpenAI route's rule, with the system prompt counted as one more message; prompt-cache reads
 * and writes are 0 unless `cacheReadTokens` / `cacheWriteTokens` (or their x-mock headers) say otherwise.
 */

/** The tool input every mocked tool call carries. */
export const mockToolInput = { city: 'Paris' } as const;

/** output_tokens reported for a tool_use answer, which has no words to count. */
export const mockToolUseOutputTokens = 12;

/** The streamed tool input, split the way Anthropic splits it: an empty first fragment, then pieces of the JSON. */
const toolInputFragments = ['', '{"city":', ' "Paris"}'];

interface MessagesRequest {
  readonly model: string;
  readonly stream: boolean;
  readonly inputTokens: number;
  /** Set when the answer is a tool call. */
  readonly toolName: string | undefined;
}

interface AnswerShape {
  readonly id: string;
  readonly toolUseId: string;
  readonly chunks: number;
  /** Prompt-cache counts to report (`cacheReadTokens`, `cacheWriteTokens`), apart from input_tokens as Anthropic does. */
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}

export function replyToAnthropicMessages(body: unknown, context: RouteContext): MockReply {
  const parsed = parseMessagesRequest(body);
  if (typeof parsed === 'string') return anthropicErrorReply(400, 'invalid_request_error', parsed);
  const shape: AnswerShape = {
    id: context.createResponseId('msg_mock_'),
    toolUseId: context.createResponseId('toolu_mock_'),
    chunks: context.behaviour.chunks,
    cacheReadTokens: context.behaviour.cacheReadTokens,
    cacheWriteTokens: context.behaviour.cacheWriteTokens,
  };
  if (parsed.stream) return { kind: 'stream', frames: buildMessageStreamFrames(parsed, shape) };
  return { kind: 'json', status: 200, body: buildMessageBody(parsed, shape) };
}

export function anthropicErrorReply(status: number, type: string, message: string): MockReply {
  return { kind: 'json', status, body: serializeAnthropicError(type, message) };
}

/** The request, or the message of the 400 Anthropic would answer (worded like Anthropic's own). */
function parseMessagesRequest(body: unknown): MessagesRequest | string {
  if (!isJsonRecord(body)) return 'The request body must be a JSON object.';
  const { model, max_tokens: maxTokens, messages, system, tools } = body;
  if (typeof model !== 'string' || model === '') return 'model: Field required';
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1) {
    return 'max_tokens: Field required and must be a positive integer';
  }
  if (!Array.isArray(messages) || messages.length === 0) return 'messages: at least one message is required';
  const turns: readonly unknown[] = messages;
  const promptMessages = system === undefined ? turns : [{ content: system }, ...turns];
  const toolList: readonly unknown[] = Array.isArray(tools) ? tools : [];
  const firstToolName = isJsonRecord(toolList[0]) ? toolList[0]['name'] : undefined;
  const asksForWeather = /\bweather\b/i.test(lastUserText(turns));
  return {
    model,
    stream: body['stream'] === true,
    inputTokens: countChatPromptTokens(promptMessages),
    toolName: typeof firstToolName === 'string' && asksForWeather ? firstToolName : undefined,
  };
}

/** The text of the last user turn; a turn of tool results only has none, which ends a mocked tool loop. */
function lastUserText(messages: readonly unknown[]): string {
  const last = messages.findLast((message) => isJsonRecord(message) && message['role'] === 'user') as
    JsonRecord | undefined;
  const content = last?.['content'];
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((block) => (isJsonRecord(block) && block['type'] === 'text' ? String(block['text']) : ''))
    .join(' ');
}

function usageFor(request: MessagesRequest, shape: AnswerShape, outputTokens: number): JsonRecord {
  return {
    input_tokens: request.inputTokens,
    cache_creation_input_tokens: shape.cacheWriteTokens,
    cache_read_input_tokens: shape.cacheReadTokens,
    output_tokens: outputTokens,
  };
}

function buildMessageBody(request: MessagesRequest, shape: AnswerShape): string {
  const toolAnswer = request.toolName !== undefined;
  return JSON.stringify({
    id: shape.id,
    type: 'message',
    role: 'assistant',
    model: request.model,
    content: toolAnswer
      ? [{ type: 'tool_use', id: shape.toolUseId, name: request.toolName, input: mockToolInput }]
      : [{ type: 'text', text: mockCompletionText(shape.chunks) }],
    stop_reason: toolAnswer ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: usageFor(request, shape, toolAnswer ? mockToolUseOutputTokens : shape.chunks),
  });
}

function formatEventFrame(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

/**
 * Frames in wire order: message_start, content_block_start, ping, one content_block_delta per word (or per tool
 * input fragment), content_block_stop, message_delta with the stop reason and output usage, message_stop.
 */
function buildMessageStreamFrames(request: MessagesRequest, shape: AnswerShape): string[] {
  const toolAnswer = request.toolName !== undefined;
  const startMessage = {
    id: shape.id,
    type: 'message',
    role: 'assistant',
    model: request.model,
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: usageFor(request, shape, 0),
  };
  const block = toolAnswer
    ? { type: 'tool_use', id: shape.toolUseId, name: request.toolName, input: {} }
    : { type: 'text', text: '' };
  const frames = [
    formatEventFrame('message_start', JSON.stringify({ type: 'message_start', message: startMessage })),
    formatEventFrame(
      'content_block_start',
      JSON.stringify({ type: 'content_block_start', index: 0, content_block: block }),
    ),
    formatEventFrame('ping', '{"type":"ping"}'),
  ];
  // Deltas are concatenated onto a fixed prefix rather than stringified whole: benchmarks stream many of them.
  const deltaPrefix = '{"type":"content_block_delta","index":0,"delta":';
  if (toolAnswer) {
    for (const fragment of toolInputFragments) {
      const delta = `{"type":"input_json_delta","partial_json":${JSON.stringify(fragment)}}`;
      frames.push(formatEventFrame('content_block_delta', `${deltaPrefix}${delta}}`));
    }
  } else {
    for (let index = 0; index < shape.chunks; index += 1) {
      const delta = `{"type":"text_delta","text":${JSON.stringify(mockCompletionWord(index))}}`;
      frames.push(formatEventFrame('content_block_delta', `${deltaPrefix}${delta}}`));
    }
  }
  const messageDelta = {
    type: 'message_delta',
    delta: { stop_reason: toolAnswer ? 'tool_use' : 'end_turn', stop_sequence: null },
    usage: { output_tokens: toolAnswer ? mockToolUseOutputTokens : shape.chunks },
  };
  frames.push(
    formatEventFrame('content_block_stop', '{"type":"content_block_stop","index":0}'),
    formatEventFrame('message_delta', JSON.stringify(messageDelta)),
    formatEventFrame('message_stop', '{"type":"message_stop"}'),
  );
  return frames;
}
