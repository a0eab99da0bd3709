import { randomBytes } from 'node:crypto';

export interface AuditStamp {
  /** UUIDv7 layout; strictly increasing within this process, so ties on created_at still order by insertion. */
  readonly id: string;
  /** Epoch ms; never earlier than the previous stamp's, even if the wall clock steps back. */
  readonly at: number;
}

/**
 * Ids for audit events that order exactly as the events were recorded. A plain UUIDv7 orders only by millisecond
 * (its other bits are random), so two events in one millisecond could list in either order. Here the 12 bits after
 * the version count events within a millisecond (RFC 9562 §6.2, method 1); when they run out, or the clock steps
 * back, the timestamp is carried forward instead of going back. The order holds within one process; events of
 * different instances in the same millisecond order by id, arbitrarily but stably.
 */
export class AuditClock {
  #lastMs = 0;
  #counter = 0;

  next(now: number): AuditStamp {
    if (now > this.#lastMs) {
      this.#lastMs = now;
      this.#counter = 0;
    } else if (this.#counter < 0xfff) {
      this.#counter += 1;
    } else {
      this.#lastMs += 1;
      this.#counter = 0;
    }
    return { id: formatId(this.#lastMs, this.#counter), at: this.#lastMs };
  }
}

function formatId(ms: number, counter: number): string {
  const time = ms.toString(16).padStart(12, '0');
  const random = randomBytes(8);
  // Variant bits 10xx in the first byte of the last 64 bits.
  random[0] = ((random[0] ?? 0) & 0x3f) | 0x80;
  const tail = random.toString('hex');
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${counter.toString(16).padStart(3, '0')}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}
