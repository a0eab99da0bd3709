import type { Kysely, Migration } from 'kysely';

export const initialMigration: Migration = {
  async up(database: Kysely<unknown>) {
    await database.schema
      .createTable('users')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('email', 'text', (column) => column.notNull().unique())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('role', 'text', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .execute();

    await database.schema
      .createTable('api_keys')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('user_id', 'text', (column) => column.notNull().references('users.id'))
      .addColumn('key_hash', 'text', (column) => column.notNull().unique())
      .addColumn('key_prefix', 'text', (column) => column.notNull())
      .addColumn('allowed_models', 'text')
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('last_used_at', 'bigint')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .execute();
    await database.schema.createIndex('api_keys_user_id').on('api_keys').column('user_id').execute();

    await database.schema
      .createTable('providers')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('type', 'text', (column) => column.notNull())
      .addColumn('base_url', 'text', (column) => column.notNull())
      .addColumn('api_key_sealed', 'text')
      .addColumn('headers', 'text', (column) => column.notNull().defaultTo('{}'))
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .execute();

    await database.schema
      .createTable('usage_records')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('request_id', 'text', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('key_id', 'text')
      .addColumn('model', 'text', (column) => column.notNull())
      .addColumn('provider_id', 'text')
      .addColumn('deployment_model', 'text')
      .addColumn('endpoint', 'text', (column) => column.notNull())
      .addColumn('streamed', 'integer', (column) => column.notNull())
      .addColumn('prompt_tokens', 'integer', (column) => column.notNull())
      .addColumn('completion_tokens', 'integer', (column) => column.notNull())
      .addColumn('cached_tokens', 'integer', (column) => column.notNull())
      .addColumn('usage_source', 'text', (column) => column.notNull())
      .addColumn('cost_micros', 'bigint', (column) => column.notNull())
      .addColumn('latency_ms', 'integer', (column) => column.notNull())
      .addColumn('first_token_ms', 'integer')
      .addColumn('status', 'integer', (column) => column.notNull())
      .addColumn('outcome', 'text', (column) => column.notNull())
      .addColumn('error_code', 'text')
      .execute();
    await database.schema.createIndex('usage_records_created_at').on('usage_records').column('created_at').execute();
    await database.schema
      .createIndex('usage_records_key_created')
      .on('usage_records')
      .columns(['key_id', 'created_at'])
      .execute();

    await database.schema
      .createTable('cache_epochs')
      .addColumn('name', 'text', (column) => column.primaryKey())
      .addColumn('epoch', 'bigint', (column) => column.notNull().defaultTo(0))
      .execute();
  },

  async down(database: Kysely<unknown>) {
    for (const table of ['cache_epochs', 'usage_records', 'providers', 'api_keys', 'users']) {
      await database.schema.dropTable(table).execute();
    }
  },
};
