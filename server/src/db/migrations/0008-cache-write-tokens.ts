import type { Kysely, Migration } from 'kysely';

/**
 * Usage records count the prompt tokens written to the provider's cache (Anthropic's `cache_creation_input_tokens`),
 * which are priced apart from plain input. Records written before this migration wrote none: 0.
 */
export const cacheWriteTokensMigration: Migration = {
  async up(database: Kysely<unknown>) {
    await database.schema
      .alterTable('usage_records')
      .addColumn('cache_write_tokens', 'integer', (column) => column.notNull().defaultTo(0))
      .execute();
  },

  async down(database: Kysely<unknown>) {
    await database.schema.alterTable('usage_records').dropColumn('cache_write_tokens').execute();
  },
};
