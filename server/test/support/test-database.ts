import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, type DatabaseEngine, type DatabaseHandle } from '../../src/db/database.ts';

/** PostgreSQL used by the suite; .ci/run makes sure it is up. Override with AIHUB_TEST_DATABASE_URL. */
export const testPostgresUrl = process.env.AIHUB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const testEngines: readonly DatabaseEngine[] = ['sqlite', 'postgres'];

/** Runs one statement on the test PostgreSQL server over a connection of its own (schemas, terminating backends). */
export async function runPostgresAdmin(statement: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: testPostgresUrl });
  await client.connect();
  try {
    return await client.query(statement);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  readonly handle: DatabaseHandle;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly postgresSchema: string | undefined;
  /** Opens another connection to the same database (e.g. a second instance). */
  reopen(): DatabaseHandle;
  drop(): Promise<void>;
}

/**
 * A fresh, isolated database: a temporary SQLite file, or a PostgreSQL schema of its own in the `test` database,
 * so test files can run in parallel against one server.
 */
export async function createTestDatabase(engine: DatabaseEngine): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-test-'));
  if (engine === 'sqlite') {
    const open = () => openDatabase({ databaseUrl: undefined, dataDir });
    return {
      handle: open(),
      dataDir,
      databaseUrl: undefined,
      postgresSchema: undefined,
      reopen: open,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  await runPostgresAdmin(`create schema ${schema}`);
  const open = () => openDatabase({ databaseUrl: testPostgresUrl, dataDir, postgresSchema: schema, poolSize: 4 });
  return {
    handle: open(),
    dataDir,
    databaseUrl: testPostgresUrl,
    postgresSchema: schema,
    reopen: open,
    drop: async () => {
      await runPostgresAdmin(`drop schema if exists ${schema} cascade`);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
