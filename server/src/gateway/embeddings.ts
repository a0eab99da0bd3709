import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors/app-error.ts';
import { editTopLevelMembers } from '../providers/openai/top-level-members.ts';
import type { EmbeddingsRequest, JsonValue } from '../providers/spec/openai-types.ts';
import { attemptsHeader, setRoutingHeaders } from './chat-pipeline.ts';
import {
  fetchForAttempt,
  resolveModelFor,
  routeFor,
  type GatewayContext,
  type TrackedRoute,
} from './gateway-context.ts';
import { RequestMeter } from './meter/request-meter.ts';
import type { Attempt } from './routing/router.ts';
import { rejectDeeplyNestedBody } from './nesting-depth.ts';
import { EmbeddingsBodySchema } from './request-schemas.ts';
import { recordCompletion, recordFailure, watchClientDisconnect } from './request-lifecycle.ts';
import { parseUpstream } from './parse-upstream.ts';

export function registerEmbeddings(app: FastifyInstance, gateway: GatewayContext): void {
  app.post(
    '/v1/embeddings',
    { schema: { body: EmbeddingsBodySchema }, preValidation: rejectDeeplyNestedBody },
    async (request, reply) => {
      const body = request.body as EmbeddingsRequest;
      const meter = new RequestMeter(gateway.journal, {
        requestId: request.id,
        keyId: request.principal.keyId,
        admission: request.admission,
        endpoint: 'embeddings',
        streamed: false,
      });
      meter.setRequestedModel(body.model);
      const disconnect = watchClientDisconnect(reply);
      let route: TrackedRoute | undefined;
      try {
        const table = gateway.registry.table;
        const principal = request.principal;
        const model = resolveModelFor(table, principal, body.model, 'embedding');
        route = routeFor(table, principal, model, disconnect.signal, meter);
        const routed = await gateway.router.route(route, (attempt) => fetchEmbeddings(gateway, body, attempt));
        routed.done();
        const { text, parsed, wireFormat } = routed.value;
        setRoutingHeaders(request, reply, routed);
        const usage = parsed.usage ?? {
          promptTokens: await countEmbeddingInput(gateway, body.input),
          completionTokens: 0,
          cachedTokens: 0,
        };
        recordCompletion(meter, disconnect.signal, usage, parsed.usage ? 'upstream' : 'counted');
        // Like chat responses, embeddings name the model the client asked for, not the upstream's.
        const payload =
          wireFormat === 'openai'
            ? (editTopLevelMembers(text, { model: body.model, dropNullUsage: false }) ?? text)
            : JSON.stringify({ ...parsed.response, model: body.model });
        return reply.code(200).header('content-type', 'application/json').send(payload);
      } catch (error) {
        recordFailure(meter, error, disconnect.signal);
        if (route && route.attempts > 0) reply.header(attemptsHeader, String(route.attempts));
        throw error;
      } finally {
        disconnect.dispose();
      }
    },
  );
}

/** One attempt at one deployment; a deployment whose provider has no embeddings API is not a failure to retry. */
async function fetchEmbeddings(gateway: GatewayContext, body: EmbeddingsRequest, attempt: Attempt) {
  const adapter = attempt.deployment.provider.adapter;
  const embeddingsAdapter = adapter.embeddings;
  if (!embeddingsAdapter) {
    throw new AppError('invalid_request', `the model "${body.model}" is served by a provider without embeddings`, {
      param: 'model',
    });
  }
  const upstreamRequest = parseUpstream(() => embeddingsAdapter.buildRequest(body, attempt.credential.target));
  const { text } = await fetchForAttempt(gateway, attempt, upstreamRequest);
  return {
    text,
    parsed: parseUpstream(() => embeddingsAdapter.parseResponse(text, body)),
    wireFormat: adapter.wireFormat,
  };
}

/** Strings are tokenized; token-array inputs (one array of ids, or several) are already tokens, counted by length. */
async function countEmbeddingInput(gateway: GatewayContext, input: JsonValue): Promise<number> {
  if (typeof input === 'string') return gateway.tokenCounter.count(input);
  if (!Array.isArray(input)) return 0;
  const texts = input.filter((item): item is string => typeof item === 'string');
  let tokens = texts.length > 0 ? await gateway.tokenCounter.count(texts.join('\n')) : 0;
  for (const item of input) {
    if (typeof item === 'number') tokens += 1;
    else if (Array.isArray(item)) tokens += item.length;
  }
  return tokens;
}
