import { Tiktoken } from 'js-tiktoken/lite';

let encoder: Tiktoken | undefined;

/**
 * Counts tokens with the o200k_base encoding (current OpenAI models). For other families it is an estimate,
 * and records say so (usage_source = 'counted'). The rank table is loaded on first use only: the hot path never
 * needs it while upstreams report usage.
 */
export async function loadEncoder(): Promise<Tiktoken> {
  if (!encoder) {
    const ranks = (await import('js-tiktoken/ranks/o200k_base')).default;
    encoder = new Tiktoken(ranks);
  }
  return encoder;
}

export function countWithEncoder(encoderInstance: Tiktoken, text: string): number {
  return text.length === 0 ? 0 : encoderInstance.encode(text, 'all').length;
}
