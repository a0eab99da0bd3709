import type { ChatCompletionChunk } from '../spec/openai-types.ts';
import type { OpenAiQuirks } from './openai-quirks.ts';
import { isRecord } from './openai-wire.ts';

/** A message or a stream delta: where upstreams put the assistant's text and thinking. */
interface ReasoningCarrier {
  reasoning_content?: string | null;
  [field: string]: unknown;
}

/**
 * Moves the upstream's thinking into `reasoning_content`, the internal convention. Returns true when the object was
 * changed (so a stream chunk can no longer be forwarded byte for byte).
 */
export function liftReasoning(carrier: ReasoningCarrier, field: NonNullable<OpenAiQuirks['reasoningField']>): boolean {
  switch (field) {
    case 'reasoning': {
      const text = carrier.reasoning;
      if (typeof text !== 'string') return false;
      if (typeof carrier.reasoning_content !== 'string') carrier.reasoning_content = text;
      delete carrier.reasoning;
      return true;
    }
    case 'reasoning_details': {
      const details = carrier.reasoning_details;
      if (!Array.isArray(details) || typeof carrier.reasoning_content === 'string') return false;
      const text = details
        .map((detail) => (isRecord(detail) && typeof detail.text === 'string' ? detail.text : ''))
        .join('');
      if (text === '') return false;
      carrier.reasoning_content = text;
      return true;
    }
  }
}

/** Lifts usage reported inside a choice (Moonshot) to the chunk, where OpenAI clients and the meter look for it. */
export function liftChoiceUsage(chunk: ChatCompletionChunk): boolean {
  if (chunk.usage) return false;
  for (const choice of chunk.choices) {
    const usage = choice.usage;
    if (!isRecord(usage)) continue;
    chunk.usage = usage;
    delete choice.usage;
    return true;
  }
  return false;
}
