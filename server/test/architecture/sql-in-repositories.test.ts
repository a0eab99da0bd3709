import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');
const sourceRoot = path.join(repositoryRoot, 'server/src');

const queryBuilderCall = /\.(selectFrom|insertInto|updateTable|deleteFrom|selectNoFrom)\s*\(/;
const rawSql = /\bsql\s*(<[^`]*>)?\s*`|\bsql\.(raw|ref|lit|id|join|table|val)\s*\(/;

/** Where SQL may be written: repositories, db/ (connections, migrations, maintenance) and the shared keyset helpers. */
function mayHoldSql(file: string): boolean {
  return (
    file.endsWith('-repository.ts') ||
    file.startsWith('db/') ||
    file === 'modules/shared/list-query.ts' ||
    file.endsWith('.test.ts')
  );
}

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.relative(sourceRoot, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
}

describe('SQL in server/src', () => {
  it('is written only in repositories and db/', () => {
    const outside = sourceFiles(sourceRoot)
      .filter((file) => !mayHoldSql(file))
      .filter((file) => {
        const text = readFileSync(path.join(sourceRoot, file), 'utf8');
        return queryBuilderCall.test(text) || rawSql.test(text);
      });
    expect(outside).toEqual([]);
  });

  it('would be found by the scan above in a service', () => {
    expect(queryBuilderCall.test("await this.#db.selectFrom('users').select('email')")).toBe(true);
    expect(rawSql.test('await sql<{ one: number }>`select 1 as one`.execute(db)')).toBe(true);
    expect(queryBuilderCall.test('await this.#db.transaction().execute(async (transaction) => {')).toBe(false);
  });
});

describe('the ESLint rule that keeps SQL in repositories', () => {
  let eslint: ESLint;
  beforeAll(() => {
    eslint = new ESLint({ cwd: repositoryRoot });
  });

  /** Lints an existing file's text with `added` appended, as if the file were changed that way. */
  async function sqlMessagesWith(file: string, added: string): Promise<string[]> {
    const filePath = path.join(sourceRoot, file);
    const text = `${readFileSync(filePath, 'utf8')}\n${added}\n`;
    const [result] = await eslint.lintText(text, { filePath });
    return (result?.messages ?? [])
      .filter((message) => message.ruleId === 'no-restricted-syntax')
      .map((message) => message.message);
  }

  const queryInService = [
    'declare const sampleDb: { selectFrom(table: string): { execute(): Promise<unknown> } };',
    "export const sampleRows = sampleDb.selectFrom('users').execute();",
  ].join('\n');

  it('refuses a query built in a service, with the reason', async () => {
    expect(await sqlMessagesWith('modules/tenancy/invitation-service.ts', queryInService)).toEqual([
      expect.stringContaining('SQL lives in repositories'),
    ]);
  });

  it('refuses every write builder and raw sql in the HTTP layer', async () => {
    const added = [
      'declare const sampleDb: Record<string, (table: string) => unknown>;',
      'declare function sql<T>(strings: TemplateStringsArray): T;',
      "void sampleDb.insertInto('users');",
      "void sampleDb.updateTable('users');",
      "void sampleDb.deleteFrom('users');",
      'void sql<number>`select 1`;',
    ].join('\n');
    const messages = await sqlMessagesWith('http/health.ts', added);
    expect(messages).toHaveLength(4);
    for (const message of messages) expect(message).toContain('SQL lives in repositories');
  });

  it('accepts the same query in a repository and in db/', async () => {
    expect(await sqlMessagesWith('modules/tenancy/member-repository.ts', queryInService)).toEqual([]);
    expect(await sqlMessagesWith('db/database.ts', 'void sql`select 1`;')).toEqual([]);
  });

  it('still refuses process.env outside config/ beside the SQL rule', async () => {
    expect(await sqlMessagesWith('modules/tenancy/invitation-service.ts', 'void process.env.HOME;')).toEqual([
      expect.stringContaining('only config/ and entry points read process.env'),
    ]);
  });
});
