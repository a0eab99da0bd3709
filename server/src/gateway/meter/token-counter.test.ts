import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countWithEncoder, loadEncoder } from './tokenizer.ts';
import { TokenCounter } from './token-counter.ts';

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

  it('counts with the o200k encoding', async () => {
    expect(await counter.count('')).toBe(0);
    expect(await counter.count('hello world')).toBe(2);
    // Special-token text is counted as tokens, never rejected as it would be by default.
    expect(await counter.count('<|endoftext|>')).toBeGreaterThan(0);
  });

  it('counts a big text in the worker to the same number as counting it directly', async () => {
    const big = sampleText(64 * 1024 + 123);
    const direct = countWithEncoder(await loadEncoder(), big);
    expect(direct).toBeGreaterThan(1000);
    expect(await counter.count(big)).toBe(direct);
  });

  it('answers concurrent requests each with its own count', async () => {
    const encoder = await loadEncoder();
    const texts = [1, 2, 3, 4].map((factor) => sampleText(16 * 1024 * factor + factor));
    const counts = await Promise.all(texts.map((text) => counter.count(text)));
    expect(counts).toEqual(texts.map((text) => countWithEncoder(encoder, text)));
    expect(new Set(counts).size).toBe(4);
  });

  it('starts a new worker after being closed', async () => {
    const own = new TokenCounter();
    try {
      const text = sampleText(2048);
      const first = await own.count(text);
      await own.close();
      expect(await own.count(text)).toBe(first);
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

describe('countWithEncoder', () => {
  it('counts one enormous word by slices and extrapolation instead of in quadratic time', async () => {
    const encoder = await loadEncoder();
    // 'x' × 64 is 8 tokens: the first 4,096 characters are encoded (512 tokens), the rest counted at that rate.
    expect(encoder.encode('x'.repeat(64), 'all')).toHaveLength(8);
    // The run leaves a space behind in the rest of the text, one more token.
    expect(countWithEncoder(encoder, 'x'.repeat(100_000))).toBe(12_501);
    expect(countWithEncoder(encoder, `say ${'x'.repeat(100)} twice`)).toBe(
      encoder.encode('say   twice', 'all').length +
        encoder.encode('x'.repeat(64), 'all').length +
        encoder.encode('x'.repeat(36), 'all').length,
    );
  });

  it('counts ordinary text exactly as the encoder does', async () => {
    const encoder = await loadEncoder();
    const text = sampleText(20_000);
    expect(countWithEncoder(encoder, text)).toBe(encoder.encode(text, 'all').length);
  });
});
