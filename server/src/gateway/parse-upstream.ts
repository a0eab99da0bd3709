import { AppError } from '../errors/app-error.ts';
import {
  MalformedUpstreamResponse,
  UnsupportedRequest,
  UpstreamStreamError,
} from '../providers/spec/provider-adapter.ts';

/** Runs an adapter step and turns its failures (unsupported input, upstream nonsense) into our errors. */
export function parseUpstream<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw toGatewayError(error);
  }
}

/** Maps the adapters' own failures into the closed error set. */
export function toGatewayError(error: unknown): unknown {
  if (error instanceof UnsupportedRequest) {
    return new AppError('unsupported_content', error.message, error.param === undefined ? {} : { param: error.param });
  }
  if (error instanceof UpstreamStreamError) {
    const message = `the upstream provider reported an error: ${error.message}`;
    if (error.details.type === 'overloaded_error') {
      return new AppError('upstream_unavailable', message, { isRetryable: true, cause: error });
    }
    if (error.details.type === 'rate_limit_error') {
      return new AppError('upstream_rate_limited', message, { isRetryable: true, cause: error });
    }
    return new AppError('upstream_error', message, { cause: error });
  }
  if (error instanceof MalformedUpstreamResponse) {
    return new AppError('upstream_error', `the upstream provider sent an invalid response: ${error.message}`, {
      cause: error,
    });
  }
  return error;
}
