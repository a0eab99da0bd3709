import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors/app-error.ts';
import { assertNestingDepth, maxBodyNestingDepth } from './nesting-depth.ts';

/** `levels` arrays inside each other: `[[...]]`. */
function nestedArrays(levels: number): unknown {
  let value: unknown = [];
  for (let level = 1; level < levels; level += 1) value = [value];
  return value;
}

function failureOf(body: unknown, limit?: number) {
  try {
    assertNestingDepth(body, limit);
  } catch (error) {
    if (isAppError(error)) return error;
    throw error;
  }
  return undefined;
}

describe('assertNestingDepth', () => {
  it('accepts bodies up to the limit, and values that are not objects', () => {
    expect(failureOf(nestedArrays(maxBodyNestingDepth))).toBeUndefined();
    expect(
      failureOf({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }),
    ).toBeUndefined();
    for (const value of [null, 'text', 5, true]) expect(failureOf(value)).toBeUndefined();
  });

  it('refuses a body one level deeper than the limit with a 400', () => {
    const error = failureOf(nestedArrays(maxBodyNestingDepth + 1));
    expect(error?.code).toBe('invalid_request');
    expect(error?.status).toBe(400);
    expect(error?.message).toContain(`more than ${maxBodyNestingDepth} levels deep`);
  });

  it('names the first path that is too deep, in document order', () => {
    const body = { model: 'm', messages: [{ content: 'ok' }, { tools: { a: { b: {} } } }], later: { x: { y: {} } } };
    expect(failureOf(body, 4)?.param).toBe('messages[1].tools.a');
    expect(failureOf([[1], [[[]]]], 3)?.param).toBe('[1][0][0]');
  });

  it('walks a body nested far beyond the limit without exhausting the stack', () => {
    expect(failureOf(nestedArrays(100_000))?.param).toBe('[0]'.repeat(maxBodyNestingDepth));
  });
});
