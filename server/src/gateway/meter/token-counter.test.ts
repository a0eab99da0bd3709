import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countWithEncoder, loadEncoder } from './tokenizer.ts';
import { inlineTokenizeLimit, TokenCounter } from './token-counter.ts';

/** Varied text (words, digits, punctuation, non-Latin script) so token boundaries are not trivially regular. */
function sampleText(length: number): string {
  const phrase = 'The quick brown fox, 42 times — jumps over the lazy dog! 你好，世界。 ';
  return phrase.repeat(Math.ceil(length / phrase.length)).slice(0, length);
}

describe('TokenCounter', () => {
  // One counter for the file: its worker loads the rank table once, which takes most of a second.
  let counter: TokenCounter;
  beforeAll(() => {
    counter = new TokenCounter();
  });
  afterAll(async () => {
    await counter.close();
  });

  it('counts small texts inline with the o200k encoding', async () => {
    expect(await counter.count('')).toBe(0);
    expect(await counter.count('hello world')).toBe(2);
    // Special-token text is counted as tokens, never rejected as it would be by default.
    expect(await counter.count('<|endoftext|>')).toBeGreaterThan(0);
  });

  it('counts a big text in the worker to the same number as inline counting', async () => {
    const big = sampleText(inlineTokenizeLimit * 4 + 123);
    const inline = countWithEncoder(await loadEncoder(), big);

    const fromWorker = await counter.count(big);

    expect(inline).toBeGreaterThan(1000);
    expect(fromWorker).toBe(inline);
  });

  it('counts texts either side of the inline limit consistently', async () => {
    const encoder = await loadEncoder();
    for (const length of [inlineTokenizeLimit, inlineTokenizeLimit + 1]) {
      const text = sampleText(length);
      expect(await counter.count(text)).toBe(countWithEncoder(encoder, text));
    }
  });

  it('answers concurrent worker requests each with its own count', async () => {
    const encoder = await loadEncoder();
    const texts = [1, 2, 3, 4].map((factor) => sampleText(inlineTokenizeLimit * factor + factor));

    const counts = await Promise.all(texts.map((text) => counter.count(text)));

    expect(counts).toEqual(texts.map((text) => countWithEncoder(encoder, text)));
    expect(new Set(counts).size).toBe(4);
  });

  it('starts a new worker after being closed', async () => {
    const own = new TokenCounter();
    try {
      const big = sampleText(inlineTokenizeLimit * 2);
      const first = await own.count(big);
      await own.close();
      expect(await own.count(big)).toBe(first);
    } finally {
      await own.close();
    }
  });

  it('adds a per-message overhead when counting messages', async () => {
    const messages = ['You are terse.', 'hello world', ''];
    const content = await counter.count(messages.join('\n'));

    expect(await counter.countMessages(messages)).toBe(content + messages.length * 4);
    expect(await counter.countMessages([])).toBe(0);
  });
});
