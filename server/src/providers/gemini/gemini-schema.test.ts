import { describe, expect, it } from 'vitest';
import { toFunctionParameters, toGeminiSchema } from './gemini-schema.ts';

describe('toGeminiSchema', () => {
  it('turns several non-null types into anyOf and reads oneOf as anyOf', () => {
    expect(toGeminiSchema({ type: ['string', 'integer', 'null'] })).toEqual({
      nullable: true,
      anyOf: [{ type: 'string' }, { type: 'integer' }],
    });
    expect(
      toGeminiSchema({
        oneOf: [
          { type: 'string', format: 'date-time' },
          { type: 'number', multipleOf: 2 },
        ],
      }),
    ).toEqual({
      anyOf: [{ type: 'string', format: 'date-time' }, { type: 'number' }],
    });
  });

  it('keeps property names that look like keywords', () => {
    const schema = { type: 'object', properties: { additionalProperties: { type: 'string', examples: ['a'] } } };
    expect(toGeminiSchema(schema)).toEqual({
      type: 'object',
      properties: { additionalProperties: { type: 'string' } },
    });
  });
});

describe('toFunctionParameters', () => {
  it('sends no parameters for a function that takes none', () => {
    expect(toFunctionParameters(undefined)).toEqual({});
    expect(toFunctionParameters({ type: 'object', properties: {} })).toEqual({});
    expect(toFunctionParameters({ type: 'object' })).toEqual({});
  });
});
