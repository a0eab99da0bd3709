import { mockCompletionText, mockCompletionWord } from '../chat.ts';
import { isJsonRecord, type JsonRecord } from '../json-value.ts';
import { formatSseDataFrame } from '../sse.ts';

/** The fields of a generateContent request the mock acts on. */
export interface GenerateContentRequest {
  readonly model: string;
  readonly promptTokens: number;
  /** Set when the mock should answer with a call to this function instead of text. */
  readonly functionToCall: string | undefined;
}

export interface GenerateContentShape {
  readonly responseId: string;
  readonly chunks: number;
  readonly withUsage: boolean;
}

/** Completion tokens the mock reports for a function-call answer. */
export const mockFunctionCallTokens = 5;

/** The arguments of every mock function call: the mock only ever looks up the weather in Paris. */
export const mockFunctionCallArgs = { city: 'Paris' } as const;

/**
 * Reads the request, or returns the message of the 400 Gemini would send. Prompt tokens follow the chat rule with
 * Gemini's names: (contents + system instruction) * 10 + round(text characters / 4), counting `text` parts only.
 */
export function parseGenerateContentRequest(model: string, body: unknown): GenerateContentRequest | string {
  if (!isJsonRecord(body)) return 'Invalid JSON payload received. The request body must be a JSON object.';
  const contents = body['contents'];
  if (!Array.isArray(contents) || contents.length === 0) {
    return '* GenerateContentRequest.contents: contents is not specified';
  }
  const systemInstruction = isJsonRecord(body['systemInstruction']) ? [body['systemInstruction']] : [];
  const turns = [...systemInstruction, ...contents.filter(isJsonRecord)];
  const characters = turns.reduce((sum, turn) => sum + readText(turn).length, 0);
  const lastUserTurn = contents.filter(isJsonRecord).findLast((turn) => (turn['role'] ?? 'user') === 'user');
  const firstFunction = readFirstFunctionName(body['tools']);
  const asksForWeather = lastUserTurn !== undefined && /weather/i.test(readText(lastUserTurn));
  return {
    model,
    promptTokens: turns.length * 10 + Math.round(characters / 4),
    functionToCall: asksForWeather ? firstFunction : undefined,
  };
}

function readText(turn: JsonRecord): string {
  const parts = turn['parts'];
  if (!Array.isArray(parts)) return '';
  return parts.map((part) => (isJsonRecord(part) && typeof part['text'] === 'string' ? part['text'] : '')).join('');
}

function readFirstFunctionName(tools: unknown): string | undefined {
  if (!Array.isArray(tools)) return undefined;
  for (const tool of tools) {
    const declarations = isJsonRecord(tool) ? tool['functionDeclarations'] : undefined;
    if (!Array.isArray(declarations)) continue;
    for (const declaration of declarations) {
      if (isJsonRecord(declaration) && typeof declaration['name'] === 'string') return declaration['name'];
    }
  }
  return undefined;
}

export function buildGenerateContentBody(request: GenerateContentRequest, shape: GenerateContentShape): string {
  if (request.functionToCall !== undefined) return assembleFunctionCallEvent(request, shape);
  const parts = JSON.stringify([{ text: mockCompletionText(shape.chunks) }]);
  return assembleEvent(request, shape, parts, true, shape.chunks);
}

/**
 * One JSON event per content word, the last carrying finishReason; a function call is one event. Like Gemini, every
 * event repeats usageMetadata with the completion tokens so far. Events are put together from fixed pieces by
 * concatenation rather than JSON.stringify per event, because benchmarks stream many of them.
 */
export function buildGenerateContentEvents(request: GenerateContentRequest, shape: GenerateContentShape): string[] {
  if (request.functionToCall !== undefined) return [assembleFunctionCallEvent(request, shape)];
  if (shape.chunks === 0) return [assembleEvent(request, shape, '[{"text":""}]', true, 0)];
  const events: string[] = [];
  for (let index = 0; index < shape.chunks; index += 1) {
    const parts = `[{"text":${JSON.stringify(mockCompletionWord(index))}}]`;
    events.push(assembleEvent(request, shape, parts, index === shape.chunks - 1, index + 1));
  }
  return events;
}

export function buildGenerateContentStreamFrames(
  request: GenerateContentRequest,
  shape: GenerateContentShape,
): string[] {
  return buildGenerateContentEvents(request, shape).map(formatSseDataFrame);
}

function assembleFunctionCallEvent(request: GenerateContentRequest, shape: GenerateContentShape): string {
  const parts = JSON.stringify([{ functionCall: { name: request.functionToCall, args: mockFunctionCallArgs } }]);
  return assembleEvent(request, shape, parts, true, mockFunctionCallTokens);
}

function assembleEvent(
  request: GenerateContentRequest,
  shape: GenerateContentShape,
  partsJson: string,
  isLast: boolean,
  completionTokens: number,
): string {
  const finish = isLast ? ',"finishReason":"STOP"' : '';
  const usage = shape.withUsage
    ? `,"usageMetadata":{"promptTokenCount":${request.promptTokens},"candidatesTokenCount":${completionTokens},` +
      `"totalTokenCount":${request.promptTokens + completionTokens}}`
    : '';
  return (
    `{"candidates":[{"content":{"parts":${partsJson},"role":"model"}${finish},"index":0}]${usage},` +
    `"modelVersion":${JSON.stringify(request.model)},"responseId":${JSON.stringify(shape.responseId)}}`
  );
}
