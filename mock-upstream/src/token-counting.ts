import { isJsonRecord } from './json-value.ts';

/**
 * The mock's prompt-token rule for chat, cheap and deterministic so tests can assert exact usage:
 *
 *   prompt_tokens = messages.length * 10 + Math.round(contentCharacters / 4)
 *
 * where contentCharacters sums, over all messages, the length of a string `content`, or of every `text` field of the
 * parts when `content` is an array. Anything else (tool calls, images, names) counts nothing.
 */
export function countChatPromptTokens(messages: readonly unknown[]): number {
  let contentCharacters = 0;
  for (const message of messages) {
    if (!isJsonRecord(message)) continue;
    const content = message['content'];
    if (typeof content === 'string') {
      contentCharacters += content.length;
    } else if (Array.isArray(content)) {
      for (const part of content) {
        if (isJsonRecord(part) && typeof part['text'] === 'string') contentCharacters += part['text'].length;
      }
    }
  }
  return messages.length * 10 + Math.round(contentCharacters / 4);
}

/**
 * The mock's embedding-token rule: a string input counts Math.round(characters / 4), a token-array input counts its
 * length, and the request's prompt_tokens is the sum over all inputs.
 */
export function countEmbeddingInputTokens(input: string | readonly number[]): number {
  return typeof input === 'string' ? Math.round(input.length / 4) : input.length;
}
