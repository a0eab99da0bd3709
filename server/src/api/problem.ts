import Type from 'typebox';
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

/** RFC 9457 problem details, as every /api error is answered. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    param: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
  },
  { description: 'RFC 9457 problem details (application/problem+json)' },
);

/** The error answers every management route may give, for the OpenAPI document. */
export const problemResponses = {
  '4xx': {
    description: 'Problem details (RFC 9457)',
    content: { 'application/problem+json': { schema: ProblemSchema } },
  },
} as const;
