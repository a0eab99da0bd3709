import { newTimeOrderedId } from '../../lib/ids.ts';

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

/** A UUIDv7 for `ms` whose 12 bits after the version hold `counter` (lib/ids.ts makes the rest). */
function formatId(ms: number, counter: number): string {
  const id = newTimeOrderedId(ms);
  return `${id.slice(0, 15)}${counter.toString(16).padStart(3, '0')}${id.slice(18)}`;
}
