import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { findCycles, importSpecifiers, readPartGraph, type PartGraph } from '../../../eslint-rules/import-graph.js';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const sourceRoot = path.join(repositoryRoot, 'server/src');

function graphOf(edges: Record<string, string[]>): PartGraph {
  return new Map(
    Object.entries(edges).map(([part, targets]) => [
      part,
      new Map(targets.map((target) => [target, [{ from: part, to: target }]])),
    ]),
  );
}

describe('the import graph of server/src', () => {
  const graph = readPartGraph(sourceRoot);

  it('has no cycle between modules or layers', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('finds cycles, long and short, and only cycles', () => {
    expect(findCycles(graphOf({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] }))).toEqual([['a', 'b', 'c', 'a']]);
    expect(findCycles(graphOf({ keys: ['tenancy'], tenancy: ['keys', 'audit'], audit: [] }))).toEqual([
      ['keys', 'tenancy', 'keys'],
    ]);
    expect(findCycles(graphOf({ api: ['modules/keys'], 'modules/keys': ['db'], db: [] }))).toEqual([]);
  });

  it('reads imports, re-exports and dynamic imports, not comments', () => {
    const source = [
      "import type { A } from './a.ts';",
      "import {\n  B,\n  C,\n} from '../b/index.ts';",
      "export { D } from './d.ts';",
      "export * from './e.ts';",
      "const lazy = await import('./f.ts');",
      "import './g.ts';",
      "// import { H } from './h.ts';",
      "/* import { I } from './i.ts'; */",
      "import { readFileSync } from 'node:fs';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['./a.ts', '../b/index.ts', './d.ts', './e.ts', './f.ts', './g.ts']);
  });

  it('keeps modules below the HTTP layer: no module imports api/, http/, gateway/ or cli/', () => {
    const upward = [...graph.entries()]
      .filter(([part]) => part.startsWith('modules/'))
      .flatMap(([part, edges]) =>
        [...edges.keys()]
          .filter((target) => ['api', 'http', 'gateway', 'cli'].includes(target))
          .map((target) => `${part} → ${target}`),
      );
    expect(upward).toEqual([]);
  });

  it('lets every other part reach a module only through its index.ts', () => {
    const throughInternals = [...graph.values()]
      .flatMap((edges) => [...edges.entries()])
      .filter(([target]) => target.startsWith('modules/'))
      .flatMap(([, imports]) => imports)
      .filter((edge) => path.basename(edge.to) !== 'index.ts')
      .map((edge) => `${path.relative(sourceRoot, edge.from)} → ${path.relative(sourceRoot, edge.to)}`);
    expect(throughInternals).toEqual([]);
  });
});

describe('the ESLint rules that keep the boundaries', () => {
  let eslint: ESLint;
  beforeAll(() => {
    eslint = new ESLint({ cwd: repositoryRoot });
  });

  /** Lints an existing file's text with one import added, as if the file were changed that way. */
  async function messagesWith(file: string, addedImport: string): Promise<string[]> {
    const filePath = path.join(sourceRoot, file);
    const text = `${addedImport}\nvoid imported;\n${readFileSync(filePath, 'utf8')}`;
    const [result] = await eslint.lintText(text, { filePath });
    return (result?.messages ?? [])
      .filter((message) => message.ruleId === 'no-restricted-imports' || message.ruleId === 'local/no-module-cycles')
      .map((message) => `${message.ruleId}: ${message.message}`);
  }

  it('refuses a module importing the HTTP layer, with the reason', async () => {
    const messages = await messagesWith(
      'modules/audit/audit-log.ts',
      "import { sessionCookie as imported } from '../../api/actor-resolver.ts';",
    );
    expect(messages).toContainEqual(expect.stringContaining('never import api/, http/, gateway/ or cli/'));
    // The API depends on modules, so the import would also close a cycle.
    expect(messages).toContainEqual(expect.stringContaining('modules/audit → api → modules/audit'));
  });

  it("refuses a module reaching into another module's internals", async () => {
    const messages = await messagesWith(
      'modules/users/user-repository.ts',
      "import { KeyRepository as imported } from '../keys/key-repository.ts';",
    );
    expect(messages).toEqual([expect.stringContaining('only through its index.ts')]);
  });

  it("refuses api/ reaching into a module's internals", async () => {
    const messages = await messagesWith(
      'api/pagination.ts',
      "import { AccessTokens as imported } from '../modules/identity/access-tokens.ts';",
    );
    expect(messages).toEqual([
      expect.stringContaining('api/, http/ and cli/ reach a module only through its index.ts'),
    ]);
  });

  it('refuses an import that closes a cycle, naming the cycle', async () => {
    const messages = await messagesWith(
      'modules/audit/audit-log.ts',
      "import { LoginService as imported } from '../identity/index.ts';",
    );
    expect(messages).toEqual([
      expect.stringMatching(/^local\/no-module-cycles: .*modules\/audit → modules\/identity → modules\/audit/),
    ]);
  });

  it('keeps modules/shared free of other modules', async () => {
    const messages = await messagesWith(
      'modules/shared/actor.ts',
      "import { AuditLog as imported } from '../audit/index.ts';",
    );
    expect(messages).toContainEqual(expect.stringContaining('modules/shared is the bottom of the module graph'));
  });

  it('accepts the imports the rules allow', async () => {
    expect(
      await messagesWith(
        'modules/users/user-repository.ts',
        "import { keyScopes as imported } from '../keys/index.ts';",
      ),
    ).toEqual([]);
  });
});
