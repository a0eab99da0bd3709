/**
 * Anthropic's error envelope, `{type: 'error', error: {type, message}}`, for the mock's Anthropic routes. The types
 * are the ones Anthropic documents for each HTTP status.
 */
const errorTypeByHttpStatus: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
  529: 'overloaded_error',
};

export function anthropicErrorTypeFor(httpStatus: number): string {
  return errorTypeByHttpStatus[httpStatus] ?? (httpStatus >= 500 ? 'api_error' : 'invalid_request_error');
}

export function serializeAnthropicError(type: string, message: string): string {
  return JSON.stringify({ type: 'error', error: { type, message } });
}
