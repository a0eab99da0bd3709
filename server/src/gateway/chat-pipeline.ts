import { performance } from 'node:perf_hooks';
import { once } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../errors/app-error.ts';
import { SseParser } from '../lib/sse-parser.ts';
import type { InboundCodec } from '../providers/spec/inbound-codec.ts';
import type { ChatChoice, ChatChunkChoice, ChatRequest } from '../providers/spec/openai-types.ts';
import type {
  ChatStreamDecoder,
  ParsedChatResponse,
  StreamItem,
  TokenUsage,
} from '../providers/spec/provider-adapter.ts';
import {
  fetchForAttempt,
  resolveModelFor,
  routeFor,
  sendForAttempt,
  type GatewayContext,
  type TrackedRoute,
} from './gateway-context.ts';
import { collectMessageTexts } from './meter/message-text.ts';
import { RequestMeter } from './meter/request-meter.ts';
import { parseUpstream, toGatewayError } from './parse-upstream.ts';
import { describeFailure, recordCompletion, recordFailure, watchClientDisconnect } from './request-lifecycle.ts';
import type { Attempt, Routed } from './routing/router.ts';
import { toUpstreamError, type UpstreamResponse } from './upstream-client.ts';

export interface ChatCall {
  readonly codec: InboundCodec<never>;
  /** The request in the internal (OpenAI) shape, decoded by the codec. */
  readonly chat: ChatRequest;
  /** Usage-record endpoint name, e.g. `chat.completions` or `messages`. */
  readonly endpoint: string;
}

/** Header telling the client which request fields the chosen provider could not take and were dropped. */
export const droppedParametersHeader = 'x-aihub-dropped-parameters';
/** The deployment that answered (`<provider>/<upstream model>`). */
export const deploymentHeader = 'x-aihub-deployment';
/** Attempts made in all, across deployments and fallback models. */
export const attemptsHeader = 'x-aihub-attempts';
/** Milliseconds AI Hub itself added: the request's time minus the time spent waiting on upstreams and backoffs. */
export const overheadHeader = 'x-aihub-overhead-ms';

/**
 * One chat request, any inbound format to any provider: resolve and authorise the model, pick a deployment,
 * translate out, call upstream, translate back (or pass bytes through when both sides speak OpenAI), and leave
 * exactly one usage record whatever happens.
 */
export async function runChat(
  gateway: GatewayContext,
  request: FastifyRequest,
  reply: FastifyReply,
  call: ChatCall,
): Promise<FastifyReply> {
  const { chat, codec } = call;
  const meter = new RequestMeter(gateway.journal, {
    requestId: request.id,
    keyId: request.principal.keyId,
    admission: request.admission,
    endpoint: call.endpoint,
    streamed: chat.stream === true,
  });
  meter.setRequestedModel(chat.model);
  const disconnect = watchClientDisconnect(reply);
  let route: TrackedRoute | undefined;
  try {
    const table = gateway.registry.table;
    const principal = request.principal;
    const model = resolveModelFor(table, principal, chat.model, 'chat');
    route = routeFor(table, principal, model, disconnect.signal, meter);
    if (chat.stream === true) {
      const routed = await gateway.router.route(route, (attempt) => openStream(gateway, chat, attempt));
      try {
        setRoutingHeaders(request, reply, routed, routed.value.droppedParameters);
        await relayStream(request, reply, { call, routed, meter, gateway, signal: disconnect.signal });
      } finally {
        routed.done();
      }
      return reply;
    }
    const routed = await gateway.router.route(route, (attempt) => fetchChat(gateway, call, attempt));
    routed.done();
    const answer = routed.value;
    setRoutingHeaders(request, reply, routed, answer.droppedParameters);
    if (answer.passthroughUsage) {
      recordCompletion(meter, disconnect.signal, answer.passthroughUsage, 'upstream');
      const payload = codec.encodePassthroughResponse?.(answer.text, chat.model) ?? answer.text;
      return reply.code(200).header('content-type', 'application/json').send(payload);
    }
    const parsed = answer.parsed as ParsedChatResponse;
    const usage =
      parsed.usage ?? (await countChatUsage(gateway, chat, parsed.completion.choices.map(completionText).join('')));
    recordCompletion(meter, disconnect.signal, usage, parsed.usage ? 'upstream' : 'counted');
    const payload = answer.passthrough
      ? (codec.encodePassthroughResponse?.(answer.text, chat.model) ?? answer.text)
      : JSON.stringify(codec.encodeResponse(parsed.completion, usage, chat.model));
    return reply.code(200).header('content-type', 'application/json').send(payload);
  } catch (error) {
    recordFailure(meter, error, disconnect.signal);
    // An error answer says how many attempts were made before giving up.
    if (route && route.attempts > 0 && !reply.sent) reply.header(attemptsHeader, String(route.attempts));
    throw error;
  } finally {
    disconnect.dispose();
  }
}

interface ChatAnswer {
  readonly text: string;
  readonly passthrough: boolean;
  readonly passthroughUsage: TokenUsage | undefined;
  /** Parsed when the body is not forwarded as it is (or its usage could not be read cheaply). */
  readonly parsed: ParsedChatResponse | undefined;
  readonly droppedParameters: readonly string[] | undefined;
}

/** One non-streamed attempt: an answer that cannot be read counts as the deployment's failure, so it is retried. */
async function fetchChat(gateway: GatewayContext, call: ChatCall, attempt: Attempt): Promise<ChatAnswer> {
  const { chat, codec } = call;
  const adapter = attempt.deployment.provider.adapter;
  const upstreamRequest = parseUpstream(() => adapter.buildChatRequest(chat, attempt.credential.target));
  const { text } = await fetchForAttempt(gateway, attempt, upstreamRequest);
  const passthrough =
    codec.format === 'openai' && adapter.wireFormat === 'openai' && adapter.passthroughResponses !== false;
  const passthroughUsage = passthrough ? adapter.readPassthroughUsage?.(text) : undefined;
  return {
    text,
    passthrough,
    passthroughUsage,
    parsed: passthroughUsage ? undefined : parseUpstream(() => adapter.parseChatResponse(text, chat)),
    droppedParameters: upstreamRequest.droppedParameters,
  };
}

/** An upstream stream that has produced its first events and is not yet committed to the client. */
interface OpenedStream {
  readonly response: UpstreamResponse;
  readonly chunks: AsyncIterator<Buffer>;
  readonly parser: SseParser;
  readonly decoder: ChatStreamDecoder;
  /** Decoded items read ahead while checking the stream really started. */
  readonly pending: StreamItem[];
  /** True when the upstream body already ended while reading ahead. */
  readonly ended: boolean;
  readonly droppedParameters: readonly string[] | undefined;
}

/**
 * One streamed attempt, up to its first decoded event: a stream that fails before then (an error status, a reset, an
 * error event, an empty body) fails the attempt and is retried elsewhere; nothing has reached the client yet.
 */
async function openStream(gateway: GatewayContext, chat: ChatRequest, attempt: Attempt): Promise<OpenedStream> {
  const adapter = attempt.deployment.provider.adapter;
  const upstreamRequest = parseUpstream(() => adapter.buildChatRequest(chat, attempt.credential.target));
  const response = await sendForAttempt(gateway, attempt, upstreamRequest);
  const chunks = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const parser = new SseParser();
  const decoder = adapter.createChatStreamDecoder(chat);
  const pending: StreamItem[] = [];
  let ended = false;
  try {
    while (pending.length === 0 && !ended) {
      const next = await chunks.next();
      if (next.done === true) {
        ended = true;
        for (const event of parser.end()) pending.push(...decoder.decode(event));
        if (decoder.end) pending.push(...decoder.end());
      } else {
        for (const event of parser.push(next.value)) pending.push(...decoder.decode(event));
      }
    }
  } catch (error) {
    response.body.destroy();
    throw toUpstreamError(toGatewayError(error));
  }
  if (pending.length === 0 || pending[0]?.kind === 'done') {
    response.body.destroy();
    throw new AppError('upstream_error', 'the upstream stream ended before its first event', { isRetryable: true });
  }
  return { response, chunks, parser, decoder, pending, ended, droppedParameters: upstreamRequest.droppedParameters };
}

/** Which deployment answered, after how many attempts, and what AI Hub itself added to the time (not upstreams). */
export function setRoutingHeaders(
  request: FastifyRequest,
  reply: FastifyReply,
  routed: Routed<unknown>,
  droppedParameters?: readonly string[],
): void {
  reply.header(deploymentHeader, routed.attempt.deployment.id);
  reply.header(attemptsHeader, String(routed.attempts));
  const overhead = performance.now() - request.receivedAt - routed.upstreamMs;
  reply.header(overheadHeader, Math.max(0, overhead).toFixed(2));
  if (droppedParameters?.length) reply.header(droppedParametersHeader, droppedParameters.join(', '));
}

/** The text of one upstream choice, whatever shape an upstream gave it (a count must not fail on it). */
function completionText(choice: ChatChoice | null): string {
  const content = choice?.message?.content;
  return typeof content === 'string' ? content : '';
}

async function countChatUsage(gateway: GatewayContext, chat: ChatRequest, completionText: string): Promise<TokenUsage> {
  const [promptTokens, completionTokens] = await Promise.all([
    gateway.tokenCounter.countMessages(collectMessageTexts(chat.messages)),
    gateway.tokenCounter.count(completionText),
  ]);
  return { promptTokens, completionTokens, cachedTokens: 0 };
}

interface StreamRelay {
  call: ChatCall;
  routed: Routed<OpenedStream>;
  meter: RequestMeter;
  gateway: GatewayContext;
  signal: AbortSignal;
}

/**
 * Pipes an upstream stream to the client event by event as it arrives, translated by the inbound codec's encoder.
 * The usage record is written before the closing event goes out, so a client that saw the end of a stream always
 * has its record. From here on nothing is retried: the client has the first bytes.
 */
async function relayStream(request: FastifyRequest, reply: FastifyReply, relay: StreamRelay): Promise<void> {
  const { call, routed, meter, gateway, signal } = relay;
  const { response, chunks, parser, decoder, pending, ended } = routed.value;
  const encoder = call.codec.createStreamEncoder(call.chat, call.chat.model);
  const delivered: string[] = [];
  let usage: TokenUsage | undefined;

  // Until the upstream reports usage, checkpoints estimate the prompt at four characters a token, so a stream cut by a
  // crash is not recorded as free of input.
  meter.recordProgress({ promptTokens: estimatePromptTokens(call.chat), completionTokens: 0, cachedTokens: 0 });

  reply.hijack();
  const raw = reply.raw;
  // Headers set so far (request id, routing, rate limits) go out with the stream's own.
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (typeof value === 'string') headers[name] = value;
  }
  headers['content-type'] = 'text/event-stream; charset=utf-8';
  headers['cache-control'] = 'no-cache';
  headers.connection = 'keep-alive';
  raw.writeHead(200, headers);

  /** Encodes items; returns the text and whether the stream is complete. */
  const encodeItems = async (items: StreamItem[]): Promise<{ output: string; done: boolean }> => {
    let output = '';
    for (const item of items) {
      if (item.kind === 'done') {
        // The record goes to the journal before the closing event can reach the client.
        if (usage === undefined) {
          recordCompletion(meter, signal, await countChatUsage(gateway, call.chat, delivered.join('')), 'counted');
        } else {
          recordCompletion(meter, signal, usage, 'upstream');
        }
        return { output: output + encoder.encode(item), done: true };
      }
      meter.markFirstToken();
      for (const choice of item.chunk.choices) {
        const content = (choice as ChatChunkChoice | null)?.delta?.content;
        if (typeof content === 'string') delivered.push(content);
      }
      if (item.kind === 'usage') {
        usage = item.usage;
        meter.recordProgress(usage);
      }
      output += encoder.encode(item);
    }
    return { output, done: false };
  };

  try {
    let items = pending;
    for (;;) {
      const { output, done } = await encodeItems(items);
      if (done) {
        raw.end(output);
        response.body.destroy();
        return;
      }
      if (output && !raw.write(output)) await once(raw, 'drain', { signal });
      if (ended) break;
      const next = await chunks.next();
      if (next.done === true) break;
      items = [];
      for (const event of parser.push(next.value)) items.push(...decoder.decode(event));
    }
    const trailing: StreamItem[] = [];
    if (!ended) {
      for (const event of parser.end()) trailing.push(...decoder.decode(event));
      if (decoder.end) trailing.push(...decoder.end());
    }
    const { output, done } = await encodeItems(trailing);
    if (!done) throw new AppError('upstream_error', 'the upstream stream ended before it was complete');
    raw.end(output);
  } catch (caught) {
    // Transport failures while reading the body (socket dropped, body timeout) belong to the upstream, as they do
    // before the stream starts.
    const error = toUpstreamError(toGatewayError(caught));
    const failure = describeFailure(error, signal);
    const countedUsage = usage ?? (await countChatUsage(gateway, call.chat, delivered.join('')));
    meter.finish({
      status: failure.status,
      outcome: failure.outcome,
      usage: countedUsage,
      usageSource: usage ? 'upstream' : 'counted',
      errorCode: failure.code,
    });
    response.body.destroy();
    if (!raw.destroyed && !raw.writableEnded) {
      raw.end(encoder.encodeError(isAppError(error) ? error : new AppError('internal_error', 'the stream failed')));
    }
  }
}

function estimatePromptTokens(chat: ChatRequest): number {
  let characters = 0;
  for (const text of collectMessageTexts(chat.messages)) characters += text.length;
  return Math.ceil(characters / 4);
}
