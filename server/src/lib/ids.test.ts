import { describe, expect, it } from 'vitest';
import { newTimeOrderedId } from './ids.ts';

describe('newTimeOrderedId', () => {
  it('is a version-7 UUID whose first 48 bits are the time', () => {
    const id = newTimeOrderedId(0x0192_3456_789a);
    expect(id).toMatch(/^01923456-789a-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('sorts by creation time and does not repeat', () => {
    const ids = Array.from({ length: 1000 }, (_, index) => newTimeOrderedId(1_700_000_000_000 + index));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
