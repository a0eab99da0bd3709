/** Every way the mock can misbehave; `x-mock-fail` and `failMode` take these values. */
export const failureModes = [
  '500',
  '502',
  '503',
  '429',
  'timeout',
  'reset',
  'abort-mid-stream',
  'garbage',
  'truncated',
  'no-usage',
] as const;

export type FailureMode = (typeof failureModes)[number];

/** Behaviour that can change while the server runs (`setOptions`) and, partly, per request (`x-mock-*` headers). */
export interface MockBehaviourOptions {
  /** Delay before the response starts (before the first stream chunk). Default 0. */
  latencyMs?: number;
  /** Delay between stream chunks. Default 0, which writes the whole stream in one go. */
  chunkDelayMs?: number;
  /** Content chunks per chat completion; also its completion_tokens. Default 10. */
  chunks?: number;
  /** Failure injected into responses. Default: none. */
  failMode?: FailureMode;
  /** Share of requests (0..1) that get `failMode`; the rest behave normally. Default 1. */
  failRate?: number;
  /** `Retry-After` seconds sent with the 429 failure. Default 1. */
  retryAfterSeconds?: number;
  /** Length of embedding vectors when the request does not ask for `dimensions`. Default 8. */
  embeddingDimensions?: number;
  /** Ids served by `/v1/models`. Default ['mock-gpt', 'mock-embed']. */
  models?: readonly string[];
  /** Keep the last N requests for assertions; `true` keeps 100. Default off, so benchmarks pay nothing. */
  recordRequests?: boolean | number;
  /**
   * When set, requests must carry `Authorization: Bearer <apiKey>` (or, on Anthropic routes, `x-api-key`; on Gemini
   * routes, `x-goog-api-key`) or get a 401 in the route's error shape.
   */
  apiKey?: string;
}

export interface MockUpstreamOptions extends MockBehaviourOptions {
  /** Default 0: an ephemeral port, read it back from the handle. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface ResolvedBehaviour {
  readonly latencyMs: number;
  readonly chunkDelayMs: number;
  readonly chunks: number;
  readonly failMode: FailureMode | undefined;
  readonly failRate: number;
  readonly retryAfterSeconds: number;
  readonly embeddingDimensions: number;
  readonly models: readonly string[];
  readonly recordCapacity: number;
  readonly apiKey: string | undefined;
}

const defaultRecordCapacity = 100;

export function isFailureMode(value: string): value is FailureMode {
  return (failureModes as readonly string[]).includes(value);
}

/** Fills defaults and rejects nonsense early, so a typo in a test fails at start-up rather than as odd behaviour. */
export function resolveBehaviour(options: MockBehaviourOptions): ResolvedBehaviour {
  const resolved: ResolvedBehaviour = {
    latencyMs: requireNonNegativeInteger('latencyMs', options.latencyMs ?? 0),
    chunkDelayMs: requireNonNegativeInteger('chunkDelayMs', options.chunkDelayMs ?? 0),
    chunks: requireNonNegativeInteger('chunks', options.chunks ?? 10),
    failMode: options.failMode,
    failRate: requireRate('failRate', options.failRate ?? 1),
    retryAfterSeconds: requireNonNegativeInteger('retryAfterSeconds', options.retryAfterSeconds ?? 1),
    embeddingDimensions: requirePositiveInteger('embeddingDimensions', options.embeddingDimensions ?? 8),
    models: Object.freeze([...(options.models ?? ['mock-gpt', 'mock-embed'])]),
    recordCapacity: resolveRecordCapacity(options.recordRequests),
    apiKey: options.apiKey,
  };
  if (resolved.failMode !== undefined && !isFailureMode(resolved.failMode)) {
    throw new RangeError(`failMode must be one of ${failureModes.join(', ')}; got ${String(resolved.failMode)}`);
  }
  return Object.freeze(resolved);
}

function resolveRecordCapacity(recordRequests: boolean | number | undefined): number {
  if (recordRequests === undefined || recordRequests === false) return 0;
  if (recordRequests === true) return defaultRecordCapacity;
  return requireNonNegativeInteger('recordRequests', recordRequests);
}

export function requireNonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer; got ${value}`);
  }
  return value;
}

function requirePositiveInteger(name: string, value: number): number {
  if (requireNonNegativeInteger(name, value) === 0) throw new RangeError(`${name} must be at least 1`);
  return value;
}

export function requireRate(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new RangeError(`${name} must be between 0 and 1; got ${value}`);
  }
  return value;
}
