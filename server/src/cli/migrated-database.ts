import type { Config } from '../config/config.ts';
import { migrateToLatest, openDatabase, type Database } from '../db/database.ts';

/**
 * Opens the configured database, brings it up to date, runs `action` on it and closes it. `action` gets the names
 * of the migrations this run applied. Errors pass through: the CLI prints an AppError or CommandError as one line.
 */
export async function withMigratedDatabase<Result>(
  config: Config,
  action: (db: Database, appliedMigrations: string[]) => Promise<Result>,
): Promise<Result> {
  const database = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const migrations = await migrateToLatest(database.db);
    const applied = (migrations.results ?? [])
      .filter((result) => result.status === 'Success')
      .map((result) => result.migrationName);
    return await action(database.db, applied);
  } finally {
    await database.close();
  }
}
