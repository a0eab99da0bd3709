import { failureModes, type FailureMode } from './options.ts';

/** What happened to one request: answered normally, refused as the real API would, or given an injected failure. */
export type RequestOutcome = 'ok' | 'rejected' | FailureMode;

export interface MockUpstreamStats {
  /** Every request whose body was read, whatever came of it. */
  readonly requests: number;
  /** Answered normally. */
  readonly ok: number;
  /** Refused as the real API would (key, route, body, or a bad `x-mock-*` header): a 4xx, no failure drawn. */
  readonly rejected: number;
  /** Requests given an injected failure, `no-usage` included; the sum of `failures`. */
  readonly failed: number;
  /** Injected failures by mode; every mode is present, 0 when never drawn. */
  readonly failures: Readonly<Record<FailureMode, number>>;
  /** Requests whose response has not finished yet (counted from their arrival). */
  readonly inFlight: number;
  /** The most requests ever in flight at once since start or the last reset. */
  readonly peakInFlight: number;
}

/**
 * Counts requests by outcome as the failure is decided (a `timeout` is counted when its request arrives, not when the
 * client gives up), so a test can assert how many failures it was served. Kept across `setOptions`.
 */
export class RequestStats {
  #requests = 0;
  #ok = 0;
  #rejected = 0;
  #failures = emptyFailureCounts();
  #inFlight = 0;
  #peakInFlight = 0;

  /** A request arrived; `leave` when its response finished or its connection went away. */
  enter(): void {
    this.#inFlight += 1;
    if (this.#inFlight > this.#peakInFlight) this.#peakInFlight = this.#inFlight;
  }

  leave(): void {
    this.#inFlight -= 1;
  }

  count(outcome: RequestOutcome): void {
    this.#requests += 1;
    if (outcome === 'ok') this.#ok += 1;
    else if (outcome === 'rejected') this.#rejected += 1;
    else this.#failures[outcome] += 1;
  }

  snapshot(): MockUpstreamStats {
    const failures = { ...this.#failures };
    return {
      requests: this.#requests,
      ok: this.#ok,
      rejected: this.#rejected,
      failed: Object.values(failures).reduce((sum, count) => sum + count, 0),
      failures,
      inFlight: this.#inFlight,
      peakInFlight: this.#peakInFlight,
    };
  }

  reset(): void {
    this.#requests = 0;
    this.#ok = 0;
    this.#rejected = 0;
    this.#failures = emptyFailureCounts();
    this.#peakInFlight = this.#inFlight;
  }
}

function emptyFailureCounts(): Record<FailureMode, number> {
  return Object.fromEntries(failureModes.map((mode) => [mode, 0])) as Record<FailureMode, number>;
}
