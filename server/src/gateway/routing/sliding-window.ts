/**
 * Counts over the last `windowMs`, kept in a ring of time buckets: adding and reading cost O(lanes) at most once per
 * bucket boundary crossed, and nothing is allocated after construction. A lane is one counter (requests, failures, a
 * latency bin); reading a lane sums nothing, since running totals are kept per lane.
 *
 * The window slides by whole buckets, so a count leaves it between `windowMs - windowMs / buckets` and `windowMs`
 * after it was added.
 */
export class SlidingWindow {
  readonly #bucketMs: number;
  readonly #buckets: number;
  readonly #lanes: number;
  /** `#buckets` rows of `#lanes` counts; row `i % #buckets` holds bucket number `i`. */
  readonly #counts: Float64Array;
  readonly #totals: Float64Array;
  /** The bucket number (time / bucketMs) of the newest row, or -1 before the first add. */
  #head = -1;

  constructor(windowMs: number, lanes: number, buckets = 10) {
    this.#buckets = Math.max(1, Math.floor(buckets));
    this.#bucketMs = Math.max(1, windowMs / this.#buckets);
    this.#lanes = lanes;
    this.#counts = new Float64Array(this.#buckets * lanes);
    this.#totals = new Float64Array(lanes);
  }

  get lanes(): number {
    return this.#lanes;
  }

  add(now: number, lane: number, amount = 1): void {
    this.#advance(now);
    this.#counts[(this.#head % this.#buckets) * this.#lanes + lane]! += amount;
    this.#totals[lane]! += amount;
  }

  total(now: number, lane: number): number {
    this.#advance(now);
    return this.#totals[lane]!;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#totals.fill(0);
    this.#head = -1;
  }

  /** Drops the buckets that fell out of the window since the last call. */
  #advance(now: number): void {
    const bucket = Math.floor(now / this.#bucketMs);
    if (bucket <= this.#head) return;
    if (this.#head < 0 || bucket - this.#head >= this.#buckets) {
      this.#counts.fill(0);
      this.#totals.fill(0);
    } else {
      for (let number = this.#head + 1; number <= bucket; number += 1) this.#clearRow(number % this.#buckets);
    }
    this.#head = bucket;
  }

  #clearRow(row: number): void {
    const start = row * this.#lanes;
    for (let lane = 0; lane < this.#lanes; lane += 1) {
      this.#totals[lane]! -= this.#counts[start + lane]!;
      this.#counts[start + lane] = 0;
    }
  }
}
