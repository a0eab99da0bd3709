/**
 * Open-loop, fixed-rate load generator: sends requests on a fixed schedule whether or not earlier ones have
 * answered (wrk's closed loop would slow down with the server and hide queueing). Direct and through-gateway
 * traffic run in the same process and alternate in short blocks, so background noise on the machine lands on both
 * halves alike and "added" = gateway − direct per percentile compares like with like. With --reference-url a third
 * target (the bare relay) joins the rotation and is sent the direct request.
 *
 * Prints one JSON object on stdout. Latency runs from the moment a request is handed to undici to the last byte of
 * the response; with --stream it also records time to the first body bytes that carry an SSE `data:` line.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import {
  nanosecondsToMilliseconds,
  subtractSummaries,
  summarizeLatencies,
  type LatencySummary,
} from './latency-stats.ts';
import { findScenario, type BenchScenario, type BenchTarget } from './scenarios.ts';

interface LoadOptions {
  readonly directUrl: string;
  readonly gatewayUrl: string;
  /** Optional third target that is sent the direct request: the bare relay, for the floor of a Node gateway. */
  readonly referenceUrl: string | undefined;
  readonly scenario: BenchScenario;
  readonly scenarioName: string;
  readonly key: string;
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly blockMs: number;
  readonly stream: boolean;
  readonly connections: number;
}

type TargetName = BenchTarget | 'reference';

interface Target {
  readonly name: TargetName;
  readonly pool: Pool;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

interface Sample {
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Time to the first `data:` bytes; undefined for non-stream requests and for failures. */
  readonly firstChunkMs: number | undefined;
  /** How late the request left compared with its slot in the schedule. */
  readonly lagMs: number;
}

interface AddedLatency {
  readonly latency: ReturnType<typeof subtractSummaries>;
  readonly firstChunk: ReturnType<typeof subtractSummaries> | undefined;
}

interface TargetResult {
  readonly sent: number;
  readonly failed: number;
  readonly achievedRate: number;
  readonly latency: LatencySummary;
  readonly firstChunk: LatencySummary | undefined;
  readonly scheduleLagMs: { readonly p99: number; readonly max: number };
}

const dataPrefix = Buffer.from('data:');

function parseOptions(argv: string[]): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'direct-url': { type: 'string' },
      'gateway-url': { type: 'string' },
      'reference-url': { type: 'string' },
      scenario: { type: 'string', default: 'openai' },
      key: { type: 'string' },
      rate: { type: 'string', default: '500' },
      seconds: { type: 'string', default: '10' },
      'warmup-seconds': { type: 'string', default: '2' },
      'block-ms': { type: 'string', default: '1000' },
      stream: { type: 'boolean', default: false },
      connections: { type: 'string', default: '32' },
    },
  });
  const required = (name: string, value: string | undefined): string => {
    if (value === undefined || value === '') throw new RangeError(`--${name} is required`);
    return value;
  };
  const positive = (name: string, text: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`--${name} must be a positive number; got ${text}`);
    return value;
  };
  return {
    directUrl: required('direct-url', values['direct-url']),
    gatewayUrl: required('gateway-url', values['gateway-url']),
    referenceUrl: values['reference-url'],
    scenario: findScenario(values.scenario),
    scenarioName: values.scenario,
    key: required('key', values.key),
    rate: positive('rate', values.rate),
    seconds: positive('seconds', values.seconds),
    warmupSeconds: Number(values['warmup-seconds']),
    blockMs: positive('block-ms', values['block-ms']),
    stream: values.stream,
    connections: Math.round(positive('connections', values.connections)),
  };
}

async function sendRequest(target: Target, stream: boolean): Promise<Omit<Sample, 'lagMs'>> {
  const started = process.hrtime.bigint();
  try {
    const response = await target.pool.request({
      method: 'POST',
      path: target.path,
      headers: target.headers,
      body: target.body,
    });
    let firstChunkAt: bigint | undefined;
    if (stream) {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        if (firstChunkAt === undefined && chunk.includes(dataPrefix)) firstChunkAt = process.hrtime.bigint();
      }
    } else {
      await response.body.arrayBuffer();
    }
    const finished = process.hrtime.bigint();
    const ok = response.statusCode === 200 && (!stream || firstChunkAt !== undefined);
    return {
      ok,
      latencyMs: nanosecondsToMilliseconds(finished - started),
      firstChunkMs: ok && firstChunkAt !== undefined ? nanosecondsToMilliseconds(firstChunkAt - started) : undefined,
    };
  } catch {
    return {
      ok: false,
      latencyMs: nanosecondsToMilliseconds(process.hrtime.bigint() - started),
      firstChunkMs: undefined,
    };
  }
}

function summarizeTarget(samples: readonly Sample[], seconds: number): TargetResult {
  const succeeded = samples.filter((sample) => sample.ok);
  const firstChunks = succeeded.flatMap((sample) => (sample.firstChunkMs === undefined ? [] : [sample.firstChunkMs]));
  const lag = summarizeLatencies(samples.map((sample) => sample.lagMs));
  return {
    sent: samples.length,
    failed: samples.length - succeeded.length,
    achievedRate: samples.length / seconds,
    latency: summarizeLatencies(succeeded.map((sample) => sample.latencyMs)),
    firstChunk: firstChunks.length > 0 ? summarizeLatencies(firstChunks) : undefined,
    scheduleLagMs: { p99: lag.p99, max: lag.max },
  };
}

async function runLoad(options: LoadOptions): Promise<unknown> {
  const poolOptions = { connections: options.connections, pipelining: 1, keepAliveTimeout: 60_000 };
  const { scenario } = options;
  // The reference relay forwards the direct request unchanged, so it is sent what the baseline is sent.
  const createTarget = (name: TargetName, origin: string, request: BenchTarget): Target => ({
    name,
    pool: new Pool(origin, poolOptions),
    path: scenario.paths[request],
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${options.key}`,
      ...scenario.headers[request],
    },
    body: scenario.buildBody(request, { stream: options.stream }),
  });
  const targets: Target[] = [
    createTarget('direct', options.directUrl, 'direct'),
    createTarget('gateway', options.gatewayUrl, 'gateway'),
    ...(options.referenceUrl ? [createTarget('reference', options.referenceUrl, 'direct')] : []),
  ];
  const targetCount = BigInt(targets.length);

  const intervalNs = BigInt(Math.round(1e9 / options.rate));
  const blockNs = BigInt(Math.round(options.blockMs * 1e6));
  // Every target gets the warm-up and the measured time, in turn.
  const warmupNs = BigInt(Math.round(options.warmupSeconds * 1e9)) * targetCount;
  const totalNs = warmupNs + BigInt(Math.round(options.seconds * 1e9)) * targetCount;
  const samples = new Map<TargetName, Sample[]>(targets.map((target) => [target.name, []]));
  const inFlight = new Set<Promise<void>>();

  const startedAt = process.hrtime.bigint();
  for (let index = 0n; ; index += 1n) {
    const offset = index * intervalNs;
    if (offset >= totalNs) break;
    const due = startedAt + offset;
    let now = process.hrtime.bigint();
    if (due > now) {
      // Timers have millisecond resolution; waking up to a millisecond late shows up as schedule lag, not latency.
      await sleep(Math.max(1, Math.floor(Number(due - now) / 1e6)));
      now = process.hrtime.bigint();
    }
    const target = targets[Number((offset / blockNs) % targetCount)];
    if (!target) throw new Error('no target for this block');
    const measured = offset >= warmupNs;
    const lagMs = nanosecondsToMilliseconds(now > due ? now - due : 0n);
    const request = sendRequest(target, options.stream).then((sample) => {
      if (measured) samples.get(target.name)?.push({ ...sample, lagMs });
    });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
  await Promise.all(inFlight);
  await Promise.all(targets.map((target) => target.pool.close()));

  const summarize = (name: TargetName): TargetResult | undefined => {
    const targetSamples = samples.get(name);
    return targetSamples ? summarizeTarget(targetSamples, options.seconds) : undefined;
  };
  const direct = summarize('direct');
  const gateway = summarize('gateway');
  const reference = summarize('reference');
  if (!direct || !gateway) throw new Error('direct and gateway results are missing');
  const addedOver = (result: TargetResult): AddedLatency => ({
    latency: subtractSummaries(result.latency, direct.latency),
    firstChunk:
      result.firstChunk && direct.firstChunk ? subtractSummaries(result.firstChunk, direct.firstChunk) : undefined,
  });
  return {
    scenario: options.scenarioName,
    mode: options.stream ? 'stream' : 'non-stream',
    rate: options.rate,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    blockMs: options.blockMs,
    direct,
    gateway,
    added: addedOver(gateway),
    ...(reference ? { reference, addedByReference: addedOver(reference) } : {}),
  };
}

let options: LoadOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(`fixed-rate-load: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
console.log(JSON.stringify(await runLoad(options)));
