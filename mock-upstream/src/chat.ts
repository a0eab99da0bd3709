import { isJsonRecord } from './json-value.ts';
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
}

/** Per-response values chosen by the server: identity, length and whether usage is reported at all. */
export interface ChatCompletionShape {
  readonly id: string;
  readonly created: number;
  readonly chunks: number;
  readonly withUsage: boolean;
}

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
  };
}

export function buildChatCompletionBody(request: ChatCompletionRequest, shape: ChatCompletionShape): string {
  return JSON.stringify({
    id: shape.id,
    object: 'chat.completion',
    created: shape.created,
    model: request.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: mockCompletionText(shape.chunks), refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    ...(shape.withUsage ? { usage: createChatUsage(request.promptTokens, shape.chunks) } : {}),
    system_fingerprint: null,
  });
}

/**
 * Frames in wire order: role delta, one frame per content word, the finish_reason frame, the usage frame when
 * `stream_options.include_usage` asked for it, then [DONE]. Frames are assembled from a shared prefix by string
 * concatenation rather than JSON.stringify per chunk, because benchmarks stream many of them.
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

  const frames: string[] = [choiceFrame('{"role":"assistant","content":"","refusal":null}', 'null')];
  for (let index = 0; index < shape.chunks; index += 1) {
    frames.push(choiceFrame(`{"content":${JSON.stringify(mockCompletionWord(index))}}`, 'null'));
  }
  frames.push(choiceFrame('{}', '"stop"'));
  if (reportsUsage) {
    const usage = JSON.stringify(createChatUsage(request.promptTokens, shape.chunks));
    frames.push(formatSseDataFrame(`${prefix}[],"usage":${usage}}`));
  }
  frames.push(sseDoneFrame);
  return frames;
}
