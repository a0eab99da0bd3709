import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../errors/app-error.ts';
import { SseParser } from '../lib/sse-parser.ts';
import type { ChatRequest } from '../providers/spec/openai-types.ts';
import type { TokenUsage } from '../providers/spec/provider-adapter.ts';
import { parseUpstream, toGatewayError } from './parse-upstream.ts';
import { resolveModelFor, type GatewayContext } from './gateway-context.ts';
import { collectMessageTexts } from './meter/message-text.ts';
import { RequestMeter } from './meter/request-meter.ts';
import { pickDeployment, type Deployment } from './model-catalog.ts';
import { ChatCompletionBodySchema } from './request-schemas.ts';
import { readBody, upstreamStatusError, type UpstreamResponse } from './upstream-client.ts';
import { describeFailure, watchClientDisconnect } from './request-lifecycle.ts';

const doneEvent = 'data: [DONE]\n\n';

export function registerChatCompletions(app: FastifyInstance, gateway: GatewayContext): void {
  app.post('/v1/chat/completions', { schema: { body: ChatCompletionBodySchema } }, async (request, reply) => {
    const body = request.body as ChatRequest;
    const meter = new RequestMeter(gateway.journal, {
      requestId: request.id,
      keyId: request.principal.keyId,
      endpoint: 'chat.completions',
      streamed: body.stream === true,
    });
    meter.setRequestedModel(body.model);
    const disconnect = watchClientDisconnect(reply);
    try {
      const model = resolveModelFor(gateway.catalog, request.principal, body.model, 'chat');
      const deployment = pickDeployment(model);
      meter.setTarget(model, deployment);
      const { config: provider, adapter } = deployment.provider;
      const upstreamRequest = adapter.buildChatRequest(body, deployment.target);
      const response = await gateway.upstream.send(provider, upstreamRequest, disconnect.signal);
      if (response.statusCode >= 400) await throwUpstreamError(response, deployment);
      if (body.stream === true) {
        await relayStream(request, reply, { body, deployment, response, meter, gateway, signal: disconnect.signal });
        return reply;
      }
      const text = await readBody(response.body);
      const parsed = parseUpstream(() => deployment.provider.adapter.parseChatResponse(text, body));
      const usage =
        parsed.usage ??
        (await countChatUsage(
          gateway,
          body,
          parsed.completion.choices.map((choice) => choice.message?.content ?? '').join(''),
        ));
      meter.finish({ status: 200, outcome: 'success', usage, usageSource: parsed.usage ? 'upstream' : 'counted' });
      const payload = adapter.wireFormat === 'openai' ? text : JSON.stringify(parsed.completion);
      return reply.code(200).header('content-type', 'application/json').send(payload);
    } catch (error) {
      if (!meter.finished) {
        const failure = describeFailure(error, disconnect.signal);
        meter.finish({
          status: failure.status,
          outcome: failure.outcome,
          usage: undefined,
          usageSource: 'none',
          errorCode: failure.code,
        });
      }
      throw error;
    } finally {
      disconnect.dispose();
    }
  });
}

async function throwUpstreamError(response: UpstreamResponse, deployment: Deployment): Promise<never> {
  const text = await readBody(response.body);
  const details = deployment.provider.adapter.parseError(response.statusCode, text);
  const retryAfter = response.headers['retry-after'];
  throw upstreamStatusError(
    response.statusCode,
    details.message,
    typeof retryAfter === 'string' ? retryAfter : undefined,
  );
}

async function countChatUsage(gateway: GatewayContext, body: ChatRequest, completionText: string): Promise<TokenUsage> {
  const [promptTokens, completionTokens] = await Promise.all([
    gateway.tokenCounter.countMessages(collectMessageTexts(body.messages)),
    gateway.tokenCounter.count(completionText),
  ]);
  return { promptTokens, completionTokens, cachedTokens: 0 };
}

interface StreamRelay {
  body: ChatRequest;
  deployment: Deployment;
  response: UpstreamResponse;
  meter: RequestMeter;
  gateway: GatewayContext;
  signal: AbortSignal;
}

/**
 * Pipes an upstream stream to the client event by event as it arrives. Usage is taken from the upstream's usage
 * chunk (always requested); the client sees that chunk only if it asked for it. The usage record is written before
 * the closing `[DONE]`, so a client that saw the end of a stream always has its record.
 */
async function relayStream(request: FastifyRequest, reply: FastifyReply, relay: StreamRelay): Promise<void> {
  const { body, deployment, response, meter, gateway, signal } = relay;
  const clientWantsUsage = body.stream_options?.include_usage === true;
  const decoder = deployment.provider.adapter.createChatStreamDecoder(body);
  const passthrough = deployment.provider.adapter.wireFormat === 'openai';
  const parser = new SseParser();
  const delivered: string[] = [];
  let usage: TokenUsage | undefined;
  let sawDone = false;

  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-request-id': request.id,
  });

  const finishSuccess = (): void => {
    meter.finish({ status: 200, outcome: 'success', usage, usageSource: 'upstream' });
  };

  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      let output = '';
      for (const event of parser.push(chunk)) {
        for (const item of decoder.decode(event)) {
          if (item.kind === 'done') {
            sawDone = true;
            continue;
          }
          meter.markFirstToken();
          for (const choice of item.chunk.choices) {
            const content = choice.delta?.content;
            if (typeof content === 'string') delivered.push(content);
          }
          if (item.kind === 'usage') {
            usage = item.usage;
            if (!clientWantsUsage) {
              if (item.chunk.choices.length === 0) continue;
              delete item.chunk.usage;
              output += `data: ${JSON.stringify(item.chunk)}\n\n`;
              continue;
            }
          }
          output += `data: ${passthrough && item.raw !== undefined ? item.raw : JSON.stringify(item.chunk)}\n\n`;
        }
      }
      if (sawDone) {
        if (usage === undefined) {
          usage = await countChatUsage(gateway, body, delivered.join(''));
          meter.finish({ status: 200, outcome: 'success', usage, usageSource: 'counted' });
        } else {
          finishSuccess();
        }
        raw.end(output + doneEvent);
        return;
      }
      if (output && !raw.write(output)) await waitForDrain(raw, signal);
    }
    for (const event of parser.end()) decoder.decode(event);
    throw new AppError('upstream_error', 'the upstream stream ended before it was complete');
  } catch (caught) {
    const error = toGatewayError(caught);
    const failure = describeFailure(error, signal);
    const countedUsage = await countChatUsage(gateway, body, delivered.join(''));
    meter.finish({
      status: failure.status,
      outcome: failure.outcome,
      usage: countedUsage,
      usageSource: 'counted',
      errorCode: failure.code,
    });
    response.body.destroy();
    if (!raw.destroyed && !raw.writableEnded) {
      const wire = isAppError(error) ? error : new AppError('internal_error', 'the stream failed');
      raw.end(
        `data: ${JSON.stringify({ error: { message: wire.message, type: wire.type, param: null, code: wire.wireCode } })}\n\n`,
      );
    }
  }
}

async function waitForDrain(raw: ServerResponse, signal: AbortSignal): Promise<void> {
  await once(raw, 'drain', { signal });
}
