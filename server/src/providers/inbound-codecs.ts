import { openAiInboundCodec } from './openai/inbound-codec.ts';
import type { InboundCodec } from './spec/inbound-codec.ts';
import type { WireFormat } from './spec/provider-adapter.ts';

/** Client-facing formats the gateway speaks; a route names its format and errors are shaped to match. */
export type InboundFormat = Extract<WireFormat, 'openai' | 'anthropic'>;

const codecs: Partial<Record<InboundFormat, InboundCodec<never>>> = {
  openai: openAiInboundCodec,
};

export function inboundCodecFor(format: InboundFormat): InboundCodec<never> {
  const codec = codecs[format];
  if (!codec) throw new Error(`no inbound codec for ${format}`);
  return codec;
}
