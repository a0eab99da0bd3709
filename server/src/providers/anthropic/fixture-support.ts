import { readFileSync } from 'node:fs';
import { SseParser, type SseEvent } from '../../lib/sse-parser.ts';
import type { ChatStreamDecoder, StreamItem } from '../spec/provider-adapter.ts';

/** Test support: recorded Anthropic bodies and streams under ./fixtures, replayed the way the gateway reads them. */
const fixturesUrl = new URL('./fixtures/', import.meta.url);

export function readFixture(name: string): string {
  return readFileSync(new URL(name, fixturesUrl), 'utf8');
}

export function readJsonFixture<Value>(name: string): Value {
  return JSON.parse(readFixture(name)) as Value;
}

/** Splits bytes into pieces of the given sizes in turn, so events and multi-byte characters straddle chunk edges. */
export function splitBytes(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (let turn = 0; offset < bytes.length; turn += 1) {
    const size = sizes[turn % sizes.length] ?? bytes.length;
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  return pieces;
}

/** The SSE events of a text, parsed from chunks of the given sizes. */
export function parseSse(text: string, sizes: readonly number[]): SseEvent[] {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  for (const piece of splitBytes(new TextEncoder().encode(text), sizes)) events.push(...parser.push(piece));
  events.push(...parser.end());
  return events;
}

/** Runs a stream fixture through SseParser and a decoder as the gateway does, ending with decoder.end(). */
export function decodeSseFixture(name: string, decoder: ChatStreamDecoder, sizes: readonly number[]): StreamItem[] {
  const items: StreamItem[] = [];
  for (const event of parseSse(readFixture(name), sizes)) items.push(...decoder.decode(event));
  items.push(...(decoder.end?.() ?? []));
  return items;
}

/** Chunkings every stream test runs through: byte by byte, odd small sizes, and the whole body at once. */
export const chunkings: readonly { sizes: readonly number[] }[] = [
  { sizes: [1] },
  { sizes: [3, 7, 2] },
  { sizes: [64] },
  { sizes: [1 << 20] },
];
