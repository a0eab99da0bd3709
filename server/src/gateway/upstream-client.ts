import type { IncomingHttpHeaders } from 'node:http';
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import { AppError } from '../errors/app-error.ts';
import type { ProviderConfig } from '../config/config.ts';
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

/** Keep-alive connection pools, one per upstream origin, shared by every request to it. */
export class UpstreamClient {
  readonly #pools = new Map<string, { pool: Pool; basePath: string }>();

  async send(provider: ProviderConfig, request: UpstreamHttpRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const { pool, basePath } = this.#poolFor(provider);
    try {
      return await pool.request({
        method: 'POST',
        path: basePath + request.path,
        headers: request.headers,
        body: request.body,
        signal,
        headersTimeout: provider.timeoutMs,
        bodyTimeout: provider.timeoutMs,
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
    request: UpstreamHttpRequest,
    signal: AbortSignal,
  ): Promise<BufferedUpstreamResponse> {
    const { pool, basePath } = this.#poolFor(provider);
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
          headersTimeout: provider.timeoutMs,
          bodyTimeout: provider.timeoutMs,
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

  #poolFor(provider: ProviderConfig): { pool: Pool; basePath: string } {
    let entry = this.#pools.get(provider.id);
    if (!entry) {
      const url = new URL(provider.baseUrl);
      entry = {
        pool: new Pool(url.origin, {
          connections: provider.maxConnections,
          keepAliveTimeout: 30_000,
          connectTimeout: Math.min(provider.timeoutMs, 10_000),
        }),
        basePath: url.pathname.replace(/\/+$/, ''),
      };
      this.#pools.set(provider.id, entry);
    }
    return entry;
  }
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
export function upstreamStatusError(status: number, message: string, retryAfter: string | undefined): AppError {
  const retryAfterSeconds = retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  const options = { upstreamStatus: status, retryAfterSeconds };
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
  );
}
