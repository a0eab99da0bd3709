import { chmodSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { backup, DatabaseSync } from 'node:sqlite';

export const sqliteFileName = 'aihub.db';

export interface SqliteFileReport {
  readonly bytes: number;
  /** Applied migrations recorded in the file, oldest first. */
  readonly migrations: readonly string[];
}

/** The file could not be used as an AI Hub database; the message says why in one line. */
export class SqliteFileError extends Error {}

/**
 * Copies a live database into `target` with SQLite's online backup API: a consistent snapshot even while the server
 * writes (a write during the copy makes SQLite restart it), without stopping anything. The copy is written beside the
 * target and renamed into place only after its integrity check passes, so a half-written backup never exists.
 */
export async function backupSqliteFile(source: string, target: string): Promise<SqliteFileReport> {
  if (!existsSync(source)) throw new SqliteFileError(`no database at ${source}: nothing to back up`);
  if (existsSync(target)) throw new SqliteFileError(`${target} already exists: choose a new file name`);
  const partial = `${target}.partial-${process.pid}`;
  const database = new DatabaseSync(source, { timeout: 5000 });
  try {
    // Large steps: each step holds a read lock only briefly, and fewer steps mean fewer restarts under writes.
    await backup(database, partial, { rate: 1024 });
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    database.close();
  }
  try {
    // The copy inherits WAL mode; a backup should be one self-contained file, with no -wal/-shm beside it.
    const copy = new DatabaseSync(partial);
    try {
      copy.exec('pragma journal_mode = delete');
    } finally {
      copy.close();
    }
    const report = verifySqliteFile(partial);
    // It holds key hashes and sealed provider credentials: owner-only, like the database itself.
    chmodSync(partial, 0o600);
    renameSync(partial, target);
    return report;
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

/** Opens a file read-only and checks it is an intact AI Hub database; throws SqliteFileError otherwise. */
export function verifySqliteFile(file: string): SqliteFileReport {
  if (!existsSync(file)) throw new SqliteFileError(`${file} does not exist`);
  let database: DatabaseSync;
  try {
    database = new DatabaseSync(file, { readOnly: true });
  } catch (error) {
    throw new SqliteFileError(`${file} cannot be opened as SQLite: ${(error as Error).message}`);
  }
  try {
    let integrity: string[];
    try {
      integrity = database
        .prepare('pragma integrity_check')
        .all()
        .map((row) => String(Object.values(row)[0]));
    } catch (error) {
      throw new SqliteFileError(`${file} is not a SQLite database: ${(error as Error).message}`);
    }
    if (integrity.length !== 1 || integrity[0] !== 'ok') {
      throw new SqliteFileError(`${file} failed its integrity check: ${integrity.slice(0, 3).join('; ')}`);
    }
    const hasMigrations = database
      .prepare("select 1 as found from sqlite_master where type = 'table' and name = 'schema_migrations'")
      .get();
    if (!hasMigrations)
      throw new SqliteFileError(`${file} is SQLite but not an AI Hub database (no schema_migrations)`);
    const migrations = database
      .prepare('select name from schema_migrations order by name')
      .all()
      .map((row) => String(row.name));
    return { bytes: statSync(file).size, migrations };
  } finally {
    database.close();
  }
}

/**
 * Replaces `databaseFile` with a verified copy of `backupFile`. The current database is first checkpointed (its WAL
 * folded in) and kept as `<file>.before-restore-<time>`; its -wal/-shm files go, so nothing of it leaks into the
 * restored one. Returns where the previous database was kept, if there was one.
 */
export function restoreSqliteFile(backupFile: string, databaseFile: string, now: number): string | undefined {
  const incoming = `${databaseFile}.restoring-${process.pid}`;
  const source = new DatabaseSync(backupFile, { readOnly: true });
  try {
    // Not a plain file copy: a backup taken by another tool may itself be in WAL mode with a sidecar.
    source.exec(`vacuum into '${incoming.replaceAll("'", "''")}'`);
  } finally {
    source.close();
  }
  let keptAs: string | undefined;
  try {
    verifySqliteFile(incoming);
    chmodSync(incoming, 0o600);
    if (existsSync(databaseFile)) {
      const current = new DatabaseSync(databaseFile, { timeout: 5000 });
      try {
        current.exec('pragma wal_checkpoint(truncate)');
      } finally {
        current.close();
      }
      keptAs = `${databaseFile}.before-restore-${new Date(now).toISOString().replaceAll(':', '-')}`;
      renameSync(databaseFile, keptAs);
    }
    rmSync(`${databaseFile}-wal`, { force: true });
    rmSync(`${databaseFile}-shm`, { force: true });
    renameSync(incoming, databaseFile);
    return keptAs;
  } catch (error) {
    rmSync(incoming, { force: true });
    throw error;
  }
}
