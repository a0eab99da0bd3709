import type { IncomingHttpHeaders } from 'node:http';
import type { RequestOutcome } from './request-stats.ts';

export interface RecordedRequest {
  readonly method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON; the raw text when the body was not JSON; undefined when there was no body. */
  readonly body: unknown;
  /** Date.now() when the body had been read. */
  readonly receivedAt: number;
  /** What the mock did with it: answered normally, refused it, or the failure it injected. */
  readonly outcome: RequestOutcome;
}

/** A bounded ring buffer, so a long test run or a forgotten option cannot grow memory without limit. */
export class RequestLog {
  readonly capacity: number;
  #entries: Array<RecordedRequest | undefined>;
  #nextSlot = 0;
  #size = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#entries = new Array<RecordedRequest | undefined>(capacity);
  }

  record(request: RecordedRequest): void {
    if (this.capacity === 0) return;
    this.#entries[this.#nextSlot] = request;
    this.#nextSlot = (this.#nextSlot + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** Oldest first, as a fresh array the caller may keep. */
  list(): RecordedRequest[] {
    const ordered: RecordedRequest[] = [];
    const oldestSlot = (this.#nextSlot - this.#size + this.capacity) % this.capacity;
    for (let offset = 0; offset < this.#size; offset += 1) {
      const entry = this.#entries[(oldestSlot + offset) % this.capacity];
      if (entry !== undefined) ordered.push(entry);
    }
    return ordered;
  }

  clear(): void {
    this.#entries = new Array<RecordedRequest | undefined>(this.capacity);
    this.#nextSlot = 0;
    this.#size = 0;
  }
}
