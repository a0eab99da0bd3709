/** Where a breaker stands. `disabled` is not left by time: only `enable` (an admin, a registry change) ends it. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'disabled';

/** One breaker's state as instances share it: what it is, since when, and why. */
export interface SharedBreakerState {
  readonly key: string;
  readonly state: BreakerState;
  /** Epoch milliseconds of the transition (on the instance that made it). */
  readonly since: number;
  readonly reason: string;
}

/**
 * How breakers on several instances learn each other's transitions. Transitions are rare (a breaker opening,
 * closing, a credential disabled), so a store is called only on them, never per request, and never blocks: `publish`
 * returns at once and a failing store leaves every breaker working on its own.
 */
export interface BreakerStore {
  /**
   * Starts delivering other instances' states to `apply`: the states they hold now (as soon as they can be read, and
   * again after a reconnection), then each transition as it happens. Never the caller's own publications.
   */
  start(apply: (state: SharedBreakerState) => void): void;
  /** Shares a transition made on this instance. */
  publish(state: SharedBreakerState): void;
  close(): Promise<void>;
}

/** One instance on its own: nothing is shared. */
export class LocalBreakerStore implements BreakerStore {
  start(_apply: (state: SharedBreakerState) => void): void {}

  publish(_state: SharedBreakerState): void {}

  async close(): Promise<void> {}
}
