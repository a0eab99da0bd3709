import { anthropicInboundCodec } from './anthropic/inbound-codec.ts';
import { openAiInboundCodec } from './openai/inbound-codec.ts';
import type { InboundCodec } from './spec/inbound-codec.ts';
import type { WireFormat } from './spec/provider-adapter.ts';

/** Client-facing formats the gateway speaks; a route names its format and errors are shaped to match. */
export type InboundFormat = Extract<WireFormat, 'openai' | 'anthropic'>;

const codecs: Record<InboundFormat, InboundCodec<never>> = {
  openai: openAiInboundCodec,
  anthropic: anthropicInboundCodec,
};

export function inboundCodecFor(format: InboundFormat): InboundCodec<never> {
  return codecs[format];
}
