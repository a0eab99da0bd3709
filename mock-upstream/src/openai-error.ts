/** The `error` object of OpenAI's error bodies; clients and the gateway parse exactly this shape. */
export interface OpenAIErrorObject {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/**
 * The one error type the mock raises for bad requests; the server turns it into an OpenAI-shaped body in one place,
 * so handlers only throw.
 */
export class MockRequestError extends Error {
  readonly status: number;
  readonly error: OpenAIErrorObject;

  constructor(status: number, error: OpenAIErrorObject) {
    super(error.message);
    this.name = 'MockRequestError';
    this.status = status;
    this.error = error;
  }
}

export function createInvalidRequestError(message: string, param: string | null = null): MockRequestError {
  return new MockRequestError(400, { message, type: 'invalid_request_error', param, code: null });
}

export function serializeOpenAIError(error: OpenAIErrorObject): string {
  return JSON.stringify({ error });
}

/** Bodies for the injected upstream failures, worded like OpenAI's own so log lines look familiar. */
export const injectedFailureErrors = {
  500: {
    message: 'The server had an error while processing your request. (mock upstream)',
    type: 'server_error',
    param: null,
    code: null,
  },
  502: { message: 'Bad gateway. (mock upstream)', type: 'server_error', param: null, code: null },
  503: {
    message: 'The engine is currently overloaded, please try again later. (mock upstream)',
    type: 'server_error',
    param: null,
    code: null,
  },
  429: {
    message: 'Rate limit reached for requests. (mock upstream)',
    type: 'requests',
    param: null,
    code: 'rate_limit_exceeded',
  },
} as const satisfies Record<number, OpenAIErrorObject>;
