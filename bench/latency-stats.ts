/** Latency summaries in milliseconds. Samples are sorted once; a run holds a few thousand, so no histogram needed. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Nearest-rank percentile of an ascending array: the smallest sample at or above `percent` of the samples. */
export function percentileOfSorted(sorted: Float64Array, percent: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export function summarizeLatencies(samplesMs: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort();
  let total = 0;
  for (const sample of sorted) total += sample;
  return {
    count: sorted.length,
    mean: sorted.length === 0 ? Number.NaN : total / sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p90: percentileOfSorted(sorted, 90),
    p99: percentileOfSorted(sorted, 99),
    p999: percentileOfSorted(sorted, 99.9),
    max: sorted.length === 0 ? Number.NaN : (sorted[sorted.length - 1] ?? Number.NaN),
  };
}

/** Gateway minus direct, per percentile: what going through AI Hub adds. */
export function subtractSummaries(
  gateway: LatencySummary,
  direct: LatencySummary,
): Pick<LatencySummary, 'p50' | 'p90' | 'p99'> {
  return { p50: gateway.p50 - direct.p50, p90: gateway.p90 - direct.p90, p99: gateway.p99 - direct.p99 };
}

export function nanosecondsToMilliseconds(nanoseconds: bigint): number {
  return Number(nanoseconds) / 1e6;
}
