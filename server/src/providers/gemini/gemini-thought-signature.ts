import type { ToolCall } from '../spec/openai-types.ts';
import { isRecord } from './gemini-schema.ts';

/**
 * Where a Gemini thought signature travels on an OpenAI tool call: `extra_content.google.thought_signature`, the
 * field Google's own OpenAI-compatible endpoint uses, so clients written against it already send it back.
 */
export function readThoughtSignature(call: ToolCall): string | undefined {
  const extra = call['extra_content'];
  const google = isRecord(extra) ? extra['google'] : undefined;
  const signature = isRecord(google) ? google['thought_signature'] : undefined;
  return typeof signature === 'string' ? signature : undefined;
}

export function thoughtSignatureField(signature: string | undefined): {
  extra_content?: { google: { thought_signature: string } };
} {
  return signature === undefined ? {} : { extra_content: { google: { thought_signature: signature } } };
}
