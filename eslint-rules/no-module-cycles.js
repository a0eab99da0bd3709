// @ts-check
/**
 * `local/no-module-cycles`: an import from one part of server/src to another (see import-graph.js for the parts)
 * must not close a cycle. Parts depend one way, so each can be understood, tested and changed from the bottom up.
 */
import path from 'node:path';
import { findPath, partOf, readPartGraph } from './import-graph.js';

/** The graph is read once per lint run; a long-lived process (an editor) reads it again after a few seconds. */
const graphLifetimeMs = 5000;
/** @type {Map<string, { graph: import('./import-graph.js').PartGraph, readAt: number }>} */
const graphs = new Map();

/** @param {string} sourceRoot */
function graphOf(sourceRoot) {
  const cached = graphs.get(sourceRoot);
  if (cached && Date.now() - cached.readAt < graphLifetimeMs) return cached.graph;
  const graph = readPartGraph(sourceRoot);
  graphs.set(sourceRoot, { graph, readAt: Date.now() });
  return graph;
}

/** @param {string} file */
function sourceRootOf(file) {
  const marker = `${path.sep}server${path.sep}src${path.sep}`;
  const index = file.lastIndexOf(marker);
  return index === -1 ? undefined : file.slice(0, index + marker.length - 1);
}

/** @type {import('eslint').Rule.RuleModule} */
export const noModuleCycles = {
  meta: {
    type: 'problem',
    docs: { description: 'forbid imports that close a cycle between parts of server/src (modules and layers)' },
    schema: [],
    messages: {
      cycle:
        'Importing {{target}} from {{own}} closes an import cycle: {{chain}}. Parts of the server depend one way: ' +
        'move what both sides need into modules/shared (or lib), or turn the dependency around (pass it in).',
    },
  },
  create(context) {
    const file = context.physicalFilename;
    const sourceRoot = sourceRootOf(file);
    const own = sourceRoot === undefined ? undefined : partOf(file, sourceRoot);
    if (sourceRoot === undefined || own === undefined) return {};

    /** @param {import('estree').Node & { source?: import('estree').Node | null }} node */
    function check(node) {
      const source = node.source;
      if (!source || source.type !== 'Literal' || typeof source.value !== 'string') return;
      if (!source.value.startsWith('.') || sourceRoot === undefined || own === undefined) return;
      const target = partOf(path.resolve(path.dirname(file), source.value), sourceRoot);
      if (target === undefined || target === own) return;
      const back = findPath(graphOf(sourceRoot), target, own);
      if (back)
        context.report({ node: source, messageId: 'cycle', data: { own, target, chain: [own, ...back].join(' → ') } });
    }

    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export const localPlugin = { rules: { 'no-module-cycles': noModuleCycles } };
