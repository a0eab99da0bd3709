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
import { parseExactDecimal, parseExactInteger } from '../lib/money.ts';
import { migrationProvider } from './migrations/index.ts';
import { openNodeSqlite } from './node-sqlite-adapter.ts';
import { ResilientPostgresPool, type DatabaseFault, type DatabaseReachability } from './postgres-pool.ts';
import { ensurePrivateDirectory, ensurePrivateFile, tightenIfPresent } from './private-files.ts';
import type { DatabaseSchema } from './schema.ts';

export type { DatabaseFault, DatabaseReachability } from './postgres-pool.ts';

export type Database = Kysely<DatabaseSchema>;
export type DatabaseEngine = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Database;
  readonly engine: DatabaseEngine;
  /** The embedded engine's connection, for the few hot writes that use cached prepared statements directly. */
  readonly sqlite?: DatabaseSync;
  /** Whether the last statements reached the database (always true for the embedded engine). */
  reachability(): DatabaseReachability;
  /** Told once when the database becomes unreachable, when a pooled connection drops, and when it recovers. */
  observe(listener: (fault: DatabaseFault) => void): void;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL URL; when absent the embedded SQLite file `<dataDir>/aihub.db` is used. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** PostgreSQL schema (search_path) to use; tests give each run its own. */
  postgresSchema?: string;
  poolSize?: number;
  /** PostgreSQL: longest wait for a connection (TCP connect, startup, or a free pool slot). */
  connectTimeoutMs?: number;
  /** PostgreSQL: statement timeout; the client gives up shortly after it if the server answers nothing. */
  queryTimeoutMs?: number;
}

/** Defaults for a database on the same network: long enough for a loaded server, short enough to fail visibly. */
const defaultDatabaseTimeouts = { connectTimeoutMs: 2000, queryTimeoutMs: 5000 } as const;

const bigintTypeId = 20;
const numericTypeId = 1700;

/** Migrations may legitimately run long (an index on a large table): they get their own pool without timeouts. */
const migrationPools = new WeakMap<Database, () => ResilientPostgresPool>();

const alwaysReachable: DatabaseReachability = { reachable: true, lastError: undefined, unreachableSince: undefined };

export function openDatabase(options: OpenDatabaseOptions): DatabaseHandle {
  // The data directory holds the journal and the secret key whatever the engine: owner-only, like its files.
  ensurePrivateDirectory(options.dataDir);
  tightenIfPresent(path.join(options.dataDir, 'secret.key'));
  if (options.databaseUrl) {
    const poolOptions = {
      connectionString: options.databaseUrl,
      poolSize: options.poolSize ?? 10,
      postgresSchema: options.postgresSchema,
      connectTimeoutMs: options.connectTimeoutMs ?? defaultDatabaseTimeouts.connectTimeoutMs,
      queryTimeoutMs: options.queryTimeoutMs ?? defaultDatabaseTimeouts.queryTimeoutMs,
      getTypeParser: parsePostgresType,
    };
    const pool = new ResilientPostgresPool(poolOptions);
    const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
    migrationPools.set(db, () => new ResilientPostgresPool({ ...poolOptions, poolSize: 1, queryTimeoutMs: undefined }));
    return {
      db,
      engine: 'postgres',
      reachability: () => pool.reachability,
      observe: (listener) => pool.observe(listener),
      close: () => db.destroy(),
    };
  }
  const databaseFile = path.join(options.dataDir, 'aihub.db');
  ensurePrivateFile(databaseFile);
  // Files left by an older version with looser permissions; new ones inherit the database file's mode.
  for (const suffix of ['-wal', '-shm', '-journal']) tightenIfPresent(databaseFile + suffix);
  const sqlite = openNodeSqlite(databaseFile);
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    engine: 'sqlite',
    sqlite: sqlite.raw,
    reachability: () => alwaysReachable,
    observe: () => undefined,
    close: () => db.destroy(),
  };
}

/**
 * BIGINT (times in ms, money in micro-units, counts) and NUMERIC (sums) are read exactly, never through a float:
 * see lib/money.ts for the rule.
 */
function parsePostgresType(typeId: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (typeId === bigintTypeId) return parseExactInteger;
  if (typeId === numericTypeId) return parseExactDecimal;
  return pg.types.getTypeParser(typeId, format) as (value: string) => unknown;
}

export async function migrateToLatest(db: Database): Promise<MigrationResultSet> {
  const openMigrationPool = migrationPools.get(db);
  if (!openMigrationPool) return runMigrations(db);
  const migrationDb = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool: openMigrationPool() }) });
  try {
    return await runMigrations(migrationDb);
  } finally {
    await migrationDb.destroy();
  }
}

async function runMigrations(db: Database): Promise<MigrationResultSet> {
  const migrator = await createMigrator(db);
  const result = await migrator.migrateToLatest();
  if (result.error)
    throw result.error instanceof Error ? result.error : new Error('migration failed', { cause: result.error });
  return result;
}

/** The migrator for this version's migrations, with its bookkeeping in the schema the connection works in. */
export async function createMigrator(db: Database): Promise<Migrator> {
  const migrationTableSchema = await readPostgresSchema(db);
  return new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: 'schema_migrations',
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
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
