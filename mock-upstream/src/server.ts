import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveRequestBehaviour, type RequestBehaviour } from './mock-headers.ts';
import { buildModelCatalog, type ModelCatalog } from './models.ts';
import { createInvalidRequestError, injectedFailureErrors, MockRequestError } from './openai-error.ts';
import {
  resolveBehaviour,
  type MockBehaviourOptions,
  type MockUpstreamOptions,
  type ResolvedBehaviour,
} from './options.ts';
import { pause } from './pause.ts';
import {
  abortStreamAfterHead,
  isResponseGone,
  sendJson,
  sendReply,
  type BodyFailure,
  type MockReply,
} from './reply.ts';
import { RequestLog, type RecordedRequest } from './request-log.ts';
import { RequestStats, type MockUpstreamStats, type RequestOutcome } from './request-stats.ts';
import { createUnknownRouteError, findRoute } from './routes.ts';
import { carriesApiKey, serializeErrorFor, wireFormatForPath, type WireFormat } from './wire-format.ts';

export interface MockUpstreamHandle {
  /** Base URL ending with `/v1`, ready to use as an OpenAI `baseURL`. */
  readonly url: string;
  readonly port: number;
  /** Recorded requests, oldest first (empty unless `recordRequests` is on). A fresh copy on every read. */
  readonly requests: RecordedRequest[];
  clearRequests(): void;
  /** Requests counted by outcome since start or the last `resetStats()`; kept whether or not requests are recorded. */
  stats(): MockUpstreamStats;
  resetStats(): void;
  /** Merges into the current behaviour; a key given as undefined returns to its default. */
  setOptions(options: Partial<MockBehaviourOptions>): void;
  /** Stops listening and drops open connections, including those held by the `timeout` failure. */
  close(): Promise<void>;
}

/** Everything derived from the options, swapped as one object so a request never sees half an update. */
interface ServerState {
  readonly behaviour: ResolvedBehaviour;
  readonly catalog: ModelCatalog;
  readonly log: RequestLog;
}

type ParsedBody =
  | { readonly kind: 'empty' }
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'malformed'; readonly text: string };

export async function startMockUpstream(options: MockUpstreamOptions = {}): Promise<MockUpstreamHandle> {
  const { port = 0, host = '127.0.0.1', random = Math.random, ...behaviourOptions } = options;
  let currentOptions: MockBehaviourOptions = behaviourOptions;
  let state = createState(resolveBehaviour(currentOptions), undefined);
  const stats = new RequestStats();
  let responseCounter = 0;
  const closing = new AbortController();
  const createResponseId = (prefix: string): string => {
    responseCounter += 1;
    return `${prefix}${responseCounter}`;
  };

  const server = createServer((request, response) => {
    stats.enter();
    let left = false;
    const leave = (): void => {
      if (left) return;
      left = true;
      stats.leave();
    };
    response.once('finish', leave);
    response.once('close', leave);
    const bodyChunks: Buffer[] = [];
    // A client that disconnects mid-body makes the request emit 'error'; without a listener that would crash the mock.
    request.on('error', () => undefined);
    request.on('data', (chunk: Buffer) => bodyChunks.push(chunk));
    request.on('end', () => {
      respond(request, response, parseBody(bodyChunks)).catch((error: unknown) => {
        // Only a bug in the mock lands here; say so loudly rather than leave the client hanging.
        console.error('mock upstream: unexpected error', error);
        if (response.headersSent) {
          response.destroy();
          return;
        }
        const format = wireFormatForPath(stripQuery(request.url ?? '/'));
        sendJson(response, 500, serializeErrorFor(format, 500, injectedFailureErrors[500]));
      });
    });
  });

  async function respond(request: IncomingMessage, response: ServerResponse, body: ParsedBody): Promise<void> {
    const method = request.method ?? 'GET';
    const path = stripQuery(request.url ?? '/');
    const receivedAt = Date.now();
    const note = (outcome: RequestOutcome): void => {
      stats.count(outcome);
      if (state.log.capacity > 0) state.log.record(createRecord(request, method, path, body, receivedAt, outcome));
    };

    let prepared: PreparedReply;
    try {
      prepared = prepareReply(request, method, path, body, state, createResponseId, random);
    } catch (error) {
      if (!(error instanceof MockRequestError)) throw error;
      note('rejected');
      sendJson(response, error.status, serializeErrorFor(wireFormatForPath(path), error.status, error.error));
      return;
    }

    const { reply, requestBehaviour } = prepared;
    const { failure } = requestBehaviour;
    note(failure ?? 'ok');
    if (failure === 'timeout') return; // Hold the socket open until the client gives up or close() drops it.
    if (!(await pause(requestBehaviour.latencyMs, closing.signal)) || isResponseGone(response)) return;

    switch (failure) {
      case 'reset':
        request.socket.destroy();
        return;
      case 'abort-before-first-chunk':
        // Without a stream there is no head to send first: the connection just drops, as in `reset`.
        if (reply.kind === 'stream') abortStreamAfterHead(response);
        else request.socket.destroy();
        return;
      case '500':
      case '502':
      case '503': {
        const status = Number(failure);
        sendJson(response, status, serializeErrorFor(wireFormatForPath(path), status, injectedFailureErrors[failure]));
        return;
      }
      case '429':
        sendJson(response, 429, serializeErrorFor(wireFormatForPath(path), 429, injectedFailureErrors[429]), {
          'retry-after': String(requestBehaviour.retryAfterSeconds),
          ...(requestBehaviour.rateLimitHeaders
            ? rateLimitHeadersFor(wireFormatForPath(path), requestBehaviour.retryAfterSeconds)
            : {}),
        });
        return;
      case 'abort-mid-stream':
      case 'garbage':
      case 'truncated':
      case 'no-usage':
      case undefined:
        await sendReply(response, reply, toBodyFailure(failure), {
          chunkDelayMs: requestBehaviour.chunkDelayMs,
          signal: closing.signal,
        });
        return;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${urlHost}:${address.port}/v1`,
    port: address.port,
    get requests() {
      return state.log.list();
    },
    clearRequests() {
      state.log.clear();
    },
    stats() {
      return stats.snapshot();
    },
    resetStats() {
      stats.reset();
    },
    setOptions(partial) {
      const nextOptions = { ...currentOptions, ...partial };
      state = createState(resolveBehaviour(nextOptions), state.log);
      currentOptions = nextOptions;
    },
    async close() {
      closing.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

interface PreparedReply {
  readonly reply: MockReply;
  readonly requestBehaviour: RequestBehaviour;
}

/**
 * Everything that can reject the request as the real API would (auth, route, JSON, headers, body fields), done before
 * any latency so client mistakes come back at once. Throws MockRequestError.
 */
function prepareReply(
  request: IncomingMessage,
  method: string,
  path: string,
  body: ParsedBody,
  state: ServerState,
  createResponseId: (prefix: string) => string,
  random: () => number,
): PreparedReply {
  const { behaviour, catalog } = state;
  authorize(request.headers, path, behaviour.apiKey);
  const route = findRoute(method, path);
  if (route === undefined) throw createUnknownRouteError(method, path);
  if (body.kind === 'malformed') {
    throw createInvalidRequestError('We could not parse the JSON body of your request. (mock upstream)');
  }
  const requestBehaviour = resolveRequestBehaviour(request.headers, behaviour, random);
  const reply = route(body.kind === 'json' ? body.value : undefined, {
    behaviour: requestBehaviour,
    catalog,
    embeddingDimensions: behaviour.embeddingDimensions,
    createResponseId,
  });
  return { reply, requestBehaviour };
}

function createState(behaviour: ResolvedBehaviour, previousLog: RequestLog | undefined): ServerState {
  let log = previousLog;
  if (log === undefined || log.capacity !== behaviour.recordCapacity) {
    log = new RequestLog(behaviour.recordCapacity);
    for (const entry of previousLog?.list() ?? []) log.record(entry);
  }
  return { behaviour, catalog: buildModelCatalog(behaviour.models), log };
}

function parseBody(chunks: readonly Buffer[]): ParsedBody {
  if (chunks.length === 0) return { kind: 'empty' };
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return { kind: 'json', value: JSON.parse(text) as unknown };
  } catch {
    return { kind: 'malformed', text };
  }
}

function createRecord(
  request: IncomingMessage,
  method: string,
  path: string,
  body: ParsedBody,
  receivedAt: number,
  outcome: RequestOutcome,
): RecordedRequest {
  return {
    method,
    path,
    headers: request.headers,
    body: body.kind === 'json' ? body.value : body.kind === 'malformed' ? body.text : undefined,
    receivedAt,
    outcome,
  };
}

/** The provider's own "no requests left until …" headers, sent with the 429 failure when `rateLimitHeaders` is on. */
function rateLimitHeadersFor(format: WireFormat, retryAfterSeconds: number): Record<string, string> {
  switch (format) {
    case 'openai':
      return { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': `${retryAfterSeconds}s` };
    case 'anthropic':
      return {
        'anthropic-ratelimit-requests-remaining': '0',
        'anthropic-ratelimit-requests-reset': new Date(Date.now() + retryAfterSeconds * 1000).toISOString(),
      };
    case 'gemini':
      // Google sends no such headers; its 429 body says RESOURCE_EXHAUSTED and that is all.
      return {};
  }
}

function stripQuery(url: string): string {
  const queryStart = url.indexOf('?');
  return queryStart === -1 ? url : url.slice(0, queryStart);
}

/** Each route takes the key where its API's clients send it (see carriesApiKey); the 401 body follows the route. */
function authorize(headers: IncomingHttpHeaders, path: string, apiKey: string | undefined): void {
  if (apiKey === undefined || carriesApiKey(headers, wireFormatForPath(path), apiKey)) return;
  throw new MockRequestError(401, {
    message: 'Incorrect API key provided. (mock upstream)',
    type: 'invalid_request_error',
    param: null,
    code: 'invalid_api_key',
  });
}

function toBodyFailure(failure: BodyFailure | 'no-usage' | undefined): BodyFailure | undefined {
  return failure === 'no-usage' ? undefined : failure;
}
