import { SlidingWindow } from './sliding-window.ts';

export interface AttemptResult {
  readonly ok: boolean;
  /** Time to the first byte of the answer, when one arrived. Feeds the lowest-latency strategy. */
  readonly firstByteMs?: number;
  readonly latencyMs: number;
}

export interface DeploymentStatsOptions {
  now?: () => number;
  /** The span success rate and latency percentiles cover. */
  windowMs?: number;
  /** Weight of a new time-to-first-byte sample in the moving average (0..1). */
  ewmaAlpha?: number;
  /**
   * A moving average older than this is forgotten: the deployment counts as unmeasured, so lowest-latency tries it
   * again and one slow spell does not exclude it for good.
   */
  sampleTtlMs?: number;
}

export interface DeploymentStatsSnapshot {
  readonly key: string;
  readonly inFlight: number;
  readonly ewmaFirstByteMs: number | null;
  /** Attempts finished within the window. */
  readonly requests: number;
  readonly failures: number;
  readonly successRate: number | null;
  /** Latency of successful attempts within the window, estimated from a histogram (bins of about ±25 %). */
  readonly p50LatencyMs: number | null;
  readonly p95LatencyMs: number | null;
}

/** Upper bounds (ms) of the latency histogram's bins; the last is open-ended. */
const latencyBounds = [
  25,
  50,
  100,
  200,
  300,
  500,
  750,
  1000,
  1500,
  2000,
  3000,
  5000,
  7500,
  10_000,
  15_000,
  20_000,
  30_000,
  60_000,
  120_000,
  300_000,
  Number.POSITIVE_INFINITY,
] as const;

const requestsLane = 0;
const failuresLane = 1;
const firstLatencyLane = 2;

interface StatsEntry {
  inFlight: number;
  ewmaFirstByteMs: number;
  /** When the last first-byte sample arrived; -∞ when none has. */
  sampledAt: number;
  readonly window: SlidingWindow;
}

/**
 * Per deployment: requests in flight (least-in-flight strategy), a moving average of time to first byte
 * (lowest-latency strategy), and success rate and latency percentiles over a sliding window (admin views). Each
 * `begin`/`end` is a Map read and a few array updates.
 */
export class DeploymentStats {
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #alpha: number;
  readonly #sampleTtlMs: number;
  readonly #entries = new Map<string, StatsEntry>();

  constructor(options: DeploymentStatsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#alpha = Math.min(1, Math.max(0, options.ewmaAlpha ?? 0.3));
    this.#sampleTtlMs = options.sampleTtlMs ?? 300_000;
  }

  /** An attempt starts on deployment `key`; pair every call with one `end`. */
  begin(key: string): void {
    this.#entry(key).inFlight += 1;
  }

  end(key: string, result: AttemptResult): void {
    const entry = this.#entry(key);
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    const now = this.#now();
    entry.window.add(now, requestsLane);
    if (!result.ok) entry.window.add(now, failuresLane);
    else entry.window.add(now, firstLatencyLane + latencyBin(result.latencyMs));
    const sample = result.firstByteMs;
    if (sample !== undefined && Number.isFinite(sample) && sample >= 0) {
      const fresh = now - entry.sampledAt <= this.#sampleTtlMs;
      entry.ewmaFirstByteMs = fresh ? entry.ewmaFirstByteMs + this.#alpha * (sample - entry.ewmaFirstByteMs) : sample;
      entry.sampledAt = now;
    }
  }

  inFlight(key: string): number {
    return this.#entries.get(key)?.inFlight ?? 0;
  }

  /** Moving average of time to first byte, or undefined when unmeasured (lately): such a deployment should be tried. */
  ewmaFirstByteMs(key: string): number | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || this.#now() - entry.sampledAt > this.#sampleTtlMs) return undefined;
    return entry.ewmaFirstByteMs;
  }

  snapshot(): DeploymentStatsSnapshot[] {
    const now = this.#now();
    const snapshots: DeploymentStatsSnapshot[] = [];
    for (const [key, entry] of this.#entries) {
      const requests = entry.window.total(now, requestsLane);
      const failures = entry.window.total(now, failuresLane);
      const ewma = this.ewmaFirstByteMs(key);
      snapshots.push({
        key,
        inFlight: entry.inFlight,
        ewmaFirstByteMs: ewma === undefined ? null : Math.round(ewma),
        requests,
        failures,
        successRate: requests === 0 ? null : (requests - failures) / requests,
        p50LatencyMs: percentile(entry.window, now, 0.5),
        p95LatencyMs: percentile(entry.window, now, 0.95),
      });
    }
    return snapshots;
  }

  /** Drops the figures of deployments that are gone (after a registry change). */
  forget(keysNotIn: ReadonlySet<string>): void {
    for (const key of this.#entries.keys()) if (!keysNotIn.has(key)) this.#entries.delete(key);
  }

  #entry(key: string): StatsEntry {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = {
        inFlight: 0,
        ewmaFirstByteMs: 0,
        sampledAt: Number.NEGATIVE_INFINITY,
        window: new SlidingWindow(this.#windowMs, firstLatencyLane + latencyBounds.length),
      };
      this.#entries.set(key, entry);
    }
    return entry;
  }
}

function latencyBin(latencyMs: number): number {
  let bin = 0;
  while (latencyMs > latencyBounds[bin]!) bin += 1;
  return bin;
}

/** The `quantile` of the window's latencies, interpolated within its bin (the open last bin gives its lower bound). */
function percentile(window: SlidingWindow, now: number, quantile: number): number | null {
  let count = 0;
  for (let bin = 0; bin < latencyBounds.length; bin += 1) count += window.total(now, firstLatencyLane + bin);
  if (count === 0) return null;
  const rank = Math.max(1, Math.ceil(quantile * count));
  let below = 0;
  const openBin = latencyBounds.length - 1;
  for (let bin = 0; bin < openBin; bin += 1) {
    const inBin = window.total(now, firstLatencyLane + bin);
    if (below + inBin >= rank) {
      const lower = bin === 0 ? 0 : latencyBounds[bin - 1]!;
      return Math.round(lower + ((latencyBounds[bin]! - lower) * (rank - below)) / inBin);
    }
    below += inBin;
  }
  // The open-ended last bin: its lower bound is all that is known.
  return latencyBounds[openBin - 1]!;
}
