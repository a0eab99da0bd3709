import type { AppError } from '../../errors/app-error.ts';
import type { ChatChunkChoice, ToolCallDelta } from '../spec/openai-types.ts';
import type { InboundStreamEncoder } from '../spec/inbound-codec.ts';
import type { StreamItem, TokenUsage } from '../spec/provider-adapter.ts';
import { anthropicUsageFrom, errorTypeForStatus, stopReasonFor } from './anthropic-mappings.ts';
import type { AnthropicContentBlock, AnthropicStopReason, AnthropicStreamEvent } from './anthropic-types.ts';

type OpenBlock =
  | { readonly type: 'text' | 'thinking'; readonly index: number }
  | { readonly type: 'tool_use'; readonly index: number; readonly toolIndex: number };

/**
 * Internal stream items → Anthropic SSE events, for Anthropic SDK clients. OpenAI chunks carry no block structure,
 * so blocks are opened as the delta kind changes (a new kind closes the previous block). The final message_delta
 * must carry real usage, which OpenAI-style upstreams send after the finish_reason chunk, so it waits until both the
 * stop reason and usage are known, or until the stream is done.
 */
export class AnthropicStreamEncoder implements InboundStreamEncoder {
  readonly #requestedModel: string;
  #started = false;
  #finished = false;
  #openBlock: OpenBlock | undefined;
  #nextBlockIndex = 0;
  #stopReason: AnthropicStopReason | undefined;
  #usage: TokenUsage | undefined;
  #messageDeltaSent = false;

  constructor(requestedModel: string) {
    this.#requestedModel = requestedModel;
  }

  encode(item: StreamItem): string {
    if (this.#finished) return '';
    let output = this.#started ? '' : this.#messageStart(item.kind === 'done' ? undefined : item.chunk.id);
    if (item.kind === 'done') {
      this.#finished = true;
      return output + this.#closeBlock() + this.#messageDelta() + formatEvent({ type: 'message_stop' });
    }
    if (item.kind === 'usage') this.#usage = item.usage;
    for (const choice of item.chunk.choices) {
      if (choice.index === 0) output += this.#encodeChoice(choice);
    }
    if (this.#stopReason !== undefined && this.#usage !== undefined) output += this.#messageDelta();
    return output;
  }

  encodeError(error: AppError): string {
    this.#finished = true;
    return formatEvent({ type: 'error', error: { type: errorTypeForStatus(error.status), message: error.message } });
  }

  #messageStart(chunkId: string | undefined): string {
    this.#started = true;
    const id = chunkId === undefined ? `msg_${Date.now().toString(36)}` : anthropicMessageId(chunkId);
    return formatEvent({
      type: 'message_start',
      message: {
        id,
        type: 'message',
        role: 'assistant',
        content: [],
        model: this.#requestedModel,
        stop_reason: null,
        stop_sequence: null,
        // Input counts are not known until the upstream's usage arrives; message_delta carries them.
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  #encodeChoice(choice: ChatChunkChoice): string {
    const delta = choice.delta ?? {};
    let output = '';
    if (delta.reasoning_content) {
      output += this.#ensureBlock('thinking');
      output += this.#blockDelta({ type: 'thinking_delta', thinking: delta.reasoning_content });
    }
    if (delta.reasoning_signature) {
      output += this.#ensureBlock('thinking');
      output += this.#blockDelta({ type: 'signature_delta', signature: delta.reasoning_signature });
    }
    if (delta.content) {
      output += this.#ensureBlock('text');
      output += this.#blockDelta({ type: 'text_delta', text: delta.content });
    }
    for (const call of delta.tool_calls ?? []) output += this.#encodeToolCall(call);
    if (choice.finish_reason) {
      this.#stopReason = stopReasonFor(choice.finish_reason);
      output += this.#closeBlock();
    }
    return output;
  }

  /** A delta with an id, or for another tool index, starts a new tool_use block; the rest are argument fragments. */
  #encodeToolCall(call: ToolCallDelta): string {
    let output = '';
    const open = this.#openBlock;
    if (call.id !== undefined || open?.type !== 'tool_use' || open.toolIndex !== call.index) {
      output += this.#closeBlock();
      const index = this.#nextBlockIndex++;
      this.#openBlock = { type: 'tool_use', index, toolIndex: call.index };
      const block: AnthropicContentBlock = {
        type: 'tool_use',
        id: call.id ?? `toolu_${index}`,
        name: call.function?.name ?? '',
        input: {},
      };
      output += formatEvent({ type: 'content_block_start', index, content_block: block });
    }
    const fragment = call.function?.arguments;
    if (fragment) output += this.#blockDelta({ type: 'input_json_delta', partial_json: fragment });
    return output;
  }

  #ensureBlock(type: 'text' | 'thinking'): string {
    if (this.#openBlock?.type === type) return '';
    const output = this.#closeBlock();
    const index = this.#nextBlockIndex++;
    this.#openBlock = { type, index };
    const block: AnthropicContentBlock =
      type === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
    return output + formatEvent({ type: 'content_block_start', index, content_block: block });
  }

  #blockDelta(delta: Extract<AnthropicStreamEvent, { type: 'content_block_delta' }>['delta']): string {
    return formatEvent({ type: 'content_block_delta', index: this.#openBlock?.index ?? 0, delta });
  }

  #closeBlock(): string {
    if (this.#openBlock === undefined) return '';
    const { index } = this.#openBlock;
    this.#openBlock = undefined;
    return formatEvent({ type: 'content_block_stop', index });
  }

  #messageDelta(): string {
    if (this.#messageDeltaSent) return '';
    this.#messageDeltaSent = true;
    const usage = anthropicUsageFrom(this.#usage ?? { promptTokens: 0, completionTokens: 0, cachedTokens: 0 });
    return formatEvent({
      type: 'message_delta',
      delta: { stop_reason: this.#stopReason ?? 'end_turn', stop_sequence: null },
      usage,
    });
  }
}

/** Anthropic SDKs and logs expect message ids to look like Anthropic's. */
export function anthropicMessageId(id: string): string {
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

function formatEvent(event: AnthropicStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
