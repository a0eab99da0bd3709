import { Migrator, PostgresIntrospector, sql } from 'kysely';
import type { Database } from './database.ts';
import { migrationProvider } from './migrations/index.ts';

/**
 * Names of migrations this version knows that the database has not applied, oldest first (read-only; `aihub doctor`).
 * Touches the database, so it also proves it reachable.
 */
export async function listPendingMigrations(db: Database): Promise<string[]> {
  const schema =
    db.introspection instanceof PostgresIntrospector
      ? (await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db)).rows[0]?.schema
      : undefined;
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: 'schema_migrations',
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const migrations = await migrator.getMigrations();
  return migrations.filter((migration) => migration.executedAt === undefined).map((migration) => migration.name);
}
