import { describe, expect, it } from 'vitest';
import { findLastObjectMember } from './json-member-scan.ts';

describe('findLastObjectMember', () => {
  it('returns the last object value of a member, nested objects and strings with braces included', () => {
    // Written as text: a JSON object literal in code could not hold the same member twice.
    const text =
      '{"usage": {"wrong": 1}, "choices": [{"message": {"content": "a } tricky { \\"usage\\": string"}}], ' +
      '"usage2": 3, "usage": {"prompt_tokens": 5, "details": {"cached_tokens": 2, "note": "x}\\"y"}}}';
    const found = findLastObjectMember(text, 'usage');
    expect(found === undefined ? undefined : JSON.parse(found)).toEqual({
      prompt_tokens: 5,
      details: { cached_tokens: 2, note: 'x}"y' },
    });
  });

  it('tolerates whitespace around the colon', () => {
    expect(findLastObjectMember('{"usage" :\n {"a": 1}\n}', 'usage')).toBe('{"a": 1}');
  });

  it('gives up on anything unexpected', () => {
    expect(findLastObjectMember('{"choices": []}', 'usage')).toBeUndefined();
    expect(findLastObjectMember('{"usage": null}', 'usage')).toBeUndefined();
    expect(findLastObjectMember('{"usage": {"a": 1', 'usage')).toBeUndefined();
    expect(findLastObjectMember('{"usage": {"a": "unterminated}', 'usage')).toBeUndefined();
  });
});
