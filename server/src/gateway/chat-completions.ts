import type { FastifyInstance } from 'fastify';
import { openAiInboundCodec } from '../providers/openai/inbound-codec.ts';
import type { ChatRequest } from '../providers/spec/openai-types.ts';
import { runChat } from './chat-pipeline.ts';
import type { GatewayContext } from './gateway-context.ts';
import { rejectDeeplyNestedBody } from './nesting-depth.ts';
import { ChatCompletionBodySchema } from './request-schemas.ts';

/** `POST /v1/chat/completions`: OpenAI clients, any provider. */
export function registerChatCompletions(app: FastifyInstance, gateway: GatewayContext): void {
  app.post(
    '/v1/chat/completions',
    { schema: { body: ChatCompletionBodySchema }, preValidation: rejectDeeplyNestedBody },
    (request, reply) =>
      runChat(gateway, request, reply, {
        codec: openAiInboundCodec,
        chat: openAiInboundCodec.decodeRequest(request.body as ChatRequest),
        endpoint: 'chat.completions',
      }),
  );
}
