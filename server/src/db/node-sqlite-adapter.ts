import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { databaseUnavailable, isDatabaseUnavailableError } from './database-faults.ts';

/**
 * Presents Node's built-in `node:sqlite` through the small interface Kysely's SqliteDialect expects.
 * Built in means no native addon compiled for the wrong Node version; the adapter only spreads
 * parameters and maps JavaScript booleans, which SQLite stores as integers.
 */
export function openNodeSqlite(filePath: string): SqliteDatabase & { raw: DatabaseSync } {
  const database = new DatabaseSync(filePath);
  database.exec('PRAGMA journal_mode = WAL');
  database.exec('PRAGMA synchronous = NORMAL');
  database.exec('PRAGMA busy_timeout = 5000');
  database.exec('PRAGMA foreign_keys = ON');
  return {
    raw: database,
    close: () => database.close(),
    prepare: (sql) => wrapStatement(database.prepare(sql)),
  };
}

function wrapStatement(statement: StatementSync): SqliteStatement {
  return {
    reader: statement.columns().length > 0,
    all: (parameters) => mapFaults(() => statement.all(...toSqliteValues(parameters))),
    run: (parameters) => mapFaults(() => statement.run(...toSqliteValues(parameters))),
    iterate: (parameters) => statement.iterate(...toSqliteValues(parameters)),
  };
}

/**
 * A file locked by another process past the busy timeout (a CLI command, a backup) or a failing disk answers the
 * same retryable 503 as an unreachable PostgreSQL, instead of a 500.
 */
function mapFaults<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw isDatabaseUnavailableError(error) ? databaseUnavailable(error) : error;
  }
}

function toSqliteValues(parameters: ReadonlyArray<unknown>): SQLInputValue[] {
  return parameters.map((value) => {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (value === undefined) return null;
    return value as SQLInputValue;
  });
}
