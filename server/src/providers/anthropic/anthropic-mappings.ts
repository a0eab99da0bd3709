import type { FinishReason, OpenAiUsage } from '../spec/openai-types.ts';
import type { TokenUsage } from '../spec/provider-adapter.ts';
import { ownEntry } from '../spec/own-entry.ts';
import type { AnthropicStopReason, AnthropicUsage } from './anthropic-types.ts';

/**
 * The tables both directions share (outbound adapter and inbound codec), kept together so a change to one side of a
 * mapping is seen next to the other.
 */

const finishReasonByStopReason: Record<string, FinishReason> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  // A paused server-tool turn is complete as far as this response goes; the client continues it with a new request.
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

export function finishReasonFor(stopReason: AnthropicStopReason | null | undefined): FinishReason | null {
  if (stopReason === null || stopReason === undefined) return null;
  return ownEntry(finishReasonByStopReason, stopReason) ?? 'stop';
}

const stopReasonByFinishReason: Record<string, AnthropicStopReason> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export function stopReasonFor(finishReason: FinishReason | null | undefined): AnthropicStopReason {
  return (finishReason && ownEntry(stopReasonByFinishReason, finishReason)) || 'end_turn';
}

/**
 * reasoning_effort → thinking budget_tokens. Anthropic's smallest budget is 1024, so 'low' sits at the floor and each
 * step up quadruples; 'minimal' and 'none' mean "(almost) no reasoning", which on Anthropic is thinking left off.
 */
export const thinkingBudgetByEffort: Readonly<Record<string, number>> = {
  none: 0,
  minimal: 0,
  low: 1024,
  medium: 4096,
  high: 16384,
};

export const minimumThinkingBudget = 1024;

/** The inverse of the table above, by thresholds: a budget maps to the largest effort it reaches. */
export function reasoningEffortForBudget(budgetTokens: number): 'low' | 'medium' | 'high' {
  if (budgetTokens >= 16384) return 'high';
  if (budgetTokens >= 4096) return 'medium';
  return 'low';
}

/** Anthropic's documented error types by HTTP status; unknown 4xx fall back to invalid_request_error. */
export function errorTypeForStatus(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/** Anthropic counts cache reads and writes apart from input_tokens; OpenAI's prompt_tokens includes them. */
export function tokenUsageFromAnthropic(usage: Partial<AnthropicUsage>): TokenUsage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheCreation = usage.cache_creation_input_tokens ?? 0;
  return {
    promptTokens: (usage.input_tokens ?? 0) + cacheRead + cacheCreation,
    completionTokens: usage.output_tokens ?? 0,
    cachedTokens: cacheRead,
    cacheWriteTokens: cacheCreation,
  };
}

/** Cache writes go where OpenRouter puts them (OpenAI has no field for them), and only when there were some. */
export function openAiUsageFrom(usage: TokenUsage): OpenAiUsage {
  const cacheWriteTokens = usage.cacheWriteTokens ?? 0;
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details:
      cacheWriteTokens > 0
        ? { cached_tokens: usage.cachedTokens, cache_write_tokens: cacheWriteTokens }
        : { cached_tokens: usage.cachedTokens },
  };
}

/** The inverse split for Anthropic clients: cache reads and writes leave input_tokens and are reported apart. */
export function anthropicUsageFrom(usage: TokenUsage): AnthropicUsage {
  const cacheWriteTokens = usage.cacheWriteTokens ?? 0;
  return {
    input_tokens: Math.max(0, usage.promptTokens - usage.cachedTokens - cacheWriteTokens),
    output_tokens: usage.completionTokens,
    cache_creation_input_tokens: cacheWriteTokens,
    cache_read_input_tokens: usage.cachedTokens,
  };
}
