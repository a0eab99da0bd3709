import type { ServerResponse } from 'node:http';
import type { FailureMode } from './options.ts';
import { pause } from './pause.ts';
import { sseDoneFrame, sseGarbageFrame, sseResponseHeaders } from './sse.ts';

/** What a route produces; how it reaches the wire (whole, cut short, garbled) is decided here, not in the routes. */
export type MockReply =
  | { readonly kind: 'json'; readonly status: number; readonly body: string; readonly headers?: Record<string, string> }
  | { readonly kind: 'stream'; readonly frames: readonly string[] };

/** The failures that change the body of an otherwise normal 200 response (`abort-before-first-chunk` sends none). */
export type BodyFailure = Extract<FailureMode, 'abort-mid-stream' | 'garbage' | 'truncated'>;

export interface ReplyPacing {
  readonly chunkDelayMs: number;
  readonly signal: AbortSignal;
}

/** The `garbage` failure's non-stream body: a 200 labelled JSON that is not JSON. */
export const garbageJsonBody = '<html>this is not json';

export function sendJson(
  response: ServerResponse,
  status: number,
  body: string,
  headers?: Record<string, string>,
): void {
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}

export async function sendReply(
  response: ServerResponse,
  reply: MockReply,
  failure: BodyFailure | undefined,
  pacing: ReplyPacing,
): Promise<void> {
  if (reply.kind === 'json') {
    sendJsonReply(response, reply, failure);
    return;
  }
  await sendStreamReply(response, reply.frames, failure, pacing);
}

/**
 * `truncated` and `abort-mid-stream` send the first half of the body without a Content-Length, so the response is
 * chunked: `truncated` then ends it cleanly (the client gets incomplete JSON), `abort-mid-stream` drops the socket.
 */
function sendJsonReply(
  response: ServerResponse,
  reply: Extract<MockReply, { kind: 'json' }>,
  failure: BodyFailure | undefined,
): void {
  switch (failure) {
    case undefined:
      sendJson(response, reply.status, reply.body, reply.headers);
      return;
    case 'garbage':
      sendJson(response, 200, garbageJsonBody);
      return;
    case 'truncated':
    case 'abort-mid-stream':
      response.writeHead(reply.status, { ...reply.headers, 'content-type': 'application/json' });
      writeLastPiece(response, reply.body.slice(0, Math.floor(reply.body.length / 2)), endingFor(failure));
      return;
  }
}

/**
 * `truncated` and `abort-mid-stream` send the first half of the frames (at least the role frame, never [DONE]);
 * `garbage` sends the role frame, a data line that is not JSON, then [DONE].
 */
async function sendStreamReply(
  response: ServerResponse,
  frames: readonly string[],
  failure: BodyFailure | undefined,
  pacing: ReplyPacing,
): Promise<void> {
  let framesToSend = frames;
  if (failure === 'garbage') {
    framesToSend = [...frames.slice(0, 1), sseGarbageFrame, sseDoneFrame];
  } else if (failure !== undefined) {
    framesToSend = frames.slice(0, Math.max(1, Math.floor(frames.length / 2)));
  }
  const ending = endingFor(failure);

  response.writeHead(200, sseResponseHeaders);
  if (pacing.chunkDelayMs <= 0) {
    // One write for the whole stream: the benchmark path, where per-frame writes would only add syscalls.
    writeLastPiece(response, framesToSend.join(''), ending);
    return;
  }
  for (let index = 0; index < framesToSend.length - 1; index += 1) {
    response.write(framesToSend[index]);
    if (!(await pause(pacing.chunkDelayMs, pacing.signal)) || isResponseGone(response)) return;
  }
  writeLastPiece(response, framesToSend.at(-1) ?? '', ending);
}

type Ending = 'end-response' | 'destroy-socket';

function endingFor(failure: BodyFailure | undefined): Ending {
  return failure === 'abort-mid-stream' ? 'destroy-socket' : 'end-response';
}

/** Writes the last piece, then either ends the response or, once the piece is flushed, destroys the socket. */
function writeLastPiece(response: ServerResponse, lastPiece: string, ending: Ending): void {
  if (ending === 'end-response') {
    response.end(lastPiece);
    return;
  }
  response.write(lastPiece, () => response.socket?.destroy());
}

/**
 * The `abort-before-first-chunk` failure of a stream: the 200 head of an event stream, then the connection dropped
 * before a single byte of body, so the client has a success status and nothing else.
 */
export function abortStreamAfterHead(response: ServerResponse): void {
  response.writeHead(200, sseResponseHeaders);
  response.flushHeaders();
  const socket = response.socket;
  if (socket === null) return;
  // Queued behind the head on the same socket: the callback runs once the head is on the wire.
  socket.write('', () => socket.destroy());
}

export function isResponseGone(response: ServerResponse): boolean {
  return response.destroyed || response.socket === null || response.socket.destroyed;
}
