#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { failureModes, isFailureMode, type MockUpstreamOptions } from './options.ts';
import { startMockUpstream, type MockUpstreamHandle } from './server.ts';

const usage = `Usage: aihub-mock-upstream [options]
  --port <n>            port to listen on (default 9100; 0 picks a free one)
  --host <address>      address to bind (default 127.0.0.1)
  --latency-ms <n>      delay before each response starts
  --chunks <n>          content chunks per chat completion (default 10)
  --chunk-delay-ms <n>  delay between stream chunks
  --fail <mode>         one of ${failureModes.join(', ')}
  --fail-rate <0..1>    share of requests that get --fail or a mode of --fail-mix (default 1)
  --fail-mix <mix>      failure modes drawn by weight, e.g. 500:1,429:1,reset:1,timeout:1
  --rate-limit-headers  429 answers also carry the provider's rate-limit headers
  --record <n>          keep the last n requests in memory (default 0)
  --api-key <key>       require "Authorization: Bearer <key>"
  --help                show this text`;

function parseOptions(argv: string[]): MockUpstreamOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string', default: '9100' },
      host: { type: 'string', default: '127.0.0.1' },
      'latency-ms': { type: 'string' },
      chunks: { type: 'string' },
      'chunk-delay-ms': { type: 'string' },
      fail: { type: 'string' },
      'fail-rate': { type: 'string' },
      'fail-mix': { type: 'string' },
      'rate-limit-headers': { type: 'boolean', default: false },
      record: { type: 'string' },
      'api-key': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const fail = values.fail;
  if (fail !== undefined && !isFailureMode(fail)) {
    throw new RangeError(`--fail must be one of ${failureModes.join(', ')}; got ${fail}`);
  }
  return {
    port: parseNumber('--port', values.port),
    host: values.host,
    latencyMs: parseNumber('--latency-ms', values['latency-ms']),
    chunks: parseNumber('--chunks', values.chunks),
    chunkDelayMs: parseNumber('--chunk-delay-ms', values['chunk-delay-ms']),
    failMode: fail,
    failRate: parseNumber('--fail-rate', values['fail-rate']),
    failMix: values['fail-mix'],
    rateLimitHeaders: values['rate-limit-headers'],
    recordRequests: parseNumber('--record', values.record),
    apiKey: values['api-key'],
  };
}

/** Range checks live in resolveBehaviour; this only refuses text that is not a number at all. */
function parseNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw new RangeError(`${flag} must be a number; got ${text}`);
  return value;
}

async function main(): Promise<void> {
  let options: MockUpstreamOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exit(2);
  }
  let upstream: MockUpstreamHandle;
  try {
    upstream = await startMockUpstream(options);
  } catch (error) {
    // Out-of-range option values and EADDRINUSE both end here; a message reads better than a stack trace.
    console.error(`mock upstream: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  // Benchmarks and tests wait for exactly this line before sending traffic.
  console.log(`mock upstream listening on ${upstream.url}`);

  const shutDown = (): void => {
    upstream.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('mock upstream: error while closing', error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutDown);
  process.once('SIGINT', shutDown);
}

await main();
