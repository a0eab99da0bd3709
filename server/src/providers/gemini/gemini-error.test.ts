import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { geminiAdapter } from './gemini-adapter.ts';

const readFixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/errors/${name}`, import.meta.url), 'utf8');

describe('geminiAdapter.parseError', () => {
  it('reads message, status and the ErrorInfo reason', () => {
    expect(geminiAdapter.parseError(400, readFixture('invalid-api-key.json'))).toEqual({
      message: 'API key not valid. Please pass a valid API key.',
      type: 'INVALID_ARGUMENT',
      code: 'API_KEY_INVALID',
    });
    expect(geminiAdapter.parseError(404, readFixture('model-not-found.json'))).toEqual({
      message: 'models/gemini-9-ultra is not found for API version v1beta, or is not supported for generateContent.',
      type: 'NOT_FOUND',
      code: undefined,
    });
  });

  it('accepts the array-wrapped error of the streaming endpoint', () => {
    expect(geminiAdapter.parseError(429, readFixture('resource-exhausted.json'))).toEqual({
      message: 'You exceeded your current quota, please check your plan and billing details.',
      type: 'RESOURCE_EXHAUSTED',
      code: undefined,
    });
  });

  it.each(['<html>Bad Gateway</html>', '{"message": "not google"}', '{"error": "flat"}', ''])(
    'falls back to a generic message for %j without echoing the body',
    (body) => {
      expect(geminiAdapter.parseError(502, body)).toEqual({
        message: 'upstream answered with status 502',
        type: undefined,
        code: undefined,
      });
    },
  );
});
