/** One server-sent event as received: `data` lines joined with "\n"; `event` when the stream names it. */
export interface SseEvent {
  readonly event: string | undefined;
  readonly data: string;
}

/**
 * Incremental SSE decoder: feed it byte chunks as they arrive, get whole events back.
 * Written by hand because it sits on the streaming hot path: it scans for line ends once, keeps only the
 * unfinished tail between chunks, and never re-reads bytes it has already consumed.
 */
export class SseParser {
  #tail = '';
  #eventName: string | undefined;
  #dataLines: string[] = [];
  readonly #decoder = new TextDecoder();

  push(chunk: Uint8Array): SseEvent[] {
    const text = this.#tail + this.#decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    let lineStart = 0;
    for (;;) {
      const newline = text.indexOf('\n', lineStart);
      if (newline === -1) break;
      const lineEnd = newline > lineStart && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      this.#consumeLine(text.slice(lineStart, lineEnd), events);
      lineStart = newline + 1;
    }
    this.#tail = text.slice(lineStart);
    return events;
  }

  /** Ends the stream; an event without its closing blank line still counts if it had data. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    const rest = this.#tail + this.#decoder.decode();
    this.#tail = '';
    if (rest) this.#consumeLine(rest, events);
    this.#consumeLine('', events);
    return events;
  }

  #consumeLine(line: string, events: SseEvent[]): void {
    if (line === '') {
      if (this.#dataLines.length > 0) {
        events.push({ event: this.#eventName, data: this.#dataLines.join('\n') });
      }
      this.#dataLines = [];
      this.#eventName = undefined;
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.#dataLines.push(value);
    else if (field === 'event') this.#eventName = value;
  }
}
