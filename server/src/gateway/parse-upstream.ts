import { AppError } from '../errors/app-error.ts';
import { MalformedUpstreamResponse } from '../providers/spec/provider-adapter.ts';

/** Runs an adapter's parser and turns "the upstream sent nonsense" into a 502 for the client. */
export function parseUpstream<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw toGatewayError(error);
  }
}

export function toGatewayError(error: unknown): unknown {
  if (error instanceof MalformedUpstreamResponse) {
    return new AppError('upstream_error', `the upstream provider sent an invalid response: ${error.message}`, {
      cause: error,
    });
  }
  return error;
}
