import { isJsonRecord, type JsonRecord } from './json-value.ts';
import { createInvalidRequestError } from './openai-error.ts';
import { formatSseDataFrame, sseDoneFrame } from './sse.ts';
import { countChatPromptTokens } from './token-counting.ts';
import { createChatUsage } from './usage.ts';

/** The fields of a chat completion request the mock acts on. */
export interface ChatCompletionRequest {
  readonly model: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly promptTokens: number;
  /** Set when the answer is a call to this function rather than text. */
  readonly toolName: string | undefined;
}

/** Per-response values chosen by the server: identity, length and whether usage is reported at all. */
export interface ChatCompletionShape {
  readonly id: string;
  readonly created: number;
  readonly chunks: number;
  readonly withUsage: boolean;
  /** The id of the tool call, when the answer is one. */
  readonly toolCallId: string | undefined;
}

/** The arguments every mocked tool call carries, as the Anthropic and Gemini routes do. */
export const mockToolCallArguments = '{"city":"Paris"}';

/** completion_tokens reported for a tool-call answer, which has no words to count. */
export const mockToolCallCompletionTokens = 12;

/** The streamed arguments, split across chunks the way OpenAI streams them. */
const toolCallArgumentFragments = ['{"city":', '"Paris"}'];

/** Content chunk `index` carries this word, so a completion of N chunks is "tok0 tok1 … tok{N-1} ". */
export function mockCompletionWord(index: number): string {
  return `tok${index} `;
}

export function mockCompletionText(chunks: number): string {
  let text = '';
  for (let index = 0; index < chunks; index += 1) text += mockCompletionWord(index);
  return text;
}

export function parseChatCompletionRequest(body: unknown): ChatCompletionRequest {
  if (!isJsonRecord(body)) throw createInvalidRequestError('The request body must be a JSON object.');
  const model = body['model'];
  if (typeof model !== 'string' || model === '') {
    throw createInvalidRequestError('you must provide a model parameter', 'model');
  }
  const messages = body['messages'];
  if (!Array.isArray(messages) || messages.length === 0) {
    throw createInvalidRequestError('messages must be a non-empty array', 'messages');
  }
  const streamOptions = body['stream_options'];
  return {
    model,
    stream: body['stream'] === true,
    includeUsage: isJsonRecord(streamOptions) && streamOptions['include_usage'] === true,
    promptTokens: countChatPromptTokens(messages),
    toolName: pickToolToCall(body['tools'], messages),
  };
}

/**
 * The first function tool, when tools are offered and the latest user or tool message is a user message mentioning
 * "weather"; a tool result as the latest of those ends a mocked tool loop, as in the Anthropic and Gemini routes.
 */
function pickToolToCall(tools: unknown, messages: readonly unknown[]): string | undefined {
  if (!Array.isArray(tools) || tools.length === 0) return undefined;
  const firstTool: unknown = tools[0];
  const toolFunction = isJsonRecord(firstTool) ? firstTool['function'] : undefined;
  const name = isJsonRecord(toolFunction) ? toolFunction['name'] : undefined;
  if (typeof name !== 'string') return undefined;
  const latest = messages.findLast(
    (message) => isJsonRecord(message) && (message['role'] === 'user' || message['role'] === 'tool'),
  ) as JsonRecord | undefined;
  if (latest?.['role'] !== 'user') return undefined;
  return /\bweather\b/i.test(readMessageText(latest['content'])) ? name : undefined;
}

function readMessageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part) => (isJsonRecord(part) && typeof part['text'] === 'string' ? part['text'] : '')).join(' ');
}

export function buildChatCompletionBody(request: ChatCompletionRequest, shape: ChatCompletionShape): string {
  const toolAnswer = request.toolName !== undefined;
  const message = toolAnswer
    ? {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: shape.toolCallId,
            type: 'function',
            function: { name: request.toolName, arguments: mockToolCallArguments },
          },
        ],
        refusal: null,
      }
    : { role: 'assistant', content: mockCompletionText(shape.chunks), refusal: null };
  const completionTokens = toolAnswer ? mockToolCallCompletionTokens : shape.chunks;
  return JSON.stringify({
    id: shape.id,
    object: 'chat.completion',
    created: shape.created,
    model: request.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: toolAnswer ? 'tool_calls' : 'stop' }],
    ...(shape.withUsage ? { usage: createChatUsage(request.promptTokens, completionTokens) } : {}),
    system_fingerprint: null,
  });
}

/**
 * Frames in wire order: role delta, one frame per content word, the finish_reason frame, the usage frame when
 * `stream_options.include_usage` asked for it, then [DONE]. A tool-call answer opens the call (id, name, empty
 * arguments) in the role delta and sends the arguments in fragments instead of words. Frames are assembled from a
 * shared prefix by string concatenation rather than JSON.stringify per chunk, because benchmarks stream many of them.
 */
export function buildChatCompletionStreamFrames(request: ChatCompletionRequest, shape: ChatCompletionShape): string[] {
  const reportsUsage = request.includeUsage && shape.withUsage;
  const prefix =
    `{"id":${JSON.stringify(shape.id)},"object":"chat.completion.chunk","created":${shape.created},` +
    `"model":${JSON.stringify(request.model)},"system_fingerprint":null,"choices":`;
  // OpenAI marks every non-final chunk with "usage":null when usage was requested; clients key off that.
  const usageSuffix = reportsUsage ? ',"usage":null}' : '}';
  const choiceFrame = (delta: string, finishReason: string): string =>
    formatSseDataFrame(
      `${prefix}[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finishReason}}]${usageSuffix}`,
    );

  const toolAnswer = request.toolName !== undefined;
  const frames: string[] = [];
  if (toolAnswer) {
    const opening = {
      index: 0,
      id: shape.toolCallId,
      type: 'function',
      function: { name: request.toolName, arguments: '' },
    };
    frames.push(choiceFrame(`{"role":"assistant","content":null,"tool_calls":[${JSON.stringify(opening)}]}`, 'null'));
    for (const fragment of toolCallArgumentFragments) {
      const call = `{"index":0,"function":{"arguments":${JSON.stringify(fragment)}}}`;
      frames.push(choiceFrame(`{"tool_calls":[${call}]}`, 'null'));
    }
    frames.push(choiceFrame('{}', '"tool_calls"'));
  } else {
    frames.push(choiceFrame('{"role":"assistant","content":"","refusal":null}', 'null'));
    for (let index = 0; index < shape.chunks; index += 1) {
      frames.push(choiceFrame(`{"content":${JSON.stringify(mockCompletionWord(index))}}`, 'null'));
    }
    frames.push(choiceFrame('{}', '"stop"'));
  }
  if (reportsUsage) {
    const completionTokens = toolAnswer ? mockToolCallCompletionTokens : shape.chunks;
    const usage = JSON.stringify(createChatUsage(request.promptTokens, completionTokens));
    frames.push(formatSseDataFrame(`${prefix}[],"usage":${usage}}`));
  }
  frames.push(sseDoneFrame);
  return frames;
}
