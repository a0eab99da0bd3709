import { MemoryTrafficStore } from './memory-traffic-store.ts';
import type {
  AdmitRequest,
  AdmitResult,
  BudgetCheck,
  BudgetSettlement,
  BudgetState,
  SlotCheck,
  TrafficStore,
  WindowCheck,
  WindowCorrection,
} from './traffic-store.ts';

export interface FallbackTrafficStoreOptions {
  /**
   * The shared store (Redis); any call of it that rejects is answered locally instead. Without one (instances that
   * share a database but no Redis), every call is answered locally, with each instance's share of the limits.
   */
  primary?: TrafficStore | undefined;
  /** The store that answers while the primary is away; a new MemoryTrafficStore by default. */
  local?: MemoryTrafficStore;
  /** Instances serving now (the live count, this one included): each takes this share of every limit meanwhile. */
  instanceCount: () => number;
  /** How long after a failure the primary is tried again (by one call; the others stay local until it answers). */
  retryPrimaryAfterMs?: number;
  now?: () => number;
  /** Called once per outage, with the error that began it. */
  onFallback?: (error: unknown) => void;
  /** Called when the primary answers again after an outage. */
  onRecover?: () => void;
}

/**
 * Keeps traffic control up when the shared store is not: a call the primary fails is answered by the local store, so
 * Redis trouble never fails or stalls a request (the primary itself fails fast). While the primary is away each
 * instance enforces its share of every limit, so that together the instances admit about the limit, never one limit
 * each:
 *
 * - window and slot limits become `floor(limit / n)` but at least 1 (rounding down keeps the sum within the limit; the
 *   floor of 1 keeps a limit smaller than the instance count from refusing everything, at the cost of admitting up to
 *   `n` where the limit is below `n`);
 * - budget limits become `floor(limit / n)`, and a budget seeded meanwhile starts at `ceil(spent / n)`, so each
 *   instance may spend a share of what remains;
 * - a window's remaining units are reported times `n` (at most the limit): an estimate of the whole, for the headers;
 * - a budget's spend is reported as the spend it was seeded with plus this instance's costs since (a lower bound of
 *   the whole, exact for one instance), so that it grows by exactly each settled cost and callers that detect an
 *   alert threshold being crossed by `spent - cost < mark <= spent` still see the crossing; reserved is this
 *   instance's.
 *
 * The local store is cleared when an outage begins, so budgets are seeded afresh from the database rather than from a
 * spend that went stale while Redis was up. Nothing is replayed to the primary after it recovers: admissions taken
 * locally are forgotten (a window may briefly admit more than its limit; their settlements reach the primary, whose
 * spend is then right), and admissions taken on the primary but settled during the outage leave their slots and
 * reservations there until their leases lapse (a concurrency or budget limit is briefly tighter than it should be).
 */
export class FallbackTrafficStore implements TrafficStore {
  readonly #primary: TrafficStore | undefined;
  readonly #local: MemoryTrafficStore;
  readonly #instanceCount: () => number;
  readonly #retryPrimaryAfterMs: number;
  readonly #now: () => number;
  readonly #onFallback: (error: unknown) => void;
  readonly #onRecover: () => void;
  /** Per budget seeded during this outage: the seeded spend less the local store's share of it. */
  readonly #seedOffsets = new Map<string, number>();
  #inFallback = false;
  /** While in fallback: when the next call may try the primary. */
  #nextProbeAt = 0;

  constructor(options: FallbackTrafficStoreOptions) {
    this.#primary = options.primary;
    this.#local = options.local ?? new MemoryTrafficStore();
    this.#instanceCount = options.instanceCount;
    this.#retryPrimaryAfterMs = options.retryPrimaryAfterMs ?? 1000;
    this.#now = options.now ?? Date.now;
    this.#onFallback = options.onFallback ?? (() => {});
    this.#onRecover = options.onRecover ?? (() => {});
  }

  /** Whether calls are being answered locally (for readiness reports and tests). */
  get inFallback(): boolean {
    return this.#inFallback;
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const probing = this.#inFallback;
    const primary = this.#primary;
    if (primary !== undefined && this.#tryPrimary()) {
      try {
        const result = await primary.admit(request);
        this.#succeeded(probing);
        return result;
      } catch (error) {
        this.#failed(error);
      }
    }
    const share = this.#share();
    if (share === 1) return await this.#local.admit(request);
    const result = await this.#local.admit({
      ticket: request.ticket,
      now: request.now,
      leaseMs: request.leaseMs,
      windows: request.windows.map((check): WindowCheck => ({ ...check, limit: divideCount(check.limit, share) })),
      slots: request.slots.map((check): SlotCheck => ({ ...check, limit: divideCount(check.limit, share) })),
      budgets: request.budgets.map((check): BudgetCheck => ({ ...check, limit: Math.floor(check.limit / share) })),
    });
    if (result.outcome !== 'admitted') return result;
    return {
      outcome: 'admitted',
      windows: result.windows.map((state, index) => ({
        remaining: Math.min(request.windows[index]!.limit, state.remaining * share),
        resetMs: state.resetMs,
      })),
      budgets: result.budgets.map((state, index) => this.#reported(request.budgets[index]!.key, state)),
    };
  }

  async seedBudget(key: string, spent: number, ttlMs: number): Promise<void> {
    const probing = this.#inFallback;
    const primary = this.#primary;
    if (primary !== undefined && this.#tryPrimary()) {
      try {
        await primary.seedBudget(key, spent, ttlMs);
        this.#succeeded(probing);
        return;
      } catch (error) {
        this.#failed(error);
      }
    }
    const localSpent = Math.ceil(spent / this.#share());
    // The first seeder wins, in the local store as in Redis; so does its offset.
    if (!this.#local.holdsBudget(key)) this.#seedOffsets.set(key, spent - localSpent);
    await this.#local.seedBudget(key, localSpent, ttlMs);
  }

  async settle(
    ticket: string,
    slotKeys: readonly string[],
    budgets: readonly BudgetSettlement[],
  ): Promise<readonly (number | undefined)[]> {
    const probing = this.#inFallback;
    const primary = this.#primary;
    if (primary !== undefined && this.#tryPrimary()) {
      try {
        const spent = await primary.settle(ticket, slotKeys, budgets);
        this.#succeeded(probing);
        return spent;
      } catch (error) {
        this.#failed(error);
      }
    }
    // Costs are not divided: each instance spends real money against its share of the limit.
    const spent = await this.#local.settle(ticket, slotKeys, budgets);
    return spent.map((value, index) => (value === undefined ? undefined : value + this.#offset(budgets[index]!.key)));
  }

  async correct(corrections: readonly WindowCorrection[], now: number): Promise<void> {
    const probing = this.#inFallback;
    const primary = this.#primary;
    if (primary !== undefined && this.#tryPrimary()) {
      try {
        await primary.correct(corrections, now);
        this.#succeeded(probing);
        return;
      } catch (error) {
        this.#failed(error);
      }
    }
    await this.#local.correct(corrections, now);
  }

  async renew(
    ticket: string,
    slotKeys: readonly string[],
    budgetKeys: readonly string[],
    now: number,
    leaseMs: number,
  ): Promise<void> {
    const probing = this.#inFallback;
    const primary = this.#primary;
    if (primary !== undefined && this.#tryPrimary()) {
      try {
        await primary.renew(ticket, slotKeys, budgetKeys, now, leaseMs);
        this.#succeeded(probing);
        return;
      } catch (error) {
        this.#failed(error);
      }
    }
    await this.#local.renew(ticket, slotKeys, budgetKeys, now, leaseMs);
  }

  async readBudget(key: string, now: number): Promise<BudgetState | undefined> {
    const probing = this.#inFallback;
    const primary = this.#primary;
    if (primary !== undefined && this.#tryPrimary()) {
      try {
        const state = await primary.readBudget(key, now);
        this.#succeeded(probing);
        return state;
      } catch (error) {
        this.#failed(error);
      }
    }
    const state = await this.#local.readBudget(key, now);
    return state === undefined ? undefined : this.#reported(key, state);
  }

  async close(): Promise<void> {
    await Promise.all([this.#primary?.close(), this.#local.close()]);
  }

  /** Whether this call goes to the primary: always outside an outage, and as the one probe once the wait is over. */
  #tryPrimary(): boolean {
    if (!this.#inFallback) return true;
    const now = this.#now();
    if (now < this.#nextProbeAt) return false;
    // Other calls stay local while this probe is out.
    this.#nextProbeAt = now + this.#retryPrimaryAfterMs;
    return true;
  }

  /**
   * Only a probe ends an outage: a call sent before the outage began and answered late says nothing about the
   * primary now.
   */
  #succeeded(probing: boolean): void {
    if (!probing || !this.#inFallback) return;
    this.#inFallback = false;
    notify(this.#onRecover, undefined);
  }

  #failed(error: unknown): void {
    this.#nextProbeAt = this.#now() + this.#retryPrimaryAfterMs;
    if (this.#inFallback) return;
    this.#inFallback = true;
    this.#local.clear();
    this.#seedOffsets.clear();
    notify(this.#onFallback, error);
  }

  #offset(key: string): number {
    return this.#seedOffsets.get(key) ?? 0;
  }

  #reported(key: string, state: BudgetState): BudgetState {
    const offset = this.#offset(key);
    return offset === 0 ? state : { spent: state.spent + offset, reserved: state.reserved };
  }

  #share(): number {
    const count = this.#instanceCount();
    return Number.isFinite(count) && count > 1 ? Math.floor(count) : 1;
  }
}

function divideCount(limit: number, share: number): number {
  return limit < 1 ? limit : Math.max(1, Math.floor(limit / share));
}

/** A listener that throws must not turn Redis trouble into a failed request. */
function notify<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch {
    // Reporting is best effort.
  }
}
