import type { AppError } from '../../errors/app-error.ts';
import type { InboundCodec, InboundStreamEncoder } from '../spec/inbound-codec.ts';
import type { ChatCompletionChunk, ChatRequest } from '../spec/openai-types.ts';
import type { StreamItem } from '../spec/provider-adapter.ts';
import { editTopLevelMembers } from './top-level-members.ts';

const doneEvent = 'data: [DONE]\n\n';

/**
 * OpenAI chat clients: the internal shape is already theirs, so decoding is the identity and upstream bytes are
 * forwarded with two edits. Responses name the model the client asked for (an alias stays the alias), never the
 * upstream's own name. And usage is always requested upstream (metering needs it), so a client that did not ask for
 * `stream_options.include_usage` gets neither the usage chunk nor the `"usage":null` OpenAI puts on the others.
 */
export const openAiInboundCodec: InboundCodec<ChatRequest> = {
  format: 'openai',
  decodeRequest: (body) => body,
  encodeResponse: (completion, _usage, requestedModel) => ({ ...completion, model: requestedModel }),
  encodePassthroughResponse: (body, requestedModel) =>
    editTopLevelMembers(body, { model: requestedModel, dropNullUsage: false }) ?? body,
  createStreamEncoder(request, requestedModel): InboundStreamEncoder {
    const clientWantsUsage = request.stream_options?.include_usage === true;
    const serialize = (chunk: ChatCompletionChunk): string => {
      if (clientWantsUsage || chunk.usage !== null) return JSON.stringify({ ...chunk, model: requestedModel });
      const { usage: _null, ...withoutUsage } = chunk;
      return JSON.stringify({ ...withoutUsage, model: requestedModel });
    };
    const forward = (item: Extract<StreamItem, { kind: 'chunk' | 'usage' }>): string => {
      const edited =
        item.raw === undefined
          ? undefined
          : editTopLevelMembers(item.raw, { model: requestedModel, dropNullUsage: !clientWantsUsage });
      return `data: ${edited ?? serialize(item.chunk)}\n\n`;
    };
    return {
      encode(item: StreamItem): string {
        switch (item.kind) {
          case 'done':
            return doneEvent;
          case 'chunk':
            return forward(item);
          case 'usage': {
            if (clientWantsUsage) return forward(item);
            if (item.chunk.choices.length === 0) return '';
            // Some upstreams attach usage to the last content chunk: keep the content, hide the usage.
            const { usage: _hidden, ...withoutUsage } = item.chunk;
            return `data: ${JSON.stringify({ ...withoutUsage, model: requestedModel })}\n\n`;
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
