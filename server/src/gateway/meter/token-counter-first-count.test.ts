import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importSpecifiers } from '../../../../eslint-rules/import-graph.js';
import { TokenCounter } from './token-counter.ts';

const sourceRoot = path.resolve(import.meta.dirname, '../..');

/** Every file and package the process reaches by import from `entry`; a worker's script is not an import. */
function reachableFrom(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) {
        packages.add(specifier);
        continue;
      }
      const target = path.resolve(path.dirname(file), specifier);
      if (existsSync(target)) pending.push(target);
    }
  }
  return { files, packages };
}

/**
 * The first count after start used to build the tokenizer's rank table on the event loop, stalling every request for
 * 1.5–3.8 s. Building it is now the worker's job alone: nothing the serving process imports reaches the tokenizer.
 */
describe('token counting stays off the event loop', () => {
  it('is not reachable by import from the serving process, only from the worker', () => {
    const served = reachableFrom(path.join(sourceRoot, 'cli/index.ts'));
    expect(served.files).toContain(path.join(sourceRoot, 'gateway/meter/token-counter.ts'));
    expect(served.files).not.toContain(path.join(sourceRoot, 'gateway/meter/tokenizer.ts'));
    expect([...served.packages].filter((name) => name.startsWith('js-tiktoken'))).toEqual([]);

    const worker = reachableFrom(path.join(sourceRoot, 'gateway/meter/token-counter-worker.ts'));
    expect(worker.files).toContain(path.join(sourceRoot, 'gateway/meter/tokenizer.ts'));
  });

  it('answers the first count exactly, from the worker', async () => {
    const counter = new TokenCounter();
    try {
      expect(await counter.count('hello world')).toBe(2);
    } finally {
      await counter.close();
    }
  });
});
