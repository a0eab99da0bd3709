import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The model registry kept in the database, managed under /api/v1: providers with their credential pools, and models
 * with their deployments. A provider or model belongs to the platform (`org_id` null) or to one organization, and its
 * id (a model's name) is unique per owner; partial unique indexes say so the same way on SQLite and PostgreSQL, where
 * a plain unique index would let several platform rows (null org_id) share an id. Credentials and deployments go with
 * their parent. The earlier `providers` table was never used and is replaced.
 */
export const modelRegistryMigration: Migration = {
  async up(database: Kysely<unknown>) {
    await database.schema.dropTable('providers').execute();

    await database.schema
      .createTable('providers')
      .addColumn('pk', 'text', (column) => column.primaryKey())
      .addColumn('org_id', 'text')
      .addColumn('id', 'text', (column) => column.notNull())
      .addColumn('type', 'text')
      .addColumn('preset', 'text')
      .addColumn('base_url', 'text')
      .addColumn('headers', 'text', (column) => column.notNull().defaultTo('{}'))
      .addColumn('options', 'text', (column) => column.notNull().defaultTo('{}'))
      .addColumn('max_connections', 'integer')
      .addColumn('timeouts', 'text')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .execute();
    await sql`create unique index providers_platform_id on providers (id) where org_id is null`.execute(database);
    await sql`create unique index providers_org_id on providers (org_id, id) where org_id is not null`.execute(
      database,
    );

    await database.schema
      .createTable('provider_credentials')
      .addColumn('pk', 'text', (column) => column.primaryKey())
      .addColumn('provider_pk', 'text', (column) => column.notNull().references('providers.pk').onDelete('cascade'))
      .addColumn('id', 'text', (column) => column.notNull())
      .addColumn('api_key_sealed', 'text')
      .addColumn('hint', 'text')
      .addColumn('weight', 'integer', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .addUniqueConstraint('provider_credentials_id', ['provider_pk', 'id'])
      .execute();

    await database.schema
      .createTable('models')
      .addColumn('pk', 'text', (column) => column.primaryKey())
      .addColumn('org_id', 'text')
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('kind', 'text', (column) => column.notNull())
      .addColumn('aliases', 'text', (column) => column.notNull().defaultTo('[]'))
      .addColumn('strategy', 'text')
      .addColumn('retry', 'text')
      .addColumn('fallbacks', 'text')
      .addColumn('pricing', 'text')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .execute();
    await sql`create unique index models_platform_name on models (name) where org_id is null`.execute(database);
    await sql`create unique index models_org_name on models (org_id, name) where org_id is not null`.execute(database);

    await database.schema
      .createTable('model_deployments')
      .addColumn('pk', 'text', (column) => column.primaryKey())
      .addColumn('model_pk', 'text', (column) => column.notNull().references('models.pk').onDelete('cascade'))
      .addColumn('position', 'integer', (column) => column.notNull())
      .addColumn('provider_id', 'text', (column) => column.notNull())
      .addColumn('upstream_model', 'text', (column) => column.notNull())
      .addColumn('weight', 'integer')
      .addColumn('priority', 'integer')
      .addColumn('pricing', 'text')
      .addColumn('timeouts', 'text')
      .execute();
    await database.schema
      .createIndex('model_deployments_model')
      .on('model_deployments')
      .columns(['model_pk', 'position'])
      .execute();
  },

  async down(database: Kysely<unknown>) {
    for (const table of ['model_deployments', 'models', 'provider_credentials', 'providers']) {
      await database.schema.dropTable(table).execute();
    }
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
  },
};
