/** Types for import-graph.js (plain JavaScript so ESLint can load it without a build step). */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}
export type PartGraph = Map<string, Map<string, ImportEdge[]>>;
export function importSpecifiers(source: string): string[];
export function partOf(file: string, sourceRoot: string): string | undefined;
export function readPartGraph(sourceRoot: string): PartGraph;
export function findPath(graph: PartGraph, start: string, goal: string): string[] | undefined;
export function findCycles(graph: PartGraph): string[][];
