import { Tiktoken } from 'js-tiktoken/lite';

let encoder: Tiktoken | undefined;

/**
 * Counts tokens with the o200k_base encoding (current OpenAI models). For other families it is an estimate,
 * and records say so (usage_source = 'counted'). Building the encoder from its rank table takes the better part of
 * a second of CPU, so only the token-counting worker calls this, never the event loop (see token-counter.ts).
 */
export async function loadEncoder(): Promise<Tiktoken> {
  if (!encoder) {
    const ranks = (await import('js-tiktoken/ranks/o200k_base')).default;
    encoder = new Tiktoken(ranks);
  }
  return encoder;
}

/**
 * Runs of non-space characters longer than this are not handed to the encoder whole. Its byte-pair merge is
 * quadratic in the length of one word: 16 KiB of a single letter took 33 s, 64 KiB nine minutes. Real words and
 * code identifiers are far shorter; long runs are base64 data, hashes or abuse.
 */
const maxRunLength = 64;
/** Characters of long runs encoded exactly, in maxRunLength slices; beyond this they are extrapolated. */
const longRunBudget = 4096;
const longRun = new RegExp(`\\S{${maxRunLength + 1},}`, 'g');

export function countWithEncoder(encoderInstance: Tiktoken, text: string): number {
  if (text.length === 0) return 0;
  const runs = text.match(longRun);
  if (runs === null) return encoderInstance.encode(text, 'all').length;
  const rest = text.replace(longRun, ' ');
  return encoderInstance.encode(rest, 'all').length + countLongRuns(encoderInstance, runs);
}

/** Long runs, sliced: exact up to the budget, then at the tokens per character seen so far. */
function countLongRuns(encoderInstance: Tiktoken, runs: readonly string[]): number {
  let encodedCharacters = 0;
  let encodedTokens = 0;
  let remainingCharacters = 0;
  for (const run of runs) {
    for (let start = 0; start < run.length; start += maxRunLength) {
      const slice = run.slice(start, start + maxRunLength);
      if (encodedCharacters >= longRunBudget) {
        remainingCharacters += slice.length;
        continue;
      }
      encodedTokens += encoderInstance.encode(slice, 'all').length;
      encodedCharacters += slice.length;
    }
  }
  return encodedTokens + Math.ceil((remainingCharacters * encodedTokens) / encodedCharacters);
}
