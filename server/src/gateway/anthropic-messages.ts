import type { FastifyInstance } from 'fastify';
import {
  AnthropicCountTokensRequestSchema,
  AnthropicMessagesRequestSchema,
  anthropicInboundCodec,
  countTokensInput,
} from '../providers/anthropic/inbound-codec.ts';
import type { AnthropicMessagesRequest } from '../providers/anthropic/anthropic-types.ts';
import { runChat } from './chat-pipeline.ts';
import { resolveModelFor, type GatewayContext } from './gateway-context.ts';
import { rejectDeeplyNestedBody } from './nesting-depth.ts';
import { parseUpstream } from './parse-upstream.ts';

/**
 * Anthropic's Messages API in front of any provider, so Anthropic SDK clients work unchanged. Errors on these routes
 * come back in Anthropic's shape.
 */
export function registerAnthropicMessages(app: FastifyInstance, gateway: GatewayContext): void {
  app.post(
    '/v1/messages',
    {
      schema: { body: AnthropicMessagesRequestSchema },
      preValidation: rejectDeeplyNestedBody,
      config: { errorFormat: 'anthropic' },
    },
    (request, reply) =>
      runChat(gateway, request, reply, {
        codec: anthropicInboundCodec,
        // Decoding rejects what the internal shape cannot carry (server tools, stray blocks) with UnsupportedRequest,
        // which must become a 400 here just as the adapters' rejections do.
        chat: parseUpstream(() => anthropicInboundCodec.decodeRequest(request.body as AnthropicMessagesRequest)),
        endpoint: 'messages',
      }),
  );

  app.post(
    '/v1/messages/count_tokens',
    {
      schema: { body: AnthropicCountTokensRequestSchema },
      preValidation: rejectDeeplyNestedBody,
      config: { errorFormat: 'anthropic' },
    },
    async (request) => {
      const body = request.body as AnthropicMessagesRequest;
      resolveModelFor(gateway.registry.table, request.principal, body.model, 'chat');
      // Counted with our tokenizer: exact for OpenAI's current models, an estimate for the others.
      return { input_tokens: await gateway.tokenCounter.countMessages(countTokensInput(body)) };
    },
  );
}
