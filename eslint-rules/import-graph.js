// @ts-check
/**
 * The import graph of server/src between its parts: each `modules/<name>` folder is one part, every other top-level
 * folder (api, http, gateway, db, lib, …) is one part, and files directly in server/src are the part `main`.
 * Read from the sources with a small scanner (import, export … from, import()), so it needs no plugin: the
 * `local/no-module-cycles` ESLint rule and the architecture test both use it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const specifierPattern =
  /\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;

/**
 * The relative specifiers a source imports or re-exports.
 * @param {string} source
 * @returns {string[]}
 */
export function importSpecifiers(source) {
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers = [];
  for (const match of withoutComments.matchAll(specifierPattern)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (specifier !== undefined && specifier.startsWith('.')) specifiers.push(specifier);
  }
  return specifiers;
}

/**
 * The part a file belongs to, or undefined outside `sourceRoot`.
 * @param {string} file absolute path
 * @param {string} sourceRoot absolute path of server/src
 * @returns {string | undefined}
 */
export function partOf(file, sourceRoot) {
  const relative = path.relative(sourceRoot, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  const segments = relative.split(path.sep);
  if (segments.length === 1) return 'main';
  if (segments[0] === 'modules' && segments.length > 2) return `modules/${segments[1]}`;
  return segments[0];
}

/**
 * @param {string} directory
 * @returns {string[]}
 */
function sourceFiles(directory) {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/**
 * @typedef {{ from: string, to: string }} ImportEdge an importing file and the file it imports (absolute paths)
 * @typedef {Map<string, Map<string, ImportEdge[]>>} PartGraph part → imported part → the imports behind that edge
 */

/**
 * @param {string} sourceRoot absolute path of server/src
 * @returns {PartGraph}
 */
export function readPartGraph(sourceRoot) {
  /** @type {PartGraph} */
  const graph = new Map();
  for (const file of sourceFiles(sourceRoot)) {
    const from = partOf(file, sourceRoot);
    if (from === undefined) continue;
    const edges = graph.get(from) ?? new Map();
    graph.set(from, edges);
    for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), specifier);
      const to = partOf(target, sourceRoot);
      if (to === undefined || to === from) continue;
      edges.set(to, [...(edges.get(to) ?? []), { from: file, to: target }]);
    }
  }
  return graph;
}

/**
 * A shortest chain of parts from `start` to `goal`, both included, or undefined when `goal` cannot be reached.
 * @param {PartGraph} graph
 * @param {string} start
 * @param {string} goal
 * @returns {string[] | undefined}
 */
export function findPath(graph, start, goal) {
  /** @type {Map<string, string | null>} */
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const part = /** @type {string} */ (queue.shift());
    if (part === goal) {
      const chain = [];
      for (let step = /** @type {string | null | undefined} */ (part); step; step = previous.get(step)) {
        chain.unshift(step);
      }
      return chain;
    }
    for (const next of graph.get(part)?.keys() ?? []) {
      if (!previous.has(next)) {
        previous.set(next, part);
        queue.push(next);
      }
    }
  }
  return undefined;
}

/**
 * Every import cycle between parts, each as a closed chain (`a → b → a`), one per strongly connected group.
 * @param {PartGraph} graph
 * @returns {string[][]}
 */
export function findCycles(graph) {
  const cycles = [];
  const seen = new Set();
  for (const [part, edges] of [...graph.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (seen.has(part)) continue;
    for (const next of edges.keys()) {
      const back = findPath(graph, next, part);
      if (back) {
        cycles.push([part, ...back]);
        for (const member of back) seen.add(member);
        break;
      }
    }
  }
  return cycles;
}
