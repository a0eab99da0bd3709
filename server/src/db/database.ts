import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  Kysely,
  Migrator,
  PostgresDialect,
  PostgresIntrospector,
  SqliteDialect,
  sql,
  type MigrationResultSet,
} from 'kysely';
import type { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { migrationProvider } from './migrations/index.ts';
import { openNodeSqlite } from './node-sqlite-adapter.ts';
import type { DatabaseSchema } from './schema.ts';

export type Database = Kysely<DatabaseSchema>;
export type DatabaseEngine = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Database;
  readonly engine: DatabaseEngine;
  /** The embedded engine's connection, for the few hot writes that use cached prepared statements directly. */
  readonly sqlite?: DatabaseSync;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; when absent the embedded SQLite file `<dataDir>/aihub.db` is used. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** PostgreSQL schema (search_path) to use; tests give each run its own. */
  postgresSchema?: string;
  poolSize?: number;
}

const bigintTypeId = 20;
const numericTypeId = 1700;

export function openDatabase(options: OpenDatabaseOptions): DatabaseHandle {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      // Times (ms) and money (micro-units) are BIGINT; both stay far below 2^53, so numbers are exact.
      types: { getTypeParser: parsePostgresType },
      options: options.postgresSchema ? `-c search_path=${options.postgresSchema}` : undefined,
    });
    const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
    return { db, engine: 'postgres', close: () => db.destroy() };
  }
  mkdirSync(options.dataDir, { recursive: true });
  const sqlite = openNodeSqlite(path.join(options.dataDir, 'aihub.db'));
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, engine: 'sqlite', sqlite: sqlite.raw, close: () => db.destroy() };
}

function parsePostgresType(typeId: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (typeId === bigintTypeId || typeId === numericTypeId) return Number;
  return pg.types.getTypeParser(typeId, format) as (value: string) => unknown;
}

export async function migrateToLatest(db: Database): Promise<MigrationResultSet> {
  const migrationTableSchema = await readPostgresSchema(db);
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: 'schema_migrations',
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
  const result = await migrator.migrateToLatest();
  if (result.error)
    throw result.error instanceof Error ? result.error : new Error('migration failed', { cause: result.error });
  return result;
}

/**
 * Kysely's migrator looks for its bookkeeping tables in every schema it can see, so on a PostgreSQL database that
 * holds another schema with a `schema_migrations` table (a shared server, one schema per test) it would skip creating
 * ours and then fail. Pinning the schema the connection works in keeps the bookkeeping beside the tables it tracks.
 */
async function readPostgresSchema(db: Database): Promise<string | undefined> {
  if (!(db.introspection instanceof PostgresIntrospector)) return undefined;
  const result = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  return result.rows[0]?.schema ?? undefined;
}
