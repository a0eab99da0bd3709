import type { Kysely, Migration } from 'kysely';

/**
 * Idempotency records learn what authorized them and how old they are: `authorizations` holds the permission checks
 * the first request passed (re-run before any replay), and an index on `created_at` lets expired records be swept.
 */
export const idempotencyLifetimeMigration: Migration = {
  async up(database: Kysely<unknown>) {
    await database.schema.alterTable('idempotency_records').addColumn('authorizations', 'text').execute();
    await database.schema
      .createIndex('idempotency_records_created')
      .on('idempotency_records')
      .column('created_at')
      .execute();
  },

  async down(database: Kysely<unknown>) {
    await database.schema.dropIndex('idempotency_records_created').execute();
    await database.schema.alterTable('idempotency_records').dropColumn('authorizations').execute();
  },
};
