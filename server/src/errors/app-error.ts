/**
 * The one closed set of errors the service raises. Each code has a stable HTTP status and an
 * OpenAI-style `type`; the HTTP layer maps them to the wire in one place (see http/error-handler.ts).
 */
export const errorCatalog = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  unsupported_content: { status: 400, type: 'invalid_request_error' },
  missing_api_key: { status: 401, type: 'authentication_error' },
  invalid_api_key: { status: 401, type: 'authentication_error' },
  expired_api_key: { status: 401, type: 'authentication_error' },
  revoked_api_key: { status: 401, type: 'authentication_error' },
  model_not_allowed: { status: 403, type: 'permission_error' },
  scope_not_allowed: { status: 403, type: 'permission_error' },
  ip_not_allowed: { status: 403, type: 'permission_error' },
  model_not_found: { status: 404, type: 'not_found_error' },
  route_not_found: { status: 404, type: 'not_found_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  body_too_large: { status: 413, type: 'invalid_request_error' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error' },
  /** A path parameter longer than the router accepts (ids are at most 128 characters). */
  uri_too_long: { status: 414, type: 'invalid_request_error' },
  // Management API (problem+json on /api).
  weak_password: { status: 400, type: 'invalid_request_error' },
  invalid_cursor: { status: 400, type: 'invalid_request_error' },
  unauthenticated: { status: 401, type: 'authentication_error' },
  invalid_credentials: { status: 401, type: 'authentication_error' },
  forbidden: { status: 403, type: 'permission_error' },
  csrf_failed: { status: 403, type: 'permission_error' },
  not_found: { status: 404, type: 'not_found_error' },
  conflict: { status: 409, type: 'conflict_error' },
  idempotency_conflict: { status: 409, type: 'conflict_error' },
  gone: { status: 410, type: 'invalid_request_error' },
  precondition_failed: { status: 412, type: 'invalid_request_error' },
  unprocessable: { status: 422, type: 'invalid_request_error' },
  too_many_attempts: { status: 429, type: 'rate_limit_error' },
  /** A rate or concurrency limit of AI Hub (key, user, team, organization, model) was reached. */
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error' },
  /** A budget is spent, or this request's worst-case cost does not fit in what remains of it. */
  budget_exceeded: { status: 429, type: 'insufficient_quota' },
  upstream_bad_request: { status: 400, type: 'invalid_request_error' },
  upstream_rate_limited: { status: 429, type: 'rate_limit_error' },
  upstream_error: { status: 502, type: 'upstream_error' },
  upstream_unavailable: { status: 503, type: 'upstream_error' },
  upstream_timeout: { status: 504, type: 'upstream_error' },
  service_unavailable: { status: 503, type: 'server_error' },
  /** The database did not answer (refused, reset, or silent past its timeout); the call can be retried. */
  database_unavailable: { status: 503, type: 'server_error' },
  internal_error: { status: 500, type: 'server_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export interface AppErrorOptions {
  /** The request field at fault, as a dotted path (OpenAI's `param`). */
  param?: string;
  /** For upstream failures: the status the upstream answered with, kept for the client. */
  upstreamStatus?: number;
  /** For upstream failures: the upstream's own error code or type (`context_length_exceeded`), used by routing. */
  upstreamCode?: string;
  /** Whether retrying the same request elsewhere may succeed. */
  isRetryable?: boolean;
  /** Seconds the client should wait (Retry-After), when known. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | undefined;
  readonly upstreamStatus: number | undefined;
  readonly upstreamCode: string | undefined;
  readonly isRetryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorCatalog[code].status;
    this.type = errorCatalog[code].type;
    this.param = options.param;
    this.upstreamStatus = options.upstreamStatus;
    this.upstreamCode = options.upstreamCode;
    this.isRetryable = options.isRetryable ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The value of the wire `code` field: upstream failures keep the upstream status visible. */
  get wireCode(): string {
    return this.upstreamStatus === undefined ? this.code : `${this.code}:${this.upstreamStatus}`;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
