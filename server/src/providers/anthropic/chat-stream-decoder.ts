import type { SseEvent } from '../../lib/sse-parser.ts';
import type { ChatChunkChoice, ChatCompletionChunk } from '../spec/openai-types.ts';
import {
  MalformedUpstreamResponse,
  UpstreamStreamError,
  type ChatStreamDecoder,
  type StreamItem,
} from '../spec/provider-adapter.ts';
import { finishReasonFor, openAiUsageFrom, tokenUsageFromAnthropic } from './anthropic-mappings.ts';
import type { AnthropicStreamEvent, AnthropicUsage } from './anthropic-types.ts';
import { isJsonObject, parseJsonObject } from './parse-json-object.ts';

type Delta = NonNullable<ChatChunkChoice['delta']>;

/**
 * Anthropic stream events → OpenAI chunks. Anthropic numbers content blocks across all types while OpenAI numbers
 * tool calls alone, so tool_use blocks are renumbered as they open. Usage arrives in two halves (input counts in
 * message_start, output in message_delta) and is reported once, as a usage chunk, at message_stop.
 */
export class AnthropicChatStreamDecoder implements ChatStreamDecoder {
  #identity: { id: string; created: number; model: string } | undefined;
  #usage: Partial<AnthropicUsage> = {};
  readonly #toolIndexByBlock = new Map<number, number>();
  #stopped = false;

  decode(event: SseEvent): StreamItem[] {
    const data = parseStreamEvent(event.data);
    switch (data.type) {
      case 'message_start':
        this.#identity = {
          id: data.message.id,
          created: Math.floor(Date.now() / 1000),
          model: data.message.model,
        };
        this.#usage = { ...data.message.usage };
        return [this.#chunk({ role: 'assistant', content: '' })];
      case 'content_block_start':
        return this.#startBlock(data);
      case 'content_block_delta':
        return this.#blockDelta(data);
      case 'message_delta':
        if (isJsonObject(data.usage)) this.#usage = { ...this.#usage, ...withoutNulls(data.usage) };
        return [this.#chunk({}, finishReasonFor(data.delta.stop_reason))];
      case 'message_stop': {
        this.#stopped = true;
        const usage = tokenUsageFromAnthropic(this.#usage);
        const chunk: ChatCompletionChunk = { ...this.#chunkBase(), choices: [], usage: openAiUsageFrom(usage) };
        return [{ kind: 'usage', usage, chunk, raw: undefined }, { kind: 'done' }];
      }
      case 'error':
        throw new UpstreamStreamError({ message: data.error.message, type: data.error.type, code: undefined });
      case 'content_block_stop':
      case 'ping':
        return [];
      default:
        // Anthropic may add event types (its versioning policy says so); unknown ones carry nothing we can relay.
        return [];
    }
  }

  end(): StreamItem[] {
    if (!this.#stopped) throw new MalformedUpstreamResponse('the Anthropic stream ended before message_stop');
    return [];
  }

  #startBlock(event: Extract<AnthropicStreamEvent, { type: 'content_block_start' }>): StreamItem[] {
    const block = event.content_block;
    switch (block.type) {
      case 'tool_use': {
        const toolIndex = this.#toolIndexByBlock.size;
        this.#toolIndexByBlock.set(event.index, toolIndex);
        const call = { index: toolIndex, id: block.id, type: 'function' as const };
        return [this.#chunk({ tool_calls: [{ ...call, function: { name: block.name, arguments: '' } }] })];
      }
      case 'text':
        return block.text ? [this.#chunk({ content: block.text })] : [];
      case 'thinking':
        return block.thinking ? [this.#chunk({ reasoning_content: block.thinking })] : [];
      case 'redacted_thinking':
      case 'image':
      case 'document':
      case 'tool_result':
      default:
        // Redacted thinking and server-tool blocks have no place in the OpenAI shape; inputs never appear here.
        return [];
    }
  }

  #blockDelta(event: Extract<AnthropicStreamEvent, { type: 'content_block_delta' }>): StreamItem[] {
    const delta = event.delta;
    switch (delta.type) {
      case 'text_delta':
        return [this.#chunk({ content: delta.text })];
      case 'thinking_delta':
        return [this.#chunk({ reasoning_content: delta.thinking })];
      case 'signature_delta':
        return [this.#chunk({ reasoning_signature: delta.signature })];
      case 'input_json_delta': {
        const toolIndex = this.#toolIndexByBlock.get(event.index);
        // The first fragment is often empty; an empty arguments delta tells the client nothing.
        if (toolIndex === undefined || delta.partial_json === '') return [];
        return [this.#chunk({ tool_calls: [{ index: toolIndex, function: { arguments: delta.partial_json } }] })];
      }
      default:
        return [];
    }
  }

  #chunkBase(): Pick<ChatCompletionChunk, 'id' | 'object' | 'created' | 'model'> {
    if (!this.#identity) throw new MalformedUpstreamResponse('the Anthropic stream did not start with message_start');
    return { object: 'chat.completion.chunk', ...this.#identity };
  }

  #chunk(delta: Delta, finishReason: ChatChunkChoice['finish_reason'] = null): StreamItem {
    const chunk: ChatCompletionChunk = {
      ...this.#chunkBase(),
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    };
    return { kind: 'chunk', chunk, raw: undefined };
  }
}

/** The fields each event type is read by; a missing one makes the event malformed rather than a crash. */
const requiredObjectField: Partial<Record<string, string>> = {
  message_start: 'message',
  content_block_start: 'content_block',
  content_block_delta: 'delta',
  message_delta: 'delta',
  error: 'error',
};

function parseStreamEvent(text: string): AnthropicStreamEvent {
  const data = parseJsonObject(text);
  const type = data.type;
  if (typeof type !== 'string') throw new MalformedUpstreamResponse('Anthropic stream event without a type');
  const field = requiredObjectField[type];
  if (field !== undefined && !isJsonObject(data[field])) {
    throw new MalformedUpstreamResponse(`Anthropic ${type} event without ${field}`);
  }
  return data as unknown as AnthropicStreamEvent;
}

/** message_delta may send null for counts it does not repeat; those must not erase message_start's numbers. */
function withoutNulls(usage: Partial<AnthropicUsage>): Partial<AnthropicUsage> {
  return Object.fromEntries(Object.entries(usage).filter(([, value]) => value !== null && value !== undefined));
}
