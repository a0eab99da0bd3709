import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors/app-error.ts';
import type { EmbeddingsRequest, JsonValue } from '../providers/spec/openai-types.ts';
import { resolveModelFor, type GatewayContext } from './gateway-context.ts';
import { RequestMeter } from './meter/request-meter.ts';
import { pickDeployment } from './model-catalog.ts';
import { rejectDeeplyNestedBody } from './nesting-depth.ts';
import { EmbeddingsBodySchema } from './request-schemas.ts';
import { upstreamErrorFrom } from './upstream-client.ts';
import { recordFailure, watchClientDisconnect } from './request-lifecycle.ts';
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
          promptTokens: await gateway.tokenCounter.count(embeddingInputText(body.input)),
          completionTokens: 0,
          cachedTokens: 0,
        };
        meter.finish({ status: 200, outcome: 'success', usage, usageSource: parsed.usage ? 'upstream' : 'counted' });
        const payload = adapter.wireFormat === 'openai' ? text : JSON.stringify(parsed.response);
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

/** Token-array inputs are counted by their length; strings are tokenized. */
function embeddingInputText(input: JsonValue): string {
  if (typeof input === 'string') return input;
  if (Array.isArray(input)) return input.map((item) => (typeof item === 'string' ? item : '')).join('\n');
  return '';
}
