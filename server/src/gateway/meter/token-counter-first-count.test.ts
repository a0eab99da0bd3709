import { describe, expect, it } from 'vitest';
import { TokenCounter } from './token-counter.ts';

/**
 * The first count after start used to load the tokenizer's rank table on the event loop, stalling every request for
 * 1.5–3.8 s. This file runs alone (its own process), so nothing has loaded the table before the first count.
 */
describe('the first token count after start', () => {
  it('leaves the event loop free while the tokenizer loads', async () => {
    const counter = new TokenCounter();
    try {
      // A timer that should fire every 10 ms: the longest gap between firings is how long the loop was blocked.
      let longestGap = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 10);
      const count = await counter.count('hello world');
      clearInterval(timer);
      // The timer may never have fired if the loop was blocked from the start: count the gap up to now as well.
      longestGap = Math.max(longestGap, performance.now() - last);
      expect(count).toBe(2);
      // Loading the table on the loop blocks it for most of a second even on a fast machine; the bound is generous
      // so a busy machine's scheduling noise cannot fail it.
      expect(longestGap).toBeLessThan(300);
    } finally {
      await counter.close();
    }
  });
});
