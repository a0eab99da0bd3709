/**
 * Compares two results written by run.sh, e.g. before and after a change:
 *   compare.ts bench/results/<before>.json bench/results/<after>.json
 * Prints a Markdown table of the headline figures with the change from the first to the second.
 */
import { readFileSync } from 'node:fs';

interface Figure {
  readonly label: string;
  /** Whether a larger value is better, so the change can be called an improvement or a regression. */
  readonly higherIsBetter: boolean;
  read(result: ResultFile): number | undefined;
}

/** The parts of a result file this script reads; see report.ts for the whole shape. */
interface ResultFile {
  timestamp: string;
  throughput: {
    direct: { requestsPerSecond: number };
    gateway: { requestsPerSecond: number; serverCpuMicrosecondsPerRequest?: number };
    ratio: number;
  };
  latency: { added: { latency: { p50: number; p99: number } } };
  stream: { added: { firstChunk?: { p50: number } } };
  memory: { peakRssMiB: number; idleRssMiB?: number };
}

const figures: Figure[] = [
  { label: 'Direct throughput (req/s)', higherIsBetter: true, read: (r) => r.throughput.direct.requestsPerSecond },
  { label: 'Gateway throughput (req/s)', higherIsBetter: true, read: (r) => r.throughput.gateway.requestsPerSecond },
  { label: 'Throughput ratio (×)', higherIsBetter: true, read: (r) => r.throughput.ratio },
  {
    label: 'Gateway CPU per request (µs)',
    higherIsBetter: false,
    read: (r) => r.throughput.gateway.serverCpuMicrosecondsPerRequest,
  },
  { label: 'Added latency p50 (ms)', higherIsBetter: false, read: (r) => r.latency.added.latency.p50 },
  { label: 'Added latency p99 (ms)', higherIsBetter: false, read: (r) => r.latency.added.latency.p99 },
  { label: 'Added stream first chunk p50 (ms)', higherIsBetter: false, read: (r) => r.stream.added.firstChunk?.p50 },
  { label: 'Gateway peak RSS (MiB)', higherIsBetter: false, read: (r) => r.memory.peakRssMiB },
  { label: 'Gateway idle RSS (MiB)', higherIsBetter: false, read: (r) => r.memory.idleRssMiB },
];

const [beforeFile, afterFile] = process.argv.slice(2);
if (beforeFile === undefined || afterFile === undefined) {
  console.error('usage: compare.ts <before.json> <after.json>');
  process.exit(2);
}
const before = JSON.parse(readFileSync(beforeFile, 'utf8')) as ResultFile;
const after = JSON.parse(readFileSync(afterFile, 'utf8')) as ResultFile;

const format = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value) ? 'n/a' : Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(3);

function describeChange(figure: Figure, from: number | undefined, to: number | undefined): string {
  if (from === undefined || to === undefined || !Number.isFinite(from) || !Number.isFinite(to)) return '';
  const difference = to - from;
  const percent =
    from === 0 ? '' : ` (${difference >= 0 ? '+' : ''}${((100 * difference) / Math.abs(from)).toFixed(1)}%)`;
  const better = figure.higherIsBetter ? difference > 0 : difference < 0;
  return `${difference >= 0 ? '+' : ''}${format(difference)}${percent}${difference === 0 ? '' : better ? ' better' : ' worse'}`;
}

console.log(`| Figure | ${before.timestamp} | ${after.timestamp} | Change |`);
console.log('| --- | ---: | ---: | --- |');
for (const figure of figures) {
  const from = figure.read(before);
  const to = figure.read(after);
  console.log(`| ${figure.label} | ${format(from)} | ${format(to)} | ${describeChange(figure, from, to)} |`);
}
