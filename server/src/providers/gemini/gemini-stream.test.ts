import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SseParser } from '../../lib/sse-parser.ts';
import type { ChatRequest } from '../spec/openai-types.ts';
import { MalformedUpstreamResponse, UpstreamStreamError, type StreamItem } from '../spec/provider-adapter.ts';
import { geminiAdapter } from './gemini-adapter.ts';

const request: ChatRequest = { model: 'gemini-flash', messages: [{ role: 'user', content: 'Hi' }], stream: true };

const readStream = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`./fixtures/streams/${name}`, import.meta.url)));

/** Feeds the bytes through SseParser in pieces of `chunkSize`, as the gateway does, and ends the stream. */
function decode(bytes: Uint8Array, chunkSize: number): StreamItem[] {
  const parser = new SseParser();
  const decoder = geminiAdapter.createChatStreamDecoder(request);
  const items: StreamItem[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    for (const event of parser.push(bytes.slice(offset, offset + chunkSize))) items.push(...decoder.decode(event));
  }
  for (const event of parser.end()) items.push(...decoder.decode(event));
  items.push(...(decoder.end?.() ?? []));
  return items;
}

const chunkSizes = [1, 2, 5, 17, 64, 100_000];

function decodeInEveryChunking(name: string): StreamItem[] {
  const bytes = readStream(name);
  const [first, ...others] = chunkSizes.map((size) => decode(bytes, size).map(withoutCreated));
  for (const other of others) expect(other).toEqual(first);
  return first ?? [];
}

function withoutCreated(item: StreamItem): StreamItem {
  if (item.kind === 'done') return item;
  const { created: _created, ...chunk } = item.chunk;
  return { ...item, chunk };
}

const deltas = (items: StreamItem[]) =>
  items.flatMap((item) => (item.kind === 'chunk' ? item.chunk.choices.map((choice) => ({ ...choice })) : []));

describe('geminiAdapter stream decoder', () => {
  it('decodes a text stream: role first, text deltas, finish, then usage and done at the end', () => {
    const items = decodeInEveryChunking('text.sse');
    expect(deltas(items)).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null },
      { index: 0, delta: { content: 'The opposite' }, finish_reason: null },
      { index: 0, delta: { content: ' of hot is cold, ' }, finish_reason: null },
      { index: 0, delta: { content: 'naturally. 你好' }, finish_reason: null },
      { index: 0, delta: {}, finish_reason: 'stop' },
    ]);
    for (const item of items) {
      if (item.kind !== 'done') {
        expect(item.chunk).toMatchObject({
          id: 'sse-text-1',
          object: 'chat.completion.chunk',
          model: 'gemini-2.5-flash',
        });
        expect(item.raw).toBeUndefined();
      }
    }
    expect(items.at(-2)).toMatchObject({
      kind: 'usage',
      usage: { promptTokens: 9, completionTokens: 11, cachedTokens: 0 },
      chunk: { choices: [], usage: { prompt_tokens: 9, completion_tokens: 11, total_tokens: 20 } },
    });
    expect(items.at(-1)).toEqual({ kind: 'done' });
  });

  it('decodes thoughts as reasoning_content and each function call as one complete tool_calls delta', () => {
    const items = decodeInEveryChunking('function-call.sse');
    expect(deltas(items)).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null },
      {
        index: 0,
        delta: { reasoning_content: '**Checking the forecast**\nThe user wants weather for two cities.' },
        finish_reason: null,
      },
      {
        index: 0,
        delta: {
          tool_calls: [
            {
              index: 0,
              id: 'call_sse-call-1_0',
              type: 'function',
              function: { name: 'get_current_weather', arguments: '{"location":"Boston, MA"}' },
              extra_content: { google: { thought_signature: 'CtIBAdHtim9q0Zp3kXvb' } },
            },
          ],
        },
        finish_reason: null,
      },
      {
        index: 0,
        delta: {
          tool_calls: [
            {
              index: 1,
              id: 'call_sse-call-1_1',
              type: 'function',
              function: { name: 'get_current_weather', arguments: '{"location":"Paris"}' },
            },
          ],
        },
        finish_reason: null,
      },
      { index: 0, delta: {}, finish_reason: 'tool_calls' },
    ]);
    expect(items.at(-2)).toMatchObject({ kind: 'usage', usage: { promptTokens: 70, completionTokens: 65 } });
  });

  it('finishes a blocked prompt with content_filter', () => {
    const items = decodeInEveryChunking('prompt-blocked.sse');
    expect(deltas(items).at(-1)).toEqual({ index: 0, delta: {}, finish_reason: 'content_filter' });
    expect(items.at(-2)).toMatchObject({ kind: 'usage', usage: { promptTokens: 6, completionTokens: 0 } });
    expect(items.at(-1)).toEqual({ kind: 'done' });
  });

  it('throws on a stream that ends without a finish reason', () => {
    for (const size of chunkSizes) {
      expect(() => decode(readStream('truncated.sse'), size)).toThrow(MalformedUpstreamResponse);
    }
    expect(() => geminiAdapter.createChatStreamDecoder(request).end?.()).toThrow(MalformedUpstreamResponse);
  });

  it('throws the error Gemini sends inside the stream', () => {
    let caught: unknown;
    try {
      decode(readStream('error.sse'), 7);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UpstreamStreamError);
    expect((caught as UpstreamStreamError).details).toEqual({
      message: 'The model is overloaded. Please try again later.',
      type: 'UNAVAILABLE',
      code: undefined,
    });
  });

  it('treats a candidate left unfinished as truncated, even when another finished', () => {
    const decoder = geminiAdapter.createChatStreamDecoder({ ...request, n: 2 });
    const event = (candidates: unknown[]) => ({
      event: undefined,
      data: JSON.stringify({ candidates, responseId: 'r' }),
    });
    decoder.decode(
      event([
        { index: 0, content: { parts: [{ text: 'a' }] } },
        { index: 1, content: { parts: [{ text: 'b' }] } },
      ]),
    );
    const items = decoder.decode(event([{ index: 0, finishReason: 'STOP' }]));
    expect(deltas(items)).toEqual([{ index: 0, delta: {}, finish_reason: 'stop' }]);
    expect(() => decoder.end?.()).toThrow(MalformedUpstreamResponse);

    decoder.decode(event([{ index: 1, finishReason: 'MAX_TOKENS' }]));
    expect(decoder.end?.()).toEqual([{ kind: 'done' }]);
  });

  it('rejects an event whose data is not JSON', () => {
    const decoder = geminiAdapter.createChatStreamDecoder(request);
    expect(() => decoder.decode({ event: undefined, data: '{"candidates": [ this is not json' })).toThrow(
      MalformedUpstreamResponse,
    );
  });
});
