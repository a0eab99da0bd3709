import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors/app-error.ts';
import { editTopLevelMembers } from '../providers/openai/top-level-members.ts';
import type { EmbeddingsRequest, JsonValue } from '../providers/spec/openai-types.ts';
import { resolveModelFor, type GatewayContext } from './gateway-context.ts';
import { RequestMeter } from './meter/request-meter.ts';
import { pickDeployment } from './model-catalog.ts';
import { rejectDeeplyNestedBody } from './nesting-depth.ts';
import { EmbeddingsBodySchema } from './request-schemas.ts';
import { upstreamErrorFrom } from './upstream-client.ts';
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
        endpoint: 'embeddings',
        streamed: false,
      });
      meter.setRequestedModel(body.model);
      const disconnect = watchClientDisconnect(reply);
      try {
        const model = resolveModelFor(gateway.catalog, request.principal, body.model, 'embedding');
        const deployment = pickDeployment(model);
        meter.setTarget(model, deployment);
        const { config: provider, adapter } = deployment.provider;
        if (!adapter.embeddings) {
          throw new AppError(
            'invalid_request',
            `the model "${body.model}" is served by a provider without embeddings`,
            {
              param: 'model',
            },
          );
        }
        const embeddingsAdapter = adapter.embeddings;
        const upstreamRequest = parseUpstream(() => embeddingsAdapter.buildRequest(body, deployment.target));
        const response = await gateway.upstream.fetchText(provider, upstreamRequest, disconnect.signal);
        if (response.statusCode >= 400) throw upstreamErrorFrom(response, adapter);
        const text = response.text;
        const parsed = parseUpstream(() => embeddingsAdapter.parseResponse(text, body));
        const usage = parsed.usage ?? {
          promptTokens: await countEmbeddingInput(gateway, body.input),
          completionTokens: 0,
          cachedTokens: 0,
        };
        recordCompletion(meter, disconnect.signal, usage, parsed.usage ? 'upstream' : 'counted');
        // Like chat responses, embeddings name the model the client asked for, not the upstream's.
        const payload =
          adapter.wireFormat === 'openai'
            ? (editTopLevelMembers(text, { model: body.model, dropNullUsage: false }) ?? text)
            : JSON.stringify({ ...parsed.response, model: body.model });
        return reply.code(200).header('content-type', 'application/json').send(payload);
      } catch (error) {
        recordFailure(meter, error, disconnect.signal);
        throw error;
      } finally {
        disconnect.dispose();
      }
    },
  );
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
