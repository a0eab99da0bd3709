import type { UpstreamErrorDetails } from '../spec/provider-adapter.ts';
import { isRecord } from './gemini-schema.ts';
import type { GeminiErrorObject } from './gemini-types.ts';

const errorInfoType = 'type.googleapis.com/google.rpc.ErrorInfo';

/**
 * Google errors are `{error: {code, message, status, details}}`. `type` carries the canonical status
 * (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, ...) and `code` the machine-readable reason from an ErrorInfo detail
 * (API_KEY_INVALID, ...) when there is one; the numeric code only repeats the HTTP status.
 */
export function toErrorDetails(error: GeminiErrorObject, fallbackMessage: string): UpstreamErrorDetails {
  const reason = Array.isArray(error.details)
    ? error.details.find((detail) => isRecord(detail) && detail['@type'] === errorInfoType)?.reason
    : undefined;
  return {
    message: typeof error.message === 'string' && error.message !== '' ? error.message : fallbackMessage,
    type: typeof error.status === 'string' ? error.status : undefined,
    code: typeof reason === 'string' ? reason : undefined,
  };
}

export function parseGeminiError(status: number, body: string): UpstreamErrorDetails {
  const fallbackMessage = `upstream answered with status ${status}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    // Not JSON (a proxy's HTML page, say): the raw body may hold anything, so it is not echoed.
    return { message: fallbackMessage, type: undefined, code: undefined };
  }
  // The non-SSE stream endpoint wraps its error in an array; accept both shapes.
  const envelope: unknown = Array.isArray(parsed) ? parsed[0] : parsed;
  const error = isRecord(envelope) ? envelope['error'] : undefined;
  if (!isRecord(error)) return { message: fallbackMessage, type: undefined, code: undefined };
  return toErrorDetails(error, fallbackMessage);
}
