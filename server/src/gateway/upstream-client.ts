import type { IncomingHttpHeaders } from 'node:http';
import type { LookupFunction } from 'node:net';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { AppError } from '../errors/app-error.ts';
import type { ProviderConfig, UpstreamTimeouts } from '../config/config.ts';
import { createGuardedLookup, type OutboundUrlPolicy } from '../lib/outbound-url.ts';
import type { ProviderAdapter, UpstreamHttpRequest } from '../providers/spec/provider-adapter.ts';

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  readonly body: Dispatcher.ResponseData['body'];
}

/** A whole (non-streamed) upstream answer. */
export interface BufferedUpstreamResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

interface PoolEntry {
  readonly pool: Pool;
  readonly basePath: string;
  readonly key: string;
}

/**
 * Keep-alive connection pools, one per provider and connect timeout, shared by every request to it. The time to the
 * first byte and the longest silence between body chunks are per call (a deployment's timeouts); the total deadline
 * is the caller's signal.
 */
export class UpstreamClient {
  readonly #pools = new Map<string, PoolEntry>();
  /** The pool of a provider object at its own connect timeout: one WeakMap read per request, no key to build. */
  readonly #byProvider = new WeakMap<ProviderConfig, PoolEntry>();
  readonly #guardedLookup: LookupFunction;

  /**
   * `tenantPolicy`: the outbound rules for providers an organization configured. Their base URL was checked when it
   * was saved; connections re-check every address DNS gives, so a name rebound to a private address later is refused.
   */
  constructor(tenantPolicy: OutboundUrlPolicy = { allowInsecureLoopback: false }) {
    this.#guardedLookup = createGuardedLookup(tenantPolicy);
  }

  async send(
    provider: ProviderConfig,
    timeouts: UpstreamTimeouts,
    request: UpstreamHttpRequest,
    signal: AbortSignal,
  ): Promise<UpstreamResponse> {
    const { pool, basePath } = this.#poolFor(provider, timeouts);
    try {
      return await pool.request({
        method: 'POST',
        path: basePath + request.path,
        headers: request.headers,
        body: request.body,
        signal,
        headersTimeout: timeouts.firstByteMs,
        bodyTimeout: timeouts.streamIdleMs,
      });
    } catch (error) {
      throw toUpstreamError(error);
    }
  }

  /**
   * Sends a request and collects the whole answer. Written against undici's dispatch handler rather than
   * `request()` because it is the hot path of every non-streamed call: chunks go straight into an array, with no
   * Readable stream, body mixin or extra promise per request.
   */
  fetchText(
    provider: ProviderConfig,
    timeouts: UpstreamTimeouts,
    request: UpstreamHttpRequest,
    signal: AbortSignal,
  ): Promise<BufferedUpstreamResponse> {
    const { pool, basePath } = this.#poolFor(provider, timeouts);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let statusCode = 0;
      let headers: IncomingHttpHeaders = {};
      let controller: Dispatcher.DispatchController | undefined;
      const onAbort = (): void => controller?.abort(new undiciErrors.RequestAbortedError());
      const settle = (): void => signal.removeEventListener('abort', onAbort);
      if (signal.aborted) {
        reject(new undiciErrors.RequestAbortedError());
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      pool.dispatch(
        {
          method: 'POST',
          path: basePath + request.path,
          headers: request.headers,
          body: request.body,
          headersTimeout: timeouts.firstByteMs,
          bodyTimeout: timeouts.streamIdleMs,
        },
        {
          onRequestStart(dispatchController) {
            controller = dispatchController;
            if (signal.aborted) dispatchController.abort(new undiciErrors.RequestAbortedError());
          },
          onResponseStart(_controller, status, responseHeaders) {
            statusCode = status;
            headers = responseHeaders;
          },
          onResponseData(_controller, chunk) {
            chunks.push(chunk);
          },
          onResponseEnd() {
            settle();
            resolve({
              statusCode,
              headers,
              text:
                chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'),
            });
          },
          onResponseError(_controller, error) {
            settle();
            reject(toUpstreamError(error));
          },
        },
      );
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map(({ pool }) => pool.close()));
    this.#pools.clear();
  }

  /**
   * After a registry change: closes the pools of providers no longer in `providers` (gracefully: requests still using
   * them finish first).
   */
  retain(providers: Iterable<ProviderConfig>): void {
    const keep = new Set<string>();
    for (const provider of providers) keep.add(providerKey(provider));
    for (const [key, entry] of this.#pools) {
      if (keep.has(key.slice(0, key.lastIndexOf('\u0000')))) continue;
      this.#pools.delete(key);
      void entry.pool.close().catch(() => {});
    }
  }

  #poolFor(provider: ProviderConfig, timeouts: UpstreamTimeouts): PoolEntry {
    const usual = timeouts.connectMs === provider.timeouts.connectMs;
    if (usual) {
      const cached = this.#byProvider.get(provider);
      if (cached && this.#pools.get(cached.key) === cached) return cached;
    }
    const key = `${providerKey(provider)}\u0000${timeouts.connectMs}`;
    let entry = this.#pools.get(key);
    if (!entry) {
      const url = new URL(provider.baseUrl);
      entry = {
        pool: new Pool(url.origin, {
          connections: provider.maxConnections,
          keepAliveTimeout: 30_000,
          connectTimeout: timeouts.connectMs,
          ...(provider.orgId === null ? {} : { connect: { lookup: this.#guardedLookup } }),
        }),
        basePath: url.pathname.replace(/\/+$/, ''),
        key,
      };
      this.#pools.set(key, entry);
    }
    if (usual) this.#byProvider.set(provider, entry);
    return entry;
  }
}

/** A provider's pools are reused across registry reloads as long as what shapes a connection is unchanged. */
function providerKey(provider: ProviderConfig): string {
  return `${provider.orgId ?? ''}\u0000${provider.id}\u0000${provider.baseUrl}\u0000${provider.maxConnections}`;
}

/** Maps transport failures to the closed error set; the client's own abort is passed through unchanged. */
export function toUpstreamError(error: unknown): Error {
  if (error instanceof AppError) return error;
  if (error instanceof undiciErrors.RequestAbortedError || (error instanceof Error && error.name === 'AbortError')) {
    return error;
  }
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new AppError('upstream_timeout', 'the upstream provider did not answer in time', {
      isRetryable: true,
      cause: error,
    });
  }
  if (error instanceof undiciErrors.ConnectTimeoutError) {
    return new AppError('upstream_timeout', 'could not connect to the upstream provider in time', {
      isRetryable: true,
      cause: error,
    });
  }
  return new AppError('upstream_unavailable', 'could not reach the upstream provider', {
    isRetryable: true,
    cause: error,
  });
}

/** Reads a whole (non-streamed) upstream body. */
export async function readBody(body: UpstreamResponse['body']): Promise<string> {
  try {
    return await body.text();
  } catch (error) {
    throw toUpstreamError(error);
  }
}

/** Maps an upstream HTTP error status to our error set, keeping the upstream status on the error. */
export function upstreamStatusError(
  status: number,
  message: string,
  retryAfter: string | undefined,
  upstreamCode?: string,
): AppError {
  const retryAfterSeconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  const options = {
    upstreamStatus: status,
    retryAfterSeconds,
    ...(upstreamCode === undefined ? {} : { upstreamCode }),
  };
  if (status === 429) return new AppError('upstream_rate_limited', message, { ...options, isRetryable: true });
  if (status === 400 || status === 413 || status === 422) return new AppError('upstream_bad_request', message, options);
  if (status === 503) return new AppError('upstream_unavailable', message, { ...options, isRetryable: true });
  if (status === 504 || status === 408)
    return new AppError('upstream_timeout', message, { ...options, isRetryable: true });
  // 401/403/404 mean our credentials or routing for the provider are wrong: the client cannot fix that.
  return new AppError('upstream_error', status >= 500 ? message : 'the upstream provider rejected the gateway', {
    ...options,
    isRetryable: status >= 500,
  });
}

/** Reads an upstream error answer and throws it as our error, in the adapter's words where it gave some. */
export async function throwUpstreamError(
  response: UpstreamResponse,
  adapter: Pick<ProviderAdapter, 'parseError'>,
): Promise<never> {
  throw upstreamErrorFrom(
    { statusCode: response.statusCode, headers: response.headers, text: await readBody(response.body) },
    adapter,
  );
}

/** The error for an upstream answer with an error status, in the adapter's reading of its body. */
export function upstreamErrorFrom(
  response: BufferedUpstreamResponse,
  adapter: Pick<ProviderAdapter, 'parseError'>,
): AppError {
  const details = adapter.parseError(response.statusCode, response.text);
  const retryAfter = response.headers['retry-after'];
  return upstreamStatusError(
    response.statusCode,
    details.message,
    typeof retryAfter === 'string' ? retryAfter : undefined,
    details.code ?? details.type,
  );
}
