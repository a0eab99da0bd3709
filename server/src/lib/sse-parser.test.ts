import { describe, expect, it } from 'vitest';
import { SseParser } from './sse-parser.ts';

const encode = (text: string) => new TextEncoder().encode(text);

describe('SseParser', () => {
  it('splits events across arbitrary chunk boundaries', () => {
    const stream = 'data: {"a":1}\n\nevent: ping\ndata: x\ndata: y\n\n: comment\ndata: [DONE]\n\n';
    for (let size = 1; size <= stream.length; size += 1) {
      const parser = new SseParser();
      const events = [];
      for (let index = 0; index < stream.length; index += size)
        events.push(...parser.push(encode(stream.slice(index, index + size))));
      events.push(...parser.end());
      expect(events).toEqual([
        { event: undefined, data: '{"a":1}' },
        { event: 'ping', data: 'x\ny' },
        { event: undefined, data: '[DONE]' },
      ]);
    }
  });

  it('handles CRLF line ends and multi-byte characters split between chunks', () => {
    const bytes = encode('data: héllo 你好\r\n\r\n');
    const parser = new SseParser();
    const events = [
      ...parser.push(bytes.slice(0, 8)),
      ...parser.push(bytes.slice(8, 13)),
      ...parser.push(bytes.slice(13)),
    ];
    expect(events).toEqual([{ event: undefined, data: 'héllo 你好' }]);
  });

  it('emits an unterminated final event at end of stream', () => {
    const parser = new SseParser();
    expect(parser.push(encode('data: partial'))).toEqual([]);
    expect(parser.end()).toEqual([{ event: undefined, data: 'partial' }]);
  });
});
