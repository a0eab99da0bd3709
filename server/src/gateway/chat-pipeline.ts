import { once } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../errors/app-error.ts';
import { SseParser } from '../lib/sse-parser.ts';
import type { InboundCodec } from '../providers/spec/inbound-codec.ts';
import type { ChatChoice, ChatChunkChoice, ChatRequest } from '../providers/spec/openai-types.ts';
import type { StreamItem, TokenUsage } from '../providers/spec/provider-adapter.ts';
import { resolveModelFor, type GatewayContext } from './gateway-context.ts';
import { collectMessageTexts } from './meter/message-text.ts';
import { RequestMeter } from './meter/request-meter.ts';
import { pickDeployment, type Deployment } from './model-catalog.ts';
import { parseUpstream, toGatewayError } from './parse-upstream.ts';
import { describeFailure, recordCompletion, recordFailure, watchClientDisconnect } from './request-lifecycle.ts';
import { throwUpstreamError, toUpstreamError, upstreamErrorFrom, type UpstreamResponse } from './upstream-client.ts';

export interface ChatCall {
  readonly codec: InboundCodec<never>;
  /** The request in the internal (OpenAI) shape, decoded by the codec. */
  readonly chat: ChatRequest;
  /** Usage-record endpoint name, e.g. `chat.completions` or `messages`. */
  readonly endpoint: string;
}

/** Header telling the client which request fields the chosen provider could not take and were dropped. */
export const droppedParametersHeader = 'x-aihub-dropped-parameters';

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
    endpoint: call.endpoint,
    streamed: chat.stream === true,
  });
  meter.setRequestedModel(chat.model);
  const disconnect = watchClientDisconnect(reply);
  try {
    const model = resolveModelFor(gateway.catalog, request.principal, chat.model, 'chat');
    const deployment = pickDeployment(model);
    meter.setTarget(model, deployment);
    const { config: provider, adapter } = deployment.provider;
    const upstreamRequest = parseUpstream(() => adapter.buildChatRequest(chat, deployment.target));
    if (upstreamRequest.droppedParameters?.length) {
      reply.header(droppedParametersHeader, upstreamRequest.droppedParameters.join(', '));
    }
    if (chat.stream === true) {
      const response = await gateway.upstream.send(provider, upstreamRequest, disconnect.signal);
      if (response.statusCode >= 400) await throwUpstreamError(response, adapter);
      await relayStream(request, reply, { call, deployment, response, meter, gateway, signal: disconnect.signal });
      return reply;
    }
    const response = await gateway.upstream.fetchText(provider, upstreamRequest, disconnect.signal);
    if (response.statusCode >= 400) throw upstreamErrorFrom(response, adapter);
    const text = response.text;
    const passthrough =
      codec.format === 'openai' && adapter.wireFormat === 'openai' && adapter.passthroughResponses !== false;
    const passthroughUsage = passthrough ? adapter.readPassthroughUsage?.(text) : undefined;
    if (passthroughUsage) {
      recordCompletion(meter, disconnect.signal, passthroughUsage, 'upstream');
      const payload = codec.encodePassthroughResponse?.(text, chat.model) ?? text;
      return reply.code(200).header('content-type', 'application/json').send(payload);
    }
    const parsed = parseUpstream(() => adapter.parseChatResponse(text, chat));
    const usage =
      parsed.usage ?? (await countChatUsage(gateway, chat, parsed.completion.choices.map(completionText).join('')));
    recordCompletion(meter, disconnect.signal, usage, parsed.usage ? 'upstream' : 'counted');
    const payload = passthrough
      ? (codec.encodePassthroughResponse?.(text, chat.model) ?? text)
      : JSON.stringify(codec.encodeResponse(parsed.completion, usage, chat.model));
    return reply.code(200).header('content-type', 'application/json').send(payload);
  } catch (error) {
    recordFailure(meter, error, disconnect.signal);
    throw error;
  } finally {
    disconnect.dispose();
  }
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
  deployment: Deployment;
  response: UpstreamResponse;
  meter: RequestMeter;
  gateway: GatewayContext;
  signal: AbortSignal;
}

/**
 * Pipes an upstream stream to the client event by event as it arrives, translated by the inbound codec's encoder.
 * The usage record is written before the closing event goes out, so a client that saw the end of a stream always
 * has its record.
 */
async function relayStream(request: FastifyRequest, reply: FastifyReply, relay: StreamRelay): Promise<void> {
  const { call, deployment, response, meter, gateway, signal } = relay;
  const decoder = deployment.provider.adapter.createChatStreamDecoder(call.chat);
  const encoder = call.codec.createStreamEncoder(call.chat, call.chat.model);
  const parser = new SseParser();
  const delivered: string[] = [];
  let usage: TokenUsage | undefined;

  // Until the upstream reports usage, checkpoints estimate the prompt at four characters a token, so a stream cut by a
  // crash is not recorded as free of input.
  meter.recordProgress({ promptTokens: estimatePromptTokens(call.chat), completionTokens: 0, cachedTokens: 0 });

  reply.hijack();
  const raw = reply.raw;
  const headers: Record<string, string> = {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': request.id,
  };
  const dropped = reply.getHeader(droppedParametersHeader);
  if (typeof dropped === 'string') headers[droppedParametersHeader] = dropped;
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
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      const items: StreamItem[] = [];
      for (const event of parser.push(chunk)) items.push(...decoder.decode(event));
      const { output, done } = await encodeItems(items);
      if (done) {
        raw.end(output);
        response.body.destroy();
        return;
      }
      if (output && !raw.write(output)) await once(raw, 'drain', { signal });
    }
    const trailing: StreamItem[] = [];
    for (const event of parser.end()) trailing.push(...decoder.decode(event));
    if (decoder.end) trailing.push(...decoder.end());
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
