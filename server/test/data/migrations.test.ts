import { afterEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { migrationProvider } from '../../src/db/migrations/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';

const expectedTables = [
  'api_keys',
  'audit_events',
  'cache_epochs',
  'idempotency_records',
  'invitations',
  'org_members',
  'organizations',
  'providers',
  'refresh_tokens',
  'team_members',
  'teams',
  'usage_records',
  'user_tokens',
  'users',
];
/** Kysely's record of applied migrations, renamed by migrateToLatest (its lock table is hidden from introspection). */
const migrationTables = new Set(['schema_migrations']);

/** Table names in this test's own database; PostgreSQL introspection sees every schema, including other tests'. */
async function listOwnTables(database: TestDatabase): Promise<string[]> {
  const tables = await database.handle.db.introspection.getTables();
  return tables
    .filter((table) => database.postgresSchema === undefined || table.schema === database.postgresSchema)
    .map((table) => table.name);
}

describe.each(testEngines)('migrations on %s', (engine) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.handle.close();
    await database?.drop();
    database = undefined;
  });

  it('apply every migration to an empty database and create the tables', async () => {
    database = await createTestDatabase(engine);
    expect(await listOwnTables(database)).toEqual([]);

    const result = await migrateToLatest(database.handle.db);

    const allMigrations = Object.keys(await migrationProvider.getMigrations()).sort();
    expect(allMigrations.slice(0, 2)).toEqual(['0001-initial', '0002-identity-and-tenancy']);
    expect(result.results?.map((migration) => [migration.migrationName, migration.status])).toEqual(
      allMigrations.map((name) => [name, 'Success']),
    );
    const tableNames = await listOwnTables(database);
    // Later migrations add tables; these are the ones the first two must create.
    expect(tableNames.filter((name) => !migrationTables.has(name))).toEqual(expect.arrayContaining(expectedTables));
    expect(tableNames).toContain('schema_migrations');
  });

  it('apply nothing the second time, also from a second connection', async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);

    const again = await migrateToLatest(database.handle.db);
    expect(again.results).toEqual([]);

    const secondConnection = database.reopen();
    try {
      const fromElsewhere = await migrateToLatest(secondConnection.db);
      expect(fromElsewhere.results).toEqual([]);
    } finally {
      await secondConnection.close();
    }
  });

  it('migrate a database that shares its server with another already migrated one', async () => {
    // On PostgreSQL the two are schemas of one database: the second must not mistake the first's tables for its own.
    const neighbour = await createTestDatabase(engine);
    try {
      await migrateToLatest(neighbour.handle.db);
      database = await createTestDatabase(engine);

      const result = await migrateToLatest(database.handle.db);

      const migrationCount = Object.keys(await migrationProvider.getMigrations()).length;
      expect(result.results?.map((migration) => migration.status)).toEqual(Array(migrationCount).fill('Success'));
      expect(await listOwnTables(database)).toContain('usage_records');
      expect(await database.handle.db.selectFrom('users').selectAll().execute()).toEqual([]);
    } finally {
      await neighbour.handle.close();
      await neighbour.drop();
    }
  });
});
