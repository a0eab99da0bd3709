import * as oidc from 'openid-client';
import { AppError } from '../../errors/app-error.ts';
import { OutboundUrlError } from '../../lib/outbound-url.ts';

/** Claim and signature checks that failed: the response cannot be trusted, so nobody is signed in. */
const validationCodes = new Set([
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_PARSE_ERROR',
]);

/**
 * Maps what openid-client and the outbound fetch throw into the closed error set. `phase` tells a broken or
 * unreachable issuer (discovery) apart from a sign-in the provider or our checks refused (callback).
 */
export function toSsoError(error: unknown, phase: 'discovery' | 'callback'): AppError {
  if (error instanceof AppError) return error;
  const blocked = findCause(error, (cause) => cause instanceof OutboundUrlError);
  if (blocked) {
    return new AppError('upstream_error', `the identity provider address is not allowed: ${blocked.message}`, {
      cause: error,
    });
  }
  if (error instanceof oidc.AuthorizationResponseError) {
    return new AppError('forbidden', `the identity provider did not sign you in (${error.error})`, { cause: error });
  }
  if (error instanceof oidc.ResponseBodyError) {
    if (error.error === 'invalid_grant') {
      return new AppError('invalid_request', 'the sign-in code was refused by the identity provider; sign in again', {
        cause: error,
      });
    }
    return new AppError('upstream_error', `the identity provider answered ${error.error}`, {
      upstreamStatus: error.status,
      cause: error,
    });
  }
  if (error instanceof oidc.ClientError) {
    if (error.code === 'OAUTH_TIMEOUT') {
      return new AppError('upstream_timeout', 'the identity provider did not answer in time', {
        isRetryable: true,
        cause: error,
      });
    }
    if (phase === 'callback' && error.code !== undefined && validationCodes.has(error.code)) {
      return new AppError('unauthenticated', `the identity provider's response did not validate: ${error.message}`, {
        cause: error,
      });
    }
    return new AppError('upstream_error', `the identity provider could not be used: ${error.message}`, {
      cause: error,
    });
  }
  if (error instanceof TypeError) {
    return new AppError('upstream_unavailable', 'the identity provider could not be reached', {
      isRetryable: true,
      cause: error,
    });
  }
  return new AppError('internal_error', 'single sign-on failed', { cause: error });
}

function findCause(error: unknown, matches: (cause: unknown) => boolean): Error | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (matches(current)) return current;
    current = current.cause;
  }
  return undefined;
}
