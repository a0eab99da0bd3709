import type { IncomingHttpHeaders } from 'node:http';
import { anthropicErrorTypeFor, serializeAnthropicError } from './anthropic/anthropic-error.ts';
import { serializeGeminiError } from './gemini/gemini-error.ts';
import { serializeOpenAIError, type OpenAIErrorObject } from './openai-error.ts';

/** The API a request path belongs to; errors on it come back in that API's shape, as the real service sends them. */
export type WireFormat = 'openai' | 'anthropic' | 'gemini';

const anthropicPathPrefix = '/v1/messages';
const geminiPathPrefix = '/v1beta/';

/** Only called on the error and API-key paths, so the OpenAI hot path pays nothing for it. */
export function wireFormatForPath(path: string): WireFormat {
  if (path === anthropicPathPrefix || path.startsWith(`${anthropicPathPrefix}/`)) return 'anthropic';
  if (path.startsWith(geminiPathPrefix)) return 'gemini';
  return 'openai';
}

/** The body of an error answer on a route of `format`; the OpenAI object supplies the message. */
export function serializeErrorFor(format: WireFormat, httpStatus: number, error: OpenAIErrorObject): string {
  switch (format) {
    case 'openai':
      return serializeOpenAIError(error);
    case 'anthropic':
      return serializeAnthropicError(anthropicErrorTypeFor(httpStatus), error.message);
    case 'gemini':
      return serializeGeminiError(httpStatus, error.message);
  }
}

/** The header each API's own clients put the key in; `Authorization: Bearer` is accepted on every route as well. */
const apiKeyHeaderByFormat: Readonly<Record<WireFormat, string | undefined>> = {
  openai: undefined,
  anthropic: 'x-api-key',
  gemini: 'x-goog-api-key',
};

export function carriesApiKey(headers: IncomingHttpHeaders, format: WireFormat, apiKey: string): boolean {
  if (headers.authorization === `Bearer ${apiKey}`) return true;
  const headerName = apiKeyHeaderByFormat[format];
  return headerName !== undefined && headers[headerName] === apiKey;
}
