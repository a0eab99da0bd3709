import type { SseEvent } from '../../lib/sse-parser.ts';
import type { ChatChunkChoice, ChatCompletionChunk, ChatRequest, OpenAiUsage } from '../spec/openai-types.ts';
import {
  MalformedUpstreamResponse,
  UpstreamStreamError,
  type ChatStreamDecoder,
  type StreamItem,
} from '../spec/provider-adapter.ts';
import { toErrorDetails } from './gemini-error.ts';
import {
  newCompletionId,
  parseGeminiJson,
  toFinishReason,
  toOpenAiUsage,
  toTokenUsage,
  toToolCall,
} from './gemini-response.ts';
import type { GeminiCandidate } from './gemini-types.ts';

type Delta = NonNullable<ChatChunkChoice['delta']>;

/**
 * Gemini streams (`:streamGenerateContent?alt=sse`) send each event as a whole GenerateContentResponse holding the
 * next piece of each candidate, and end without a terminator. So the decoder keeps per-candidate state (role sent,
 * calls numbered, finished), keeps the latest usageMetadata (Gemini repeats it, growing, on many events), and
 * only at the end of the body decides: usage and done if every candidate finished, otherwise a truncated stream.
 */
export function createGeminiStreamDecoder(request: ChatRequest): ChatStreamDecoder {
  const created = Math.floor(Date.now() / 1000);
  let id: string | undefined;
  let model = request.model;
  const started = new Set<number>();
  const finished = new Set<number>();
  const callCounts = new Map<number, number>();
  let lastUsage: OpenAiUsage | undefined;

  const toItem = (index: number, delta: Delta, finishReason: ChatChunkChoice['finish_reason'] = null): StreamItem => {
    const chunk: ChatCompletionChunk = {
      id: id ?? '',
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index, delta, finish_reason: finishReason }],
    };
    return { kind: 'chunk', chunk, raw: undefined };
  };

  const startCandidate = (index: number, items: StreamItem[]): void => {
    if (started.has(index)) return;
    started.add(index);
    items.push(toItem(index, { role: 'assistant', content: '' }));
  };

  const decodeCandidate = (
    candidate: GeminiCandidate,
    position: number,
    responseId: string | undefined,
  ): StreamItem[] => {
    const index = candidate.index ?? position;
    const items: StreamItem[] = [];
    startCandidate(index, items);
    for (const part of candidate.content?.parts ?? []) {
      if (part.functionCall) {
        const callIndex = callCounts.get(index) ?? 0;
        callCounts.set(index, callIndex + 1);
        const { id: callId, type, function: call, ...signature } = toToolCall(part, responseId, callIndex);
        items.push(
          toItem(index, { tool_calls: [{ index: callIndex, id: callId, type, function: call, ...signature }] }),
        );
      } else if (typeof part.text === 'string' && part.text !== '') {
        items.push(toItem(index, part.thought === true ? { reasoning_content: part.text } : { content: part.text }));
      }
    }
    if (candidate.finishReason) {
      finished.add(index);
      items.push(toItem(index, {}, toFinishReason(candidate.finishReason, (callCounts.get(index) ?? 0) > 0)));
    }
    return items;
  };

  return {
    decode(event: SseEvent): StreamItem[] {
      const response = parseGeminiJson(event.data);
      if (response.error) {
        throw new UpstreamStreamError(toErrorDetails(response.error, 'Gemini reported an error mid-stream'));
      }
      id ??= newCompletionId(response.responseId);
      if (response.modelVersion) model = response.modelVersion;
      lastUsage = toOpenAiUsage(response.usageMetadata) ?? lastUsage;

      const candidates = Array.isArray(response.candidates) ? response.candidates : [];
      if (candidates.length === 0 && response.promptFeedback?.blockReason) {
        const items: StreamItem[] = [];
        startCandidate(0, items);
        finished.add(0);
        items.push(toItem(0, {}, 'content_filter'));
        return items;
      }
      return candidates.flatMap((candidate, position) => decodeCandidate(candidate, position, response.responseId));
    },

    end(): StreamItem[] {
      const unfinished = [...started].filter((index) => !finished.has(index));
      if (finished.size === 0 || unfinished.length > 0) {
        throw new MalformedUpstreamResponse(
          'the Gemini stream ended before every candidate had a finish reason (truncated)',
        );
      }
      const items: StreamItem[] = [];
      const usage = toTokenUsage(lastUsage);
      if (usage && lastUsage) {
        const chunk: ChatCompletionChunk = {
          id: id ?? '',
          object: 'chat.completion.chunk',
          created,
          model,
          choices: [],
          usage: lastUsage,
        };
        items.push({ kind: 'usage', usage, chunk, raw: undefined });
      }
      items.push({ kind: 'done' });
      return items;
    },
  };
}
