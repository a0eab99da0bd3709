import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError, type ErrorCode } from '../errors/app-error.ts';
import { encodeProblem, problemContentType } from '../api/problem.ts';
import { inboundCodecFor, type InboundFormat } from '../providers/inbound-codecs.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The API format a route speaks; its errors are shaped to match (default: OpenAI; `problem` on /api). */
    errorFormat?: InboundFormat | 'problem';
  }
}

/**
 * The one place errors become responses. Gateway routes answer in their API's shape (OpenAI's
 * `{error:{message,type,param,code}}` by default, Anthropic's on /v1/messages); nothing else turns an error into JSON.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error);
    if (isAbort(error)) {
      // Only a client that went away aborts a request: its usage record says so, and there is nobody to answer.
      request.log.debug({ requestId: request.id }, 'client disconnected');
      return reply;
    }
    if (appError.status >= 500 && !appError.code.startsWith('upstream_')) {
      request.log.error({ err: error, requestId: request.id }, 'request failed');
    } else if (appError.code.startsWith('upstream_')) {
      request.log.warn(
        { code: appError.wireCode, requestId: request.id, message: appError.message },
        'upstream failure',
      );
    }
    return sendError(reply, appError);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new AppError('route_not_found', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );
}

/**
 * Fastify's `frameworkErrors` option: errors its router raises before a route is chosen (a malformed or too long
 * path segment) take the same path to the wire as every other error, instead of Fastify's own JSON.
 */
export function answerFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, toAppError(error));
}

function isAbort(error: Error): boolean {
  return error.name === 'AbortError' || error.name === 'RequestAbortedError';
}

export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) reply.header('retry-after', String(error.retryAfterSeconds));
  const format =
    reply.request.routeOptions.config.errorFormat ?? (reply.request.url.startsWith('/api/') ? 'problem' : 'openai');
  if (format === 'problem') {
    return reply
      .code(error.status)
      .type(problemContentType)
      .send(encodeProblem(error, reply.request.url.split('?')[0]));
  }
  return reply.code(error.status).send(inboundCodecFor(format).encodeError(error));
}

/** The closed-set code for a client error status Fastify or a plugin raises; any other 4xx is `invalid_request`. */
const fastifyClientErrors: Partial<Record<number, ErrorCode>> = {
  403: 'forbidden',
  404: 'route_not_found',
  405: 'method_not_allowed',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
};

/** Maps Fastify's own errors (parsing, limits, validation) into the closed set. */
export function toAppError(error: FastifyError | Error): AppError {
  if (isAppError(error)) return error;
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const first = fastifyError.validation[0];
    const location = fastifyError.validationContext ?? 'body';
    const { missingProperty: missing, additionalProperty: unknown } =
      (first?.params as { missingProperty?: string; additionalProperty?: string } | undefined) ?? {};
    const pathSegments = (first?.instancePath ?? '').split('/').filter(Boolean);
    if (missing) pathSegments.push(missing);
    else if (unknown !== undefined) pathSegments.push(unknown);
    const param = pathSegments
      .map((segment, index) => (/^\d+$/.test(segment) ? `[${segment}]` : index === 0 ? segment : `.${segment}`))
      .join('');
    const message = missing
      ? `${param} is required`
      : unknown !== undefined
        ? `${param} is not a known field`
        : `${param || location} ${first?.message ?? 'is invalid'}`;
    return new AppError('invalid_request', message, param ? { param } : {});
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('invalid_json', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('body_too_large', 'the request body is larger than this server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type', 'send the request body as application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('invalid_request', 'the request body is not as long as its Content-Length says');
    case 'FST_ERR_BAD_URL':
      return new AppError('invalid_request', 'the URL path is not valid percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('uri_too_long', 'a path segment of the URL is longer than any id this server issues');
    default:
      break;
  }
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return new AppError('invalid_json', 'the request body is not valid JSON');
  }
  if (fastifyError.statusCode === 413) return new AppError('body_too_large', 'the request body is too large');
  if (fastifyError.statusCode === 415) return new AppError('unsupported_media_type', 'unsupported content type');
  // Any other refusal Fastify or its plugins raise is the client's (a static file path with a NUL is a 403): never
  // a 500 for it.
  const status = fastifyError.statusCode ?? 500;
  if (fastifyError.code?.startsWith('FST_') && status >= 400 && status < 500) {
    const code = fastifyClientErrors[status] ?? 'invalid_request';
    return new AppError(code, `the request was refused (${fastifyError.code}: ${fastifyError.message})`);
  }
  return new AppError('internal_error', 'an internal error occurred', { cause: error });
}
