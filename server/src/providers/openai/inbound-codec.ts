import type { AppError } from '../../errors/app-error.ts';
import type { InboundCodec, InboundStreamEncoder } from '../spec/inbound-codec.ts';
import type { ChatRequest } from '../spec/openai-types.ts';
import type { StreamItem } from '../spec/provider-adapter.ts';

const doneEvent = 'data: [DONE]\n\n';

/**
 * OpenAI chat clients: the internal shape is already theirs, so decoding is the identity and chunks that arrived
 * as OpenAI bytes are forwarded unchanged. The one edit: usage is always requested upstream (metering needs it),
 * so a client that did not ask for `stream_options.include_usage` does not get the usage chunk.
 */
export const openAiInboundCodec: InboundCodec<ChatRequest> = {
  format: 'openai',

  decodeRequest: (body) => body,

  encodeResponse: (completion) => completion,

  createStreamEncoder(request): InboundStreamEncoder {
    const clientWantsUsage = request.stream_options?.include_usage === true;
    return {
      encode(item: StreamItem): string {
        switch (item.kind) {
          case 'done':
            return doneEvent;
          case 'chunk':
            return `data: ${item.raw ?? JSON.stringify(item.chunk)}\n\n`;
          case 'usage': {
            if (clientWantsUsage) return `data: ${item.raw ?? JSON.stringify(item.chunk)}\n\n`;
            if (item.chunk.choices.length === 0) return '';
            // Some upstreams attach usage to the last content chunk: keep the content, hide the usage.
            const { usage: _hidden, ...withoutUsage } = item.chunk;
            return `data: ${JSON.stringify(withoutUsage)}\n\n`;
          }
        }
      },
      encodeError: (error) => `data: ${JSON.stringify(encodeOpenAiError(error))}\n\n`,
    };
  },

  encodeError: encodeOpenAiError,
};

export function encodeOpenAiError(error: AppError): unknown {
  return { error: { message: error.message, type: error.type, param: error.param ?? null, code: error.wireCode } };
}
