import type {
  AdmitRequest,
  AdmitResult,
  BudgetSettlement,
  BudgetState,
  TrafficStore,
  WindowCorrection,
  WindowState,
} from './traffic-store.ts';

/** A window is counted in this many buckets: one second each for a minute. */
export const bucketsPerWindow = 60;

/**
 * The wait suggested when every slot is taken. Slots free up when requests end, which no store can foresee; a second
 * is short enough to retry soon and long enough not to hammer.
 */
export const slotRetryAfterMs = 1000;

export interface MemoryTrafficStoreOptions {
  /**
   * The clock of budget lifetimes (`seedBudget`'s ttlMs), as Redis's own clock is for the Redis store. Windows and
   * leases follow the `now` each call passes.
   */
  now?: () => number;
  /** How often (in the callers' time) state that can no longer count is dropped, so idle keys do not pile up. */
  sweepIntervalMs?: number;
}

/** A window's counts: a ring of buckets, row `number % bucketsPerWindow` holding bucket `number`. */
interface WindowRing {
  readonly windowMs: number;
  readonly bucketMs: number;
  readonly counts: Float64Array;
  /** The newest bucket number seen; the window holds buckets `head - 59 … head`. */
  head: number;
  total: number;
}

interface SlotLeases {
  /** Ticket → when its lease lapses. */
  readonly leases: Map<string, number>;
  /** The earliest lapse among the leases, so most admissions skip the purge. */
  earliest: number;
}

interface Reservation {
  amount: number;
  expiresAt: number;
}

interface BudgetEntry {
  spent: number;
  reserved: number;
  readonly reservations: Map<string, Reservation>;
  earliest: number;
  /** When the store forgets the budget, on the store's clock. */
  expiresAt: number;
}

/**
 * Traffic state in this process: the embedded default, and the stand-in while Redis is away. JavaScript runs one
 * admission at a time, so each admission is atomic without locks. Windows are fixed rings of 60 counts; nothing is
 * allocated per admission beyond the result and a lease entry per slot and reservation.
 */
export class MemoryTrafficStore implements TrafficStore {
  readonly #clock: () => number;
  readonly #sweepIntervalMs: number;
  readonly #windows = new Map<string, WindowRing>();
  readonly #slots = new Map<string, SlotLeases>();
  readonly #budgets = new Map<string, BudgetEntry>();
  /** The latest `now` a caller passed: the sweep's notion of the present. */
  #latestNow = 0;
  #lastSweep = 0;

  constructor(options: MemoryTrafficStoreOptions = {}) {
    this.#clock = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { windows, slots, budgets, now } = request;
    this.#observe(now);
    const clockNow = budgets.length > 0 ? this.#clock() : 0;

    let unseeded: number[] | undefined;
    for (let index = 0; index < budgets.length; index += 1) {
      if (this.#liveBudget(budgets[index]!.key, clockNow) === undefined) (unseeded ??= []).push(index);
    }
    if (unseeded !== undefined) return { outcome: 'unseeded', budgetIndexes: unseeded };

    for (let index = 0; index < windows.length; index += 1) {
      const check = windows[index]!;
      if (check.amount > check.limit) return refused('window', index, undefined);
      const ring = this.#ring(check.key, check.windowMs, now, false);
      const used = ring === undefined ? 0 : ring.total;
      if (used + check.amount > check.limit) {
        return refused('window', index, retryAfter(ring!, now, used + check.amount - check.limit));
      }
    }

    for (let index = 0; index < slots.length; index += 1) {
      const check = slots[index]!;
      const held = this.#slots.get(check.key);
      if (held !== undefined) purgeSlots(held, now);
      if ((held?.leases.size ?? 0) >= check.limit) return refused('slot', index, slotRetryAfterMs);
    }

    for (let index = 0; index < budgets.length; index += 1) {
      const check = budgets[index]!;
      const entry = this.#budgets.get(check.key)!;
      purgeReservations(entry, now);
      const previous = entry.reservations.get(request.ticket)?.amount ?? 0;
      const reserved = entry.reserved - previous;
      if (!(entry.spent < check.limit && entry.spent + reserved + check.amount <= check.limit)) {
        return refused('budget', index, undefined);
      }
    }

    // Every check passed: take everything.
    const windowStates: WindowState[] = new Array<WindowState>(windows.length);
    for (let index = 0; index < windows.length; index += 1) {
      const check = windows[index]!;
      const ring = this.#ring(check.key, check.windowMs, now, true)!;
      if (check.amount > 0) {
        ring.counts[ring.head % bucketsPerWindow]! += check.amount;
        ring.total += check.amount;
      }
      windowStates[index] = { remaining: Math.max(0, check.limit - ring.total), resetMs: resetAfter(ring, now) };
    }

    const expiresAt = now + request.leaseMs;
    for (const check of slots) {
      let held = this.#slots.get(check.key);
      if (held === undefined) {
        held = { leases: new Map(), earliest: expiresAt };
        this.#slots.set(check.key, held);
      }
      held.leases.set(request.ticket, expiresAt);
      if (expiresAt < held.earliest) held.earliest = expiresAt;
    }

    const budgetStates: BudgetState[] = new Array<BudgetState>(budgets.length);
    for (let index = 0; index < budgets.length; index += 1) {
      const check = budgets[index]!;
      const entry = this.#budgets.get(check.key)!;
      const existing = entry.reservations.get(request.ticket);
      if (existing === undefined) {
        entry.reservations.set(request.ticket, { amount: check.amount, expiresAt });
      } else {
        entry.reserved -= existing.amount;
        existing.amount = check.amount;
        existing.expiresAt = expiresAt;
      }
      entry.reserved += check.amount;
      if (expiresAt < entry.earliest) entry.earliest = expiresAt;
      budgetStates[index] = { spent: entry.spent, reserved: entry.reserved };
    }

    return { outcome: 'admitted', windows: windowStates, budgets: budgetStates };
  }

  async seedBudget(key: string, spent: number, ttlMs: number): Promise<void> {
    const clockNow = this.#clock();
    const expiresAt = clockNow + ttlMs;
    const entry = this.#liveBudget(key, clockNow);
    if (entry !== undefined) {
      entry.expiresAt = Math.max(entry.expiresAt, expiresAt);
      return;
    }
    this.#budgets.set(key, { spent, reserved: 0, reservations: new Map(), earliest: Infinity, expiresAt });
  }

  async settle(
    ticket: string,
    slotKeys: readonly string[],
    budgets: readonly BudgetSettlement[],
  ): Promise<readonly (number | undefined)[]> {
    for (const key of slotKeys) {
      const held = this.#slots.get(key);
      if (held === undefined) continue;
      held.leases.delete(ticket);
      if (held.leases.size === 0) this.#slots.delete(key);
    }
    const clockNow = budgets.length > 0 ? this.#clock() : 0;
    const spent: (number | undefined)[] = new Array<number | undefined>(budgets.length);
    for (let index = 0; index < budgets.length; index += 1) {
      const settlement = budgets[index]!;
      const entry = this.#liveBudget(settlement.key, clockNow);
      if (entry === undefined) continue;
      const reservation = entry.reservations.get(ticket);
      if (reservation !== undefined) {
        entry.reserved -= reservation.amount;
        entry.reservations.delete(ticket);
      }
      entry.spent += settlement.cost;
      spent[index] = entry.spent;
    }
    return spent;
  }

  async correct(corrections: readonly WindowCorrection[], now: number): Promise<void> {
    this.#observe(now);
    for (const correction of corrections) {
      const ring = this.#ring(correction.key, correction.windowMs, now, false);
      if (ring === undefined) continue;
      // An admission stamped ahead of this clock (another instance's skew) is counted in the newest bucket.
      const bucket = Math.min(Math.floor(correction.admittedAt / ring.bucketMs), ring.head);
      if (bucket <= ring.head - bucketsPerWindow) continue;
      const row = bucket % bucketsPerWindow;
      const corrected = Math.max(0, ring.counts[row]! + correction.delta);
      ring.total += corrected - ring.counts[row]!;
      ring.counts[row] = corrected;
    }
  }

  async renew(
    ticket: string,
    slotKeys: readonly string[],
    budgetKeys: readonly string[],
    now: number,
    leaseMs: number,
  ): Promise<void> {
    this.#observe(now);
    const expiresAt = now + leaseMs;
    for (const key of slotKeys) {
      const leases = this.#slots.get(key)?.leases;
      const current = leases?.get(ticket);
      // A lapsed lease stays lapsed: its slot may already have been counted free.
      if (current !== undefined && current > now && expiresAt > current) leases!.set(ticket, expiresAt);
    }
    const clockNow = budgetKeys.length > 0 ? this.#clock() : 0;
    for (const key of budgetKeys) {
      const reservation = this.#liveBudget(key, clockNow)?.reservations.get(ticket);
      if (reservation !== undefined && reservation.expiresAt > now && expiresAt > reservation.expiresAt) {
        reservation.expiresAt = expiresAt;
      }
    }
  }

  async readBudget(key: string, now: number): Promise<BudgetState | undefined> {
    this.#observe(now);
    const entry = this.#liveBudget(key, this.#clock());
    if (entry === undefined) return undefined;
    purgeReservations(entry, now);
    return { spent: entry.spent, reserved: entry.reserved };
  }

  /** Whether the store holds a spend for the budget (what `admit` would not call unseeded). */
  holdsBudget(key: string): boolean {
    return this.#liveBudget(key, this.#clock()) !== undefined;
  }

  /** Forgets everything (the fallback store starts each outage afresh, so no stale spend outlives one). */
  clear(): void {
    this.#windows.clear();
    this.#slots.clear();
    this.#budgets.clear();
  }

  async close(): Promise<void> {
    this.clear();
  }

  #liveBudget(key: string, clockNow: number): BudgetEntry | undefined {
    const entry = this.#budgets.get(key);
    if (entry === undefined || entry.expiresAt > clockNow) return entry;
    this.#budgets.delete(key);
    return undefined;
  }

  /** The window's ring advanced to `now`; created only when `create` (a refused admission allocates nothing). */
  #ring(key: string, windowMs: number, now: number, create: boolean): WindowRing | undefined {
    let ring = this.#windows.get(key);
    if (ring === undefined || ring.windowMs !== windowMs) {
      if (!create) return undefined;
      ring = {
        windowMs,
        bucketMs: windowMs / bucketsPerWindow,
        counts: new Float64Array(bucketsPerWindow),
        head: -1,
        total: 0,
      };
      this.#windows.set(key, ring);
    }
    advance(ring, now);
    return ring;
  }

  #observe(now: number): void {
    if (now > this.#latestNow) this.#latestNow = now;
    if (now - this.#lastSweep >= this.#sweepIntervalMs) {
      this.#lastSweep = now;
      this.#sweep();
    }
  }

  #sweep(): void {
    const now = this.#latestNow;
    for (const [key, ring] of this.#windows) {
      advance(ring, now);
      if (ring.total === 0) this.#windows.delete(key);
    }
    for (const [key, held] of this.#slots) {
      purgeSlots(held, now);
      if (held.leases.size === 0) this.#slots.delete(key);
    }
    const clockNow = this.#clock();
    for (const [key, entry] of this.#budgets) {
      if (entry.expiresAt <= clockNow) this.#budgets.delete(key);
      else purgeReservations(entry, now);
    }
  }
}

function refused(kind: 'window' | 'slot' | 'budget', index: number, retryAfterMs: number | undefined): AdmitResult {
  return { outcome: 'refused', kind, index, retryAfterMs };
}

/** Moves the ring's head to `now`'s bucket, emptying the buckets that left the window. A clock behind stays put. */
function advance(ring: WindowRing, now: number): void {
  const bucket = Math.floor(now / ring.bucketMs);
  if (bucket <= ring.head) return;
  if (ring.head < 0 || bucket - ring.head >= bucketsPerWindow) {
    ring.counts.fill(0);
    ring.total = 0;
  } else {
    for (let number = ring.head + 1; number <= bucket; number += 1) {
      const row = number % bucketsPerWindow;
      ring.total -= ring.counts[row]!;
      ring.counts[row] = 0;
    }
  }
  ring.head = bucket;
}

/** How long until the oldest buckets holding at least `excess` units have left the window. */
function retryAfter(ring: WindowRing, now: number, excess: number): number | undefined {
  let freed = 0;
  for (let number = ring.head - bucketsPerWindow + 1; number <= ring.head; number += 1) {
    freed += ring.counts[((number % bucketsPerWindow) + bucketsPerWindow) % bucketsPerWindow]!;
    if (freed >= excess) return Math.max(0, Math.ceil((number + bucketsPerWindow) * ring.bucketMs - now));
  }
  return undefined;
}

/** How long until the newest counted unit leaves the window (0 when it is empty). */
function resetAfter(ring: WindowRing, now: number): number {
  for (let number = ring.head; number > ring.head - bucketsPerWindow; number -= 1) {
    if (ring.counts[((number % bucketsPerWindow) + bucketsPerWindow) % bucketsPerWindow]! > 0) {
      return Math.max(0, Math.ceil((number + bucketsPerWindow) * ring.bucketMs - now));
    }
  }
  return 0;
}

function purgeSlots(held: SlotLeases, now: number): void {
  if (now < held.earliest) return;
  let earliest = Infinity;
  for (const [ticket, expiresAt] of held.leases) {
    if (expiresAt <= now) held.leases.delete(ticket);
    else if (expiresAt < earliest) earliest = expiresAt;
  }
  held.earliest = earliest;
}

function purgeReservations(entry: BudgetEntry, now: number): void {
  if (now < entry.earliest) return;
  let earliest = Infinity;
  for (const [ticket, reservation] of entry.reservations) {
    if (reservation.expiresAt <= now) {
      entry.reserved -= reservation.amount;
      entry.reservations.delete(ticket);
    } else if (reservation.expiresAt < earliest) {
      earliest = reservation.expiresAt;
    }
  }
  entry.earliest = earliest;
}
