import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlidingWindow } from './sliding-window.ts';

describe('SlidingWindow', () => {
  it('sums what was added within the window, per lane', () => {
    const window = new SlidingWindow(1000, 2);
    expect(window.lanes).toBe(2);
    window.add(0, 0);
    window.add(50, 0, 3);
    window.add(99, 1);
    expect(window.total(99, 0)).toBe(4);
    expect(window.total(99, 1)).toBe(1);
  });

  it('drops each bucket once it is a whole window old', () => {
    const window = new SlidingWindow(1000, 1);
    window.add(0, 0);
    window.add(500, 0);
    expect(window.total(999, 0)).toBe(2);
    expect(window.total(1000, 0)).toBe(1);
    expect(window.total(1500, 0)).toBe(0);
    window.add(1500, 0);
    expect(window.total(100_000, 0)).toBe(0);
  });

  it('adds to the newest bucket when the clock steps back, and starts afresh on reset', () => {
    const window = new SlidingWindow(1000, 1);
    window.add(5000, 0);
    window.add(4000, 0);
    expect(window.total(5000, 0)).toBe(2);
    window.reset();
    expect(window.total(5000, 0)).toBe(0);
  });

  it('agrees with a plain list of timestamps, to the bucket', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200, size: 'max' }),
        fc.integer({ min: 1, max: 20 }),
        (gaps, buckets) => {
          const windowMs = 1000;
          const bucketMs = windowMs / buckets;
          const window = new SlidingWindow(windowMs, 1, buckets);
          const added: number[] = [];
          let time = 0;
          for (const gap of gaps) {
            time += gap;
            window.add(time, 0);
            added.push(time);
            // What the ring keeps: the buckets numbered within `buckets` of the current one.
            const current = Math.floor(time / bucketMs);
            const expected = added.filter((at) => Math.floor(at / bucketMs) > current - buckets).length;
            expect(window.total(time, 0)).toBe(expected);
          }
        },
      ),
    );
  });
});
