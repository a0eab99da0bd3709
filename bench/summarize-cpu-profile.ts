/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): functions by self time, AI Hub's own functions by total
 * (inclusive) time, and self time grouped by package, so a slow run points at code rather than at a flame graph.
 *
 *   summarize-cpu-profile.ts <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const profileFile = positionals[0];
if (profileFile === undefined) {
  console.error('usage: summarize-cpu-profile.ts <file.cpuprofile> [--top 25]');
  process.exit(2);
}
const top = Number(values.top);
const repoRoot = path.resolve(import.meta.dirname, '..');
const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile;

function shortLocation(url: string): string {
  const filePath = url.startsWith('file://') ? new URL(url).pathname : url;
  return filePath.startsWith(repoRoot) ? path.relative(repoRoot, filePath) : filePath;
}

function describeFrame(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  return url ? `${name}  ${shortLocation(url)}:${lineNumber + 1}` : name;
}

/** Where a frame's code lives: a package, node's internals, or a folder of our own source. */
function groupOf(node: ProfileNode): string {
  const location = shortLocation(node.callFrame.url);
  if (location === '') return node.callFrame.functionName.startsWith('(') ? node.callFrame.functionName : '(native)';
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location);
  if (packageMatch?.[1]) return packageMatch[1];
  if (location.startsWith('node:')) return 'node: internals';
  return path.dirname(location);
}

const nodesById = new Map<number, ProfileNode>();
const parentOf = new Map<number, number>();
for (const node of profile.nodes) {
  nodesById.set(node.id, node);
  for (const child of node.children ?? []) parentOf.set(child, node.id);
}

const selfByFrame = new Map<string, number>();
const totalByOwnFrame = new Map<string, number>();
const selfByGroup = new Map<string, number>();
let totalMicroseconds = 0;
const add = (map: Map<string, number>, key: string, amount: number): void => {
  map.set(key, (map.get(key) ?? 0) + amount);
};

profile.samples.forEach((nodeId, index) => {
  const micros = profile.timeDeltas[index] ?? 0;
  const node = nodesById.get(nodeId);
  if (!node) return;
  totalMicroseconds += micros;
  add(selfByFrame, describeFrame(node), micros);
  add(selfByGroup, groupOf(node), micros);
  // Inclusive time, counted once per sample even when a function recurses.
  const seen = new Set<string>();
  for (let current: ProfileNode | undefined = node; current; current = nodesById.get(parentOf.get(current.id) ?? -1)) {
    const location = shortLocation(current.callFrame.url);
    if (!location.startsWith('server/') && !location.startsWith('mock-upstream/')) continue;
    const frame = describeFrame(current);
    if (seen.has(frame)) continue;
    seen.add(frame);
    add(totalByOwnFrame, frame, micros);
  }
});

function printTable(title: string, map: Map<string, number>, limit: number): void {
  console.log(`\n${title}`);
  const rows = [...map.entries()].sort((left, right) => right[1] - left[1]).slice(0, limit);
  for (const [label, micros] of rows) {
    const percent = ((100 * micros) / totalMicroseconds).toFixed(1).padStart(5);
    console.log(`${percent}%  ${(micros / 1000).toFixed(0).padStart(7)} ms  ${label}`);
  }
}

console.log(`profile ${profileFile}: ${(totalMicroseconds / 1e6).toFixed(1)} s sampled`);
printTable(`Top ${top} functions by self time`, selfByFrame, top);
printTable('Self time by package or source folder', selfByGroup, 15);
printTable(`AI Hub functions by total (inclusive) time`, totalByOwnFrame, top);
