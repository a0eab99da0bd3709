import type { BreakerConfig } from '../../config/config.ts';
import { LocalBreakerStore, type BreakerState, type BreakerStore, type SharedBreakerState } from './breaker-store.ts';
import { SlidingWindow } from './sliding-window.ts';

/**
 * Leave to send one request through a breaker; hand it back with `release`. Permits are shared objects made once per
 * state change, so taking one allocates nothing.
 */
export interface BreakerPermit {
  /** A half-open trial: its outcome alone closes or reopens the breaker. */
  readonly probe: boolean;
  /** The state change it was issued under; an outcome reported after a later change is ignored. */
  readonly generation: number;
}

/**
 * `abandoned` reports a request whose outcome says nothing about the upstream (the client went away, the request was
 * refused before it was sent): it frees a probe slot without judging.
 */
export type BreakerOutcome = 'success' | 'failure' | 'abandoned';

/**
 * Why a breaker changed state: `consecutive_failures` or `failure_rate` (opened), `open_elapsed` (half-open),
 * `probe_succeeded` (closed), `probe_failed` (reopened), `enabled` (closed by `enable`), or the reason given to
 * `disable`.
 */
export interface BreakerTransition {
  readonly key: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: string;
  readonly at: number;
  /** Made on another instance and learnt through the store: already logged and announced there. */
  readonly remote: boolean;
}

export interface BreakerStatus {
  readonly key: string;
  readonly state: BreakerState;
  /** When it entered this state (epoch ms), or null if it has never left `closed`. */
  readonly since: number | null;
  /** The reason of the last transition (for `disabled`, the reason given), or null if there was none. */
  readonly reason: string | null;
  /** While open, when it lets probes through. */
  readonly retryAt: number | null;
  readonly consecutiveFailures: number;
  readonly windowRequests: number;
  readonly windowFailures: number;
  readonly probesInFlight: number;
}

export interface CircuitBreakersOptions {
  now?: () => number;
  /** Shares transitions with other instances; in-process only by default. */
  store?: BreakerStore;
  /** Called on every transition, this instance's and those learnt from others (`remote`). */
  onTransition?: (event: BreakerTransition) => void;
}

const requestsLane = 0;
const failuresLane = 1;

interface BreakerEntry {
  readonly key: string;
  state: BreakerState;
  /** 0 until the first transition. */
  since: number;
  reason: string | null;
  generation: number;
  permit: BreakerPermit;
  probePermit: BreakerPermit;
  consecutiveFailures: number;
  probesInFlight: number;
  readonly window: SlidingWindow;
}

/**
 * One circuit breaker per key (a deployment credential), so the router stops sending requests to an upstream that
 * keeps failing and tries it again with a few probes after a pause. Everything a request does here is a Map read and
 * a few field updates; the store is called only on transitions.
 *
 * closed ─(N failures in a row, or failure rate ≥ r over the window)─► open ─(openMs)─► half-open
 * half-open ─(a probe succeeds)─► closed; half-open ─(a probe fails)─► open; any ─disable─► disabled ─enable─► closed
 */
export class CircuitBreakers {
  readonly #config: BreakerConfig;
  readonly #maxProbes: number;
  readonly #now: () => number;
  readonly #store: BreakerStore;
  readonly #onTransition: ((event: BreakerTransition) => void) | undefined;
  readonly #entries = new Map<string, BreakerEntry>();

  constructor(config: BreakerConfig, options: CircuitBreakersOptions = {}) {
    this.#config = config;
    this.#maxProbes = Math.max(1, config.halfOpenProbes);
    this.#now = options.now ?? Date.now;
    this.#store = options.store ?? new LocalBreakerStore();
    this.#onTransition = options.onTransition;
    this.#store.start((shared) => this.#applyShared(shared));
  }

  /** A permit to send one request, or undefined when the breaker refuses one now (open, probes taken, disabled). */
  tryAcquire(key: string): BreakerPermit | undefined {
    const entry = this.#entries.get(key) ?? this.#create(key);
    switch (entry.state) {
      case 'closed':
        return entry.permit;
      case 'open': {
        const now = this.#now();
        if (now < entry.since + this.#config.openMs) return undefined;
        this.#transition(entry, 'half-open', 'open_elapsed', now, false);
        return this.#takeProbe(entry);
      }
      case 'half-open':
        return this.#takeProbe(entry);
      case 'disabled':
        return undefined;
    }
  }

  /** Reports the outcome of a request sent under `permit`. Call it exactly once per permit. */
  release(key: string, permit: BreakerPermit, outcome: BreakerOutcome): void {
    const entry = this.#entries.get(key);
    if (entry === undefined || permit.generation !== entry.generation) return;
    if (permit.probe) {
      entry.probesInFlight = Math.max(0, entry.probesInFlight - 1);
      if (outcome === 'success') this.#transition(entry, 'closed', 'probe_succeeded', this.#now(), false);
      else if (outcome === 'failure') this.#transition(entry, 'open', 'probe_failed', this.#now(), false);
      return;
    }
    if (outcome === 'abandoned') return;
    const now = this.#now();
    entry.window.add(now, requestsLane);
    if (outcome === 'success') {
      entry.consecutiveFailures = 0;
      return;
    }
    entry.window.add(now, failuresLane);
    entry.consecutiveFailures += 1;
    if (entry.consecutiveFailures >= this.#config.consecutiveFailures) {
      this.#transition(entry, 'open', 'consecutive_failures', now, false);
      return;
    }
    const requests = entry.window.total(now, requestsLane);
    if (
      requests >= this.#config.minimumRequests &&
      entry.window.total(now, failuresLane) >= this.#config.failureRate * requests
    ) {
      this.#transition(entry, 'open', 'failure_rate', now, false);
    }
  }

  /** Whether `tryAcquire` would give a permit now, without taking one or changing any state: for ordering candidates. */
  isAvailable(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return true;
    switch (entry.state) {
      case 'closed':
        return true;
      case 'open':
        return this.#now() >= entry.since + this.#config.openMs;
      case 'half-open':
        return entry.probesInFlight < this.#maxProbes;
      case 'disabled':
        return false;
    }
  }

  /**
   * Takes a key out of service until `enable` (an upstream refused its credential: 401, 403). Shared with other
   * instances; raises `onTransition` with the reason. Disabling again with another reason updates the reason.
   */
  disable(key: string, reason: string): void {
    const entry = this.#entries.get(key) ?? this.#create(key);
    if (entry.state === 'disabled' && entry.reason === reason) return;
    this.#transition(entry, 'disabled', reason, this.#now(), false);
  }

  /** Closes the breaker whatever its state (an admin's re-enable or reset, a changed credential). */
  enable(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.state === 'closed') return;
    this.#transition(entry, 'closed', 'enabled', this.#now(), false);
  }

  snapshot(): BreakerStatus[] {
    const now = this.#now();
    const statuses: BreakerStatus[] = [];
    for (const entry of this.#entries.values()) {
      statuses.push({
        key: entry.key,
        state: entry.state,
        since: entry.since === 0 ? null : entry.since,
        reason: entry.reason,
        retryAt: entry.state === 'open' ? entry.since + this.#config.openMs : null,
        consecutiveFailures: entry.consecutiveFailures,
        windowRequests: entry.window.total(now, requestsLane),
        windowFailures: entry.window.total(now, failuresLane),
        probesInFlight: entry.probesInFlight,
      });
    }
    return statuses;
  }

  /** Drops the breakers of keys that are gone (after a registry change); they start closed if they come back. */
  forget(keysNotIn: ReadonlySet<string>): void {
    for (const key of this.#entries.keys()) if (!keysNotIn.has(key)) this.#entries.delete(key);
  }

  async close(): Promise<void> {
    await this.#store.close();
  }

  #create(key: string): BreakerEntry {
    const entry: BreakerEntry = {
      key,
      state: 'closed',
      since: 0,
      reason: null,
      generation: 0,
      permit: { probe: false, generation: 0 },
      probePermit: { probe: true, generation: 0 },
      consecutiveFailures: 0,
      probesInFlight: 0,
      window: new SlidingWindow(this.#config.windowMs, 2),
    };
    this.#entries.set(key, entry);
    return entry;
  }

  #takeProbe(entry: BreakerEntry): BreakerPermit | undefined {
    if (entry.probesInFlight >= this.#maxProbes) return undefined;
    entry.probesInFlight += 1;
    return entry.probePermit;
  }

  #transition(entry: BreakerEntry, to: BreakerState, reason: string, at: number, remote: boolean): void {
    const from = entry.state;
    entry.state = to;
    entry.since = at;
    entry.reason = reason;
    entry.generation += 1;
    entry.permit = { probe: false, generation: entry.generation };
    entry.probePermit = { probe: true, generation: entry.generation };
    entry.consecutiveFailures = 0;
    entry.probesInFlight = 0;
    entry.window.reset();
    if (!remote) this.#store.publish({ key: entry.key, state: to, since: at, reason });
    this.#onTransition?.({ key: entry.key, from, to, reason, at, remote });
  }

  /**
   * Another instance's state: taken when it is at least as recent as what this instance knows (the later transition
   * wins; instances' clocks are assumed to agree within a fraction of `openMs`).
   */
  #applyShared(shared: SharedBreakerState): void {
    const entry = this.#entries.get(shared.key) ?? (shared.state === 'closed' ? undefined : this.#create(shared.key));
    if (entry === undefined || shared.since < entry.since) return;
    if (entry.state === shared.state) {
      // Same state, later start (a reopening this instance missed): keep the counts, move the clock.
      entry.since = shared.since;
      entry.reason = shared.reason;
      return;
    }
    this.#transition(entry, shared.state, shared.reason, shared.since, true);
  }
}
