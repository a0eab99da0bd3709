import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '../../src/db/database.ts';
import { isAppError } from '../../src/errors/app-error.ts';

/**
 * The embedded database is one file; another process (an `aihub` CLI command, a backup) can hold its write lock for
 * longer than the busy timeout. That is a moment of unavailability, answered like an unreachable PostgreSQL: a
 * retryable 503, not a 500.
 */
describe('a SQLite file locked by another process', () => {
  let dataDir: string;
  let database: DatabaseHandle;
  let other: DatabaseSync;
  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-busy-'));
    database = openDatabase({ databaseUrl: undefined, dataDir });
    await migrateToLatest(database.db);
    database.sqlite!.exec('PRAGMA busy_timeout = 20');
    other = new DatabaseSync(path.join(dataDir, 'aihub.db'));
  });
  afterEach(async () => {
    other.close();
    await database.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers a write with database_unavailable while the lock is held, and writes once it is released', async () => {
    other.exec('begin immediate');
    const write = () => sql`insert into cache_epochs (name, epoch) values ('busy-test', 1)`.execute(database.db);

    const error: unknown = await write().catch((caught: unknown) => caught);
    expect(isAppError(error) && error.code).toBe('database_unavailable');
    expect(isAppError(error) && error.status).toBe(503);

    other.exec('rollback');
    await expect(write()).resolves.toBeDefined();
  });

  it('leaves statement errors as they are', async () => {
    const error: unknown = await sql`select * from no_such_table`
      .execute(database.db)
      .catch((caught: unknown) => caught);
    expect(isAppError(error)).toBe(false);
  });
});
