import type { ChatMessage } from '../spec/openai-types.ts';
import type { OpenAiQuirks } from './openai-quirks.ts';
import { isRecord } from './openai-wire.ts';

/**
 * Rewrites an outgoing chat body (a fresh shallow copy the caller owns) for an upstream's quirks and returns the
 * names of the parameters it had to drop, for the client's warning header.
 */
export function applyRequestQuirks(body: Record<string, unknown>, quirks: OpenAiQuirks): string[] {
  const dropped: string[] = [];

  for (const [from, to] of Object.entries(quirks.renamedParameters ?? {})) {
    if (!(from in body)) continue;
    const value = body[from];
    delete body[from];
    if (value === undefined || value === null) continue;
    // Both spellings set: the upstream's own one wins and the other is reported.
    if (body[to] === undefined || body[to] === null) body[to] = value;
    else dropped.push(from);
  }

  for (const name of quirks.unsupportedParameters ?? []) {
    if (!(name in body)) continue;
    if (carriesValue(body[name])) dropped.push(name);
    delete body[name];
  }

  if (quirks.maxChoices !== undefined && typeof body.n === 'number' && body.n > quirks.maxChoices) {
    delete body.n;
    dropped.push('n');
  }

  if (quirks.jsonSchemaFallback !== undefined && isRecord(body.response_format)) {
    if (body.response_format.type === 'json_schema') {
      body.response_format = { type: quirks.jsonSchemaFallback };
      dropped.push('response_format.json_schema');
    }
  }

  const messageFields = quirks.unsupportedMessageFields ?? [];
  if (messageFields.length > 0 && Array.isArray(body.messages)) {
    const removed = new Set<string>();
    body.messages = (body.messages as ChatMessage[]).map((message) => {
      let copy: ChatMessage | undefined;
      for (const field of messageFields) {
        if (!(field in message)) continue;
        copy ??= { ...message };
        if (carriesValue(message[field])) removed.add(field);
        delete copy[field];
      }
      return copy ?? message;
    });
    for (const field of removed) dropped.push(`messages[].${field}`);
  }

  if (quirks.streamUsage === 'always') delete body.stream_options;
  return dropped;
}

/** `null` and `false` ask for nothing, so dropping them needs no warning. */
function carriesValue(value: unknown): boolean {
  return value !== undefined && value !== null && value !== false;
}
