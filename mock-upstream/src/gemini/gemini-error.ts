/**
 * Google's error envelope, `{error: {code, message, status}}`, for the mock's Gemini routes. Statuses are the
 * canonical google.rpc codes Gemini pairs with each HTTP status.
 */
const statusByHttpStatus: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function serializeGeminiError(httpStatus: number, message: string): string {
  return JSON.stringify({ error: { code: httpStatus, message, status: statusByHttpStatus[httpStatus] ?? 'UNKNOWN' } });
}
