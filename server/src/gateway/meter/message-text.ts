import type { ChatMessage } from '../../providers/spec/openai-types.ts';

/** The text a tokenizer should count for chat messages: string contents and the text parts of multi-part ones. */
export function collectMessageTexts(messages: readonly ChatMessage[]): string[] {
  return messages.map((message) => {
    const content = message.content;
    if (typeof content === 'string') return content;
    if (Array.isArray(content)) {
      return content
        .map((part) =>
          part && typeof part === 'object' && !Array.isArray(part) && typeof part.text === 'string' ? part.text : '',
        )
        .join('');
    }
    return '';
  });
}
