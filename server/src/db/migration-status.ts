import { createMigrator, type Database } from './database.ts';

/**
 * Names of migrations this version knows that the database has not applied, oldest first (read-only; `aihub doctor`).
 * Touches the database, so it also proves it reachable.
 */
export async function listPendingMigrations(db: Database): Promise<string[]> {
  const migrations = await (await createMigrator(db)).getMigrations();
  return migrations.filter((migration) => migration.executedAt === undefined).map((migration) => migration.name);
}
