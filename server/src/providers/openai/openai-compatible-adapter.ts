import type { SseEvent } from '../../lib/sse-parser.ts';
import type { StreamItem } from '../spec/provider-adapter.ts';
import { bearerHeaders, openAiAdapter } from './openai-adapter.ts';
import type { OpenAiCompatibleAdapter, OpenAiQuirks } from './openai-quirks.ts';
import {
  buildChatBody,
  decodeOpenAiStreamEvent,
  parseChatChunk,
  parseChatCompletion,
  toStreamItems,
  toTokenUsage,
  type UsageReader,
} from './openai-wire.ts';
import { applyRequestQuirks } from './request-quirks.ts';
import { liftChoiceUsage, liftReasoning } from './response-quirks.ts';

/**
 * The adapter for an OpenAI-compatible upstream with the given quirks. Without quirks it is the plain OpenAI
 * adapter itself, so such upstreams cost nothing extra per request; otherwise only the hooks a quirk needs change.
 */
export function createOpenAiCompatibleAdapter(quirks: OpenAiQuirks = {}): OpenAiCompatibleAdapter {
  if (Object.values(quirks).every((value) => value === undefined)) return openAiAdapter;
  const { reasoningField, cachedTokensField } = quirks;
  const liftsUsage = quirks.usageInStreamChoices === true;
  const readUsage: UsageReader =
    cachedTokensField === undefined ? toTokenUsage : (usage) => withCachedTokens(usage, cachedTokensField);
  const plainStream = reasoningField === undefined && !liftsUsage && cachedTokensField === undefined;

  const decodeWithQuirks = (event: SseEvent): StreamItem[] => {
    if (event.data === '[DONE]') return [{ kind: 'done' }];
    const chunk = parseChatChunk(event.data);
    let rewritten = liftsUsage && liftChoiceUsage(chunk);
    if (reasoningField !== undefined) {
      for (const choice of chunk.choices) {
        if (choice.delta && liftReasoning(choice.delta, reasoningField)) rewritten = true;
      }
    }
    return toStreamItems(chunk, rewritten ? undefined : event.data, readUsage);
  };

  return {
    ...openAiAdapter,
    // A rewritten completion differs from the upstream bytes, which must then not be forwarded as they are.
    passthroughResponses: reasoningField === undefined,

    buildChatRequest(request, target) {
      const body = buildChatBody(request, target.upstreamModel);
      const droppedParameters = applyRequestQuirks(body, quirks);
      return {
        path: '/chat/completions',
        headers: bearerHeaders(target),
        body: JSON.stringify(body),
        ...(droppedParameters.length > 0 ? { droppedParameters } : {}),
      };
    },

    parseChatResponse(body) {
      const completion = parseChatCompletion(body);
      if (reasoningField !== undefined) {
        for (const choice of completion.choices) {
          if (choice.message) liftReasoning(choice.message, reasoningField);
        }
      }
      return { completion, usage: readUsage(completion.usage) };
    },

    createChatStreamDecoder() {
      return { decode: plainStream ? decodeOpenAiStreamEvent : decodeWithQuirks };
    },
  };
}

function withCachedTokens(usage: Parameters<UsageReader>[0], field: string): ReturnType<UsageReader> {
  const tokenUsage = toTokenUsage(usage);
  const cached = usage?.[field];
  if (tokenUsage === undefined || tokenUsage.cachedTokens > 0 || typeof cached !== 'number') return tokenUsage;
  return { ...tokenUsage, cachedTokens: cached };
}
