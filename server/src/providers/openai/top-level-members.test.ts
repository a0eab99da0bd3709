import { describe, expect, it } from 'vitest';
import { editTopLevelMembers } from './top-level-members.ts';

const chunk =
  '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"mock-gpt","choices":[{"index":0,"delta":{"content":"\\"model\\":\\"x\\", usage"},"finish_reason":null}],"usage":null}';

describe('editTopLevelMembers', () => {
  it('renames the top-level model only, leaving strings and nested members alone', () => {
    const edited = editTopLevelMembers(chunk, { model: 'public "name"', dropNullUsage: false });
    expect(JSON.parse(edited!)).toEqual({ ...(JSON.parse(chunk) as object), model: 'public "name"' });
  });

  it('removes a null usage wherever it stands, and keeps a real one', () => {
    const expected: Record<string, unknown> = { ...(JSON.parse(chunk) as Record<string, unknown>), model: 'm' };
    delete expected.usage;
    expect(JSON.parse(editTopLevelMembers(chunk, { model: 'm', dropNullUsage: true })!)).toEqual(expected);
    const first = '{ "usage" : null , "model":"a","choices":[]}';
    expect(JSON.parse(editTopLevelMembers(first, { model: 'm', dropNullUsage: true })!)).toEqual({
      model: 'm',
      choices: [],
    });
    const middle = '{"model":"a","usage":null,"choices":[]}';
    expect(editTopLevelMembers(middle, { model: 'm', dropNullUsage: true })).toBe('{"model":"m","choices":[]}');
    const real = '{"model":"a","choices":[],"usage":{"prompt_tokens":1}}';
    expect(editTopLevelMembers(real, { model: 'm', dropNullUsage: true })).toBe(
      '{"model":"m","choices":[],"usage":{"prompt_tokens":1}}',
    );
  });

  it('gives up on text that is not an object with a string model', () => {
    for (const text of ['[]', '{"choices":[]}', '{"model":5}', '{"model":"a"', 'not json', '{"model":"a",}']) {
      expect(editTopLevelMembers(text, { model: 'm', dropNullUsage: true })).toBeUndefined();
    }
  });
});

describe('editTopLevelMembers when the model already has the requested name', () => {
  it('returns the text unchanged', () => {
    expect(editTopLevelMembers(chunk, { model: 'mock-gpt', dropNullUsage: false })).toBe(chunk);
    const real = '{"model":"m","choices":[],"usage":{"prompt_tokens":1}}';
    expect(editTopLevelMembers(real, { model: 'm', dropNullUsage: true })).toBe(real);
  });

  it('still removes a null usage, before or after the model', () => {
    expect(editTopLevelMembers('{"model":"m","usage":null,"choices":[]}', { model: 'm', dropNullUsage: true })).toBe(
      '{"model":"m","choices":[]}',
    );
    expect(editTopLevelMembers('{"usage":null,"model":"m"}', { model: 'm', dropNullUsage: true })).toBe(
      '{"model":"m"}',
    );
  });

  it('renames a model whose name only starts with the requested one', () => {
    expect(
      editTopLevelMembers('{"model":"mock-gpt-2024","choices":[]}', { model: 'mock-gpt', dropNullUsage: false }),
    ).toBe('{"model":"mock-gpt","choices":[]}');
    expect(editTopLevelMembers('{"model":"mock","choices":[]}', { model: 'mock-gpt', dropNullUsage: false })).toBe(
      '{"model":"mock-gpt","choices":[]}',
    );
  });
});
