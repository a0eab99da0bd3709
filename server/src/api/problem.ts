import type { AppError } from '../errors/app-error.ts';

export const problemContentType = 'application/problem+json';

/**
 * RFC 9457 problem details for the management API: `type` names the error class stably, `code` repeats it for
 * clients that switch on strings, and `param` points at the offending field when there is one.
 */
export function encodeProblem(error: AppError, instance?: string): Record<string, unknown> {
  return {
    type: `urn:aihub:problem:${error.code}`,
    title: titleFor(error),
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(error.param ? { param: error.param } : {}),
    ...(instance ? { instance } : {}),
  };
}

function titleFor(error: AppError): string {
  return error.code.replaceAll('_', ' ').replace(/^./, (first) => first.toUpperCase());
}
