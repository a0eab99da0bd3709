/**
 * The shared state behind traffic control: sliding windows (requests and tokens per minute), concurrency slots and
 * budget reservations. One implementation keeps it in this process (the embedded default); another keeps it in Redis
 * (REDIS_URL) so that every instance sees the same counts. Both pass the same contract suite
 * (`traffic-store-contract.ts`), and both decide a whole admission atomically: every check passes and everything is
 * taken, or nothing is taken.
 *
 * Keys are opaque strings chosen by the caller (they already name the subject, the limit and, for budgets, the
 * period); a store only prefixes them.
 */

/** A sliding window: at most `limit` units (requests or tokens) admitted within the last `windowMs`. */
export interface WindowCheck {
  readonly key: string;
  readonly limit: number;
  /** Units this request takes (1 for requests; the token estimate for tokens). A whole number, never negative. */
  readonly amount: number;
  readonly windowMs: number;
}

/** Concurrency: at most `limit` admissions holding a slot under `key` at once. */
export interface SlotCheck {
  readonly key: string;
  readonly limit: number;
}

/**
 * A budget for one period (the key names the period). Admitted when `spent < limit` and
 * `spent + reserved + amount <= limit`; the amount is then reserved under the ticket until it is settled or its lease
 * lapses.
 */
export interface BudgetCheck {
  readonly key: string;
  readonly limit: number;
  /** The worst-case cost reserved for this request, in micro-USD. */
  readonly amount: number;
}

export interface AdmitRequest {
  /** Unique per admission; names its slots and reservations. */
  readonly ticket: string;
  readonly now: number;
  /** Slots and reservations not settled or renewed within this lapse on their own (a crashed instance's). */
  readonly leaseMs: number;
  readonly windows: readonly WindowCheck[];
  readonly slots: readonly SlotCheck[];
  readonly budgets: readonly BudgetCheck[];
}

/** Where a window stands after an admission (for the x-ratelimit-* headers). */
export interface WindowState {
  /** Units left in the window after this admission. */
  readonly remaining: number;
  /** Milliseconds until the window is full again if nothing more is admitted. */
  readonly resetMs: number;
}

export interface BudgetState {
  readonly spent: number;
  readonly reserved: number;
}

export type AdmitResult =
  | {
      readonly outcome: 'admitted';
      /** One per window check, in order. */
      readonly windows: readonly WindowState[];
      /** One per budget check, in order, after the reservation. */
      readonly budgets: readonly BudgetState[];
    }
  | {
      /** A check failed; nothing was taken. `index` points into the list of that kind. */
      readonly outcome: 'refused';
      readonly kind: 'window' | 'slot' | 'budget';
      readonly index: number;
      /** When trying again could succeed, in milliseconds; undefined when no wait would help (budgets). */
      readonly retryAfterMs: number | undefined;
    }
  | {
      /**
       * Budgets the store holds no spend for yet (first use, a new period, or Redis lost its data): the caller reads
       * the spend from the database, calls `seedBudget`, and admits again. Nothing was taken.
       */
      readonly outcome: 'unseeded';
      readonly budgetIndexes: readonly number[];
    };

/** What a settled admission spent on each of its budgets. */
export interface BudgetSettlement {
  readonly key: string;
  /** The true cost in micro-USD (0 when the request failed before any charge). */
  readonly cost: number;
}

export interface WindowCorrection {
  readonly key: string;
  readonly windowMs: number;
  /** When the admission that is corrected was made: the correction lands where it was counted. */
  readonly admittedAt: number;
  /** Units to add (negative: give back); the window never goes below zero. */
  readonly delta: number;
}

export interface TrafficStore {
  admit(request: AdmitRequest): Promise<AdmitResult>;
  /**
   * Sets a budget's spend for its period unless the store already holds one (the first seeder wins, so two instances
   * seeding at once do not count twice). `ttlMs`: how long to keep it (past the period's end).
   */
  seedBudget(key: string, spent: number, ttlMs: number): Promise<void>;
  /**
   * Ends an admission: frees its slots, drops its reservations and adds each true cost to its budget's spend.
   * Returns the spend after settling per budget, in order (undefined where the store no longer holds the budget).
   */
  settle(
    ticket: string,
    slotKeys: readonly string[],
    budgets: readonly BudgetSettlement[],
  ): Promise<readonly (number | undefined)[]>;
  /** Corrects token windows once the true usage is known. */
  correct(corrections: readonly WindowCorrection[], now: number): Promise<void>;
  /** Extends the lease of a long request's slots and reservations (a stream that runs for minutes). */
  renew(
    ticket: string,
    slotKeys: readonly string[],
    budgetKeys: readonly string[],
    now: number,
    leaseMs: number,
  ): Promise<void>;
  /** A budget's current state, or undefined when the store holds none for it. */
  readBudget(key: string, now: number): Promise<BudgetState | undefined>;
  close(): Promise<void>;
}
