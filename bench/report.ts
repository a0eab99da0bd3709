/**
 * Gathers the pieces run.sh left in its work directory (wrk summaries, CPU tick counts, fixed-rate results, the
 * gateway's memory by phase), checks them against the performance targets, writes one JSON result and
 * prints a Markdown table.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { LatencySummary } from './latency-stats.ts';

/** wrk's summary as printed by chat-completions.lua. */
interface WrkSummary {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency_us: { mean: number; p50: number; p90: number; p99: number; max: number };
}

/** Shares of one core over a measured window (1 = a whole core). */
interface CoreUse {
  /** What processes other than ours took from the gateway's core and from the mock + load core. */
  readonly otherLoadOnGatewayCore: number;
  readonly otherLoadOnLoadCore: number;
}

interface ThroughputRun extends CoreUse {
  readonly requestsPerSecond: number;
  /** CPU time of the server under test (all threads) per request: disturbed far less by other load than req/s. */
  readonly serverCpuMicrosecondsPerRequest: number;
  /** Share of one core the server used; well under 1 on a saturated run means it was starved or left waiting. */
  readonly serverCpuUtilisation: number;
  /** CPU per request of what shares the load core: wrk, plus the mock when it is not the server under test. */
  readonly loadCoreCpuMicrosecondsPerRequest: number;
  /** Requests per second if each side had its core to itself, from the CPU per request above. */
  readonly dedicatedCoreEstimate: number;
  /** The measured windows, in order; the figures above are over all of them together. */
  readonly rounds: readonly ThroughputRound[];
}

interface ThroughputRound extends CoreUse {
  readonly requestsPerSecond: number;
  readonly serverCpuMicrosecondsPerRequest: number;
  readonly wrk: WrkSummary;
}

interface FixedRateTarget {
  sent: number;
  failed: number;
  achievedRate: number;
  latency: LatencySummary;
  firstChunk?: LatencySummary;
  scheduleLagMs: { p99: number; max: number };
}

interface AddedLatency {
  latency: { p50: number; p90: number; p99: number };
  firstChunk?: { p50: number; p90: number; p99: number };
}

interface FixedRateResult {
  rate: number;
  seconds: number;
  warmupSeconds: number;
  direct: FixedRateTarget;
  gateway: FixedRateTarget;
  added: AddedLatency;
  /** The bare relay, when run.sh ran it: the floor of a Node gateway on this harness. */
  reference?: FixedRateTarget;
  addedByReference?: AddedLatency;
}

interface MemorySnapshot {
  readonly phase: string;
  readonly rssMiB: number;
  /** VmHWM, the resident-set high-water mark: the peak RSS of the process so far. */
  readonly peakRssMiB: number;
}

export interface TargetCheck {
  readonly name: string;
  readonly value: number;
  readonly comparison: '>=' | '<=';
  readonly limit: number;
  readonly unit: string;
  readonly pass: boolean;
}

const { values } = parseArgs({
  args: process.argv.slice(2),
  strict: true,
  options: {
    'work-dir': { type: 'string' },
    out: { type: 'string' },
    scenario: { type: 'string', default: 'openai' },
    'load-before': { type: 'string', default: '' },
    'load-after': { type: 'string', default: '' },
    'gateway-cpu': { type: 'string', default: '0' },
    'load-cpu': { type: 'string', default: '1' },
    connections: { type: 'string', default: '64' },
    'stream-chunks': { type: 'string', default: '20' },
    'stream-chunk-delay-ms': { type: 'string', default: '1' },
    'clock-ticks': { type: 'string', default: '100' },
    'gateway-node-flags': { type: 'string', default: '' },
    /** When the run began (ISO 8601); defaults to now. */
    'started-at': { type: 'string' },
  },
});
const workDir = values['work-dir'];
const outFile = values.out;
if (workDir === undefined || outFile === undefined) {
  console.error('usage: report.ts --work-dir <dir> --out <file.json> [...]');
  process.exit(2);
}

function readWorkFile(name: string): string {
  return readFileSync(path.join(workDir ?? '.', name), 'utf8');
}

const clockTicksPerSecond = Number(values['clock-ticks']);

/** Column order of run.sh's cpu_snapshot lines: clock ticks, then the time in nanoseconds. */
const cpuColumns = { gatewayCore: 0, loadCore: 1, loadGenerators: 2, gateway: 3, mock: 4, bareProxy: 5 } as const;
type CpuColumn = keyof typeof cpuColumns;
const timeColumn = 6;

interface CpuWindow {
  /** CPU seconds per column between the two snapshots. */
  readonly cpu: Record<CpuColumn, number>;
  readonly wallSeconds: number;
}

/** The two snapshots run.sh took around a measured window. */
function readCpuWindow(label: string): CpuWindow {
  const [before = [], after = []] = readWorkFile(`cpu-${label}.txt`)
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number));
  const difference = (index: number): number => (after[index] ?? Number.NaN) - (before[index] ?? Number.NaN);
  const seconds = (column: CpuColumn): number => difference(cpuColumns[column]) / clockTicksPerSecond;
  return {
    cpu: {
      gatewayCore: seconds('gatewayCore'),
      loadCore: seconds('loadCore'),
      loadGenerators: seconds('loadGenerators'),
      gateway: seconds('gateway'),
      mock: seconds('mock'),
      bareProxy: seconds('bareProxy'),
    },
    wallSeconds: difference(timeColumn) / 1e9,
  };
}

/** Clamped to one core: tick counts are coarse and softirq time lands on whichever core takes the interrupt. */
function measureCoreUse({ cpu, wallSeconds }: CpuWindow): CoreUse {
  const share = (cpuSeconds: number): number => Math.min(1, Math.max(0, cpuSeconds / wallSeconds));
  return {
    otherLoadOnGatewayCore: share(cpu.gatewayCore - cpu.gateway - cpu.bareProxy),
    otherLoadOnLoadCore: share(cpu.loadCore - cpu.mock - cpu.loadGenerators),
  };
}

const serverOf = { direct: 'mock', gateway: 'gateway', 'bare-proxy': 'bareProxy' } as const;

/** The rounds run.sh measured for a label: throughput-<label>-<n>.json with cpu-<label>-<n>.txt. */
function readRounds(label: string): { wrk: WrkSummary; window: CpuWindow }[] {
  const pattern = new RegExp(`^throughput-${label}-(\\d+)\\.json$`);
  return readdirSync(workDir ?? '.')
    .flatMap((name) => {
      const round = pattern.exec(name)?.[1];
      return round === undefined ? [] : [Number(round)];
    })
    .sort((left, right) => left - right)
    .map((round) => ({
      wrk: JSON.parse(readWorkFile(`throughput-${label}-${round}.json`)) as WrkSummary,
      window: readCpuWindow(`${label}-${round}`),
    }));
}

function addWindows(windows: readonly CpuWindow[]): CpuWindow {
  const total = (pick: (window: CpuWindow) => number): number => windows.reduce((sum, window) => sum + pick(window), 0);
  const cpu = Object.fromEntries(
    Object.keys(cpuColumns).map((column) => [column, total((window) => window.cpu[column as CpuColumn])]),
  ) as Record<CpuColumn, number>;
  return { cpu, wallSeconds: total((window) => window.wallSeconds) };
}

function readThroughput(label: keyof typeof serverOf): ThroughputRun | undefined {
  const measured = readRounds(label);
  if (measured.length === 0) return undefined;
  const server = serverOf[label];
  const requests = measured.reduce((sum, { wrk }) => sum + wrk.requests, 0);
  const seconds = measured.reduce((sum, { wrk }) => sum + wrk.duration_us / 1e6, 0);
  const window = addWindows(measured.map((round) => round.window));
  const { cpu } = window;
  const perRequest = (cpuSeconds: number): number => (cpuSeconds * 1e6) / requests;
  const serverMicroseconds = perRequest(cpu[server]);
  const loadCoreMicroseconds = perRequest(cpu.loadGenerators + (server === 'mock' ? 0 : cpu.mock));
  // Direct, the mock is the server and shares the load core with wrk; otherwise the slower of the two cores binds.
  const dedicatedCoreEstimate =
    server === 'mock'
      ? 1e6 / (serverMicroseconds + loadCoreMicroseconds)
      : Math.min(1e6 / serverMicroseconds, 1e6 / loadCoreMicroseconds);
  return {
    requestsPerSecond: requests / seconds,
    serverCpuMicrosecondsPerRequest: serverMicroseconds,
    serverCpuUtilisation: cpu[server] / seconds,
    loadCoreCpuMicrosecondsPerRequest: loadCoreMicroseconds,
    dedicatedCoreEstimate,
    ...measureCoreUse(window),
    rounds: measured.map(({ wrk, window: roundWindow }) => ({
      requestsPerSecond: wrk.requests / (wrk.duration_us / 1e6),
      serverCpuMicrosecondsPerRequest: (roundWindow.cpu[server] * 1e6) / wrk.requests,
      ...measureCoreUse(roundWindow),
      wrk,
    })),
  };
}

function wrkErrorCount(summary: WrkSummary): number {
  const { connect, read, write, status, timeout } = summary.errors;
  return connect + read + write + status + timeout;
}

/** run.sh writes "<phase> <VmRSS kB> <VmHWM kB>" per phase. */
function readMemorySnapshots(text: string): MemorySnapshot[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [phase = '', rssKib = 'NaN', hwmKib = 'NaN'] = line.trim().split(/\s+/);
      return { phase, rssMiB: Number(rssKib) / 1024, peakRssMiB: Number(hwmKib) / 1024 };
    });
}

function readCpuModel(): string {
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

function check(name: string, value: number, comparison: '>=' | '<=', limit: number, unit: string): TargetCheck {
  const pass = comparison === '>=' ? value >= limit : value <= limit;
  return { name, value, comparison, limit, unit, pass: Number.isFinite(value) && pass };
}

const format = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const signed = (value: number, digits = 2): string => (value >= 0 ? '+' : '') + format(value, digits);
const percent = (share: number): string => `${format(100 * share, 0)}%`;
const describeOtherLoad = (use: CoreUse): string =>
  `other processes took ${percent(use.otherLoadOnGatewayCore)} of the gateway core and ` +
  `${percent(use.otherLoadOnLoadCore)} of the load core`;

const direct = readThroughput('direct');
const gateway = readThroughput('gateway');
if (!direct || !gateway) throw new Error(`throughput results missing in ${workDir}`);
const bareProxy = readThroughput('bare-proxy');
const latency = JSON.parse(readWorkFile('latency.json')) as FixedRateResult;
const stream = JSON.parse(readWorkFile('stream.json')) as FixedRateResult;
const latencyCoreUse = measureCoreUse(readCpuWindow('latency'));
const streamCoreUse = measureCoreUse(readCpuWindow('stream'));
const memorySnapshots = readMemorySnapshots(readWorkFile('gateway-memory.txt'));

const throughputRatio = gateway.requestsPerSecond / direct.requestsPerSecond;
// Each round measures every target back to back, so per-round ratios show how much the machine drifted.
const ratioByRound = gateway.rounds.map(
  (round, index) => round.requestsPerSecond / (direct.rounds[index]?.requestsPerSecond ?? Number.NaN),
);
const estimatedRatio = gateway.dedicatedCoreEstimate / direct.dedicatedCoreEstimate;
const peakRssMiB = memorySnapshots.at(-1)?.peakRssMiB ?? Number.NaN;
const idleRssMiB = memorySnapshots.find((snapshot) => snapshot.phase === 'idle')?.rssMiB ?? Number.NaN;
const streamAddedFirstChunk = stream.added.firstChunk?.p50 ?? Number.NaN;

const problems: string[] = [];
for (const [label, run] of [
  ['throughput direct', direct],
  ['throughput gateway', gateway],
  ['throughput bare proxy', bareProxy],
] as const) {
  for (const [index, round] of (run?.rounds ?? []).entries()) {
    if (wrkErrorCount(round.wrk) > 0) {
      problems.push(`${label} round ${index + 1}: wrk saw errors ${JSON.stringify(round.wrk.errors)}`);
    }
  }
}
for (const [label, result] of [
  ['latency', latency],
  ['stream', stream],
] as const) {
  for (const side of ['direct', 'gateway', 'reference'] as const) {
    const target = result[side];
    if (!target) continue;
    if (target.failed > 0) problems.push(`${label} ${side}: ${target.failed} failed requests`);
    // The generator fell behind its schedule: the rate was not what the figure claims.
    if (target.achievedRate < result.rate * 0.95) {
      problems.push(`${label} ${side}: achieved ${target.achievedRate.toFixed(0)} req/s of ${result.rate}`);
    }
  }
}
// The direct throughput run leaves the gateway core idle, so only the load core's noise matters to it.
const noisyOver = 0.1;
if (direct.otherLoadOnLoadCore > noisyOver) {
  problems.push(
    `throughput direct: noisy, other processes took ${percent(direct.otherLoadOnLoadCore)} of the load core`,
  );
}
for (const [label, use] of [
  ['throughput gateway', gateway],
  ['throughput bare proxy', bareProxy],
  ['latency', latencyCoreUse],
  ['stream', streamCoreUse],
] as const) {
  if (use && (use.otherLoadOnGatewayCore > noisyOver || use.otherLoadOnLoadCore > noisyOver)) {
    problems.push(`${label}: noisy, ${describeOtherLoad(use)}`);
  }
}
if (gateway.serverCpuUtilisation < 0.9) {
  problems.push(
    `throughput gateway: the gateway used ${(100 * gateway.serverCpuUtilisation).toFixed(0)}% of its core ` +
      '(starved by other load, or the load generator could not keep it busy)',
  );
}

const targets: TargetCheck[] = [
  check('throughput through AI Hub / direct', throughputRatio, '>=', 0.35, '×'),
  check(`added latency p50 at ${latency.rate} req/s`, latency.added.latency.p50, '<=', 0.3, 'ms'),
  check(`added latency p99 at ${latency.rate} req/s`, latency.added.latency.p99, '<=', 3, 'ms'),
  check(`added stream first-chunk p50 at ${stream.rate} req/s`, streamAddedFirstChunk, '<=', 0.5, 'ms'),
  check('gateway peak RSS', peakRssMiB, '<=', 150, 'MiB'),
];

const result = {
  timestamp: values['started-at'] ?? new Date().toISOString(),
  scenario: values.scenario,
  machine: {
    nproc: os.cpus().length,
    cpuModel: readCpuModel(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAverageBefore: values['load-before'],
    loadAverageAfter: values['load-after'],
  },
  setup: {
    gatewayCpu: values['gateway-cpu'],
    loadAndMockCpu: values['load-cpu'],
    connections: Number(values.connections),
    streamChunks: Number(values['stream-chunks']),
    streamChunkDelayMs: Number(values['stream-chunk-delay-ms']),
    gatewayNodeFlags: values['gateway-node-flags'],
  },
  throughput: {
    direct,
    gateway,
    ratio: throughputRatio,
    ratioByRound,
    estimatedRatioOnDedicatedCores: estimatedRatio,
    bareProxy,
  },
  latency: { ...latency, coreUse: latencyCoreUse },
  stream: { ...stream, coreUse: streamCoreUse },
  memory: { peakRssMiB, idleRssMiB, snapshots: memorySnapshots },
  targets,
  valid: problems.length === 0,
  problems,
};
writeFileSync(outFile, JSON.stringify(result, null, 2) + '\n');

const verdict = (target: TargetCheck | undefined): string => (target ? (target.pass ? 'pass' : '**FAIL**') : '');
const [throughputTarget, p50Target, p99Target, streamTarget, rssTarget] = targets;
const streamDirect = stream.direct.firstChunk?.p50 ?? Number.NaN;
const streamGateway = stream.gateway.firstChunk?.p50 ?? Number.NaN;
const throughputRows = (
  [
    ['direct (mock)', direct],
    ['through AI Hub', gateway],
    ['bare node:http + undici proxy (reference)', bareProxy],
  ] as const
).flatMap(([label, run]) =>
  run
    ? [
        `| ${label} | ${format(run.requestsPerSecond, 0)} | ${format(run.serverCpuMicrosecondsPerRequest, 0)} | ` +
          `${percent(run.serverCpuUtilisation)} | ${format(run.loadCoreCpuMicrosecondsPerRequest, 0)} | ` +
          `${format(run.dedicatedCoreEstimate, 0)} | ${percent(run.otherLoadOnGatewayCore)} | ` +
          `${percent(run.otherLoadOnLoadCore)} |`,
      ]
    : [],
);

console.log(
  [
    `### AI Hub benchmark — scenario \`${values.scenario}\`, ${result.timestamp}`,
    '',
    `${result.machine.cpuModel}, ${result.machine.nproc} CPUs, Node ${result.machine.node}; ` +
      `gateway on CPU ${values['gateway-cpu']}, mock + load on CPU ${values['load-cpu']}; ` +
      `load average before ${values['load-before']}, after ${values['load-after']}`,
    '',
    '| Measure | Direct | Through AI Hub | Result | Target | |',
    '| --- | ---: | ---: | ---: | ---: | --- |',
    `| Throughput, ${values.connections} connections (req/s) | ${format(direct.requestsPerSecond, 0)} | ` +
      `${format(gateway.requestsPerSecond, 0)} | ${format(throughputRatio)}× | ≥ 0.35× | ${verdict(throughputTarget)} |`,
    `| Latency p50 at ${latency.rate} req/s (ms) | ${format(latency.direct.latency.p50, 3)} | ` +
      `${format(latency.gateway.latency.p50, 3)} | ${signed(latency.added.latency.p50, 3)} ms | ≤ +0.3 ms | ` +
      `${verdict(p50Target)} |`,
    `| Latency p99 at ${latency.rate} req/s (ms) | ${format(latency.direct.latency.p99, 3)} | ` +
      `${format(latency.gateway.latency.p99, 3)} | ${signed(latency.added.latency.p99, 3)} ms | ≤ +3 ms | ` +
      `${verdict(p99Target)} |`,
    `| Stream first chunk p50 at ${stream.rate} req/s (ms) | ${format(streamDirect, 3)} | ` +
      `${format(streamGateway, 3)} | ${signed(streamAddedFirstChunk, 3)} ms | ≤ +0.5 ms | ${verdict(streamTarget)} |`,
    `| Gateway peak RSS (MiB) | | ${format(peakRssMiB, 1)} | idle ${format(idleRssMiB, 1)} | ≤ 150 MiB | ` +
      `${verdict(rssTarget)} |`,
    `| Throughput ratio from CPU time, each side on a core of its own (estimate) | ` +
      `${format(direct.dedicatedCoreEstimate, 0)} | ${format(gateway.dedicatedCoreEstimate, 0)} | ` +
      `${format(estimatedRatio)}× | (≥ 0.35×) | |`,
    '',
    'Throughput runs in detail (CPU per request from /proc; "estimate" = req/s if each side had its core to itself):',
    '',
    '| Run | req/s | server µs/request | server core use | load core µs/request | estimate req/s | ' +
      'other load, gateway core | other load, load core |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...throughputRows,
    '',
    `Per round, req/s: direct ${direct.rounds.map((round) => format(round.requestsPerSecond, 0)).join(', ')}; ` +
      `through AI Hub ${gateway.rounds.map((round) => format(round.requestsPerSecond, 0)).join(', ')}; ` +
      `ratio ${ratioByRound.map((ratio) => format(ratio)).join(', ')}.`,
    ...(latency.addedByReference
      ? [
          `Reference relay over direct, same runs: latency p50 ${signed(latency.addedByReference.latency.p50, 3)} ms, ` +
            `p99 ${signed(latency.addedByReference.latency.p99, 3)} ms; stream first chunk p50 ` +
            `${signed(stream.addedByReference?.firstChunk?.p50 ?? Number.NaN, 3)} ms.`,
        ]
      : []),
    `Noise during the fixed-rate runs: latency, ${describeOtherLoad(latencyCoreUse)}; stream, ${describeOtherLoad(streamCoreUse)}.`,
    `Gateway RSS by phase (MiB): ${memorySnapshots.map((snapshot) => `${snapshot.phase} ${format(snapshot.rssMiB, 1)}`).join(', ')}.`,
    `Schedule lag p99 (ms), direct/gateway: latency run ${format(latency.direct.scheduleLagMs.p99)}/` +
      `${format(latency.gateway.scheduleLagMs.p99)}, stream run ${format(stream.direct.scheduleLagMs.p99)}/` +
      `${format(stream.gateway.scheduleLagMs.p99)}.`,
    '',
    problems.length === 0 ? 'All requests succeeded and both generators kept their rate.' : 'Problems:',
    ...problems.map((problem) => `- ${problem}`),
  ].join('\n'),
);
