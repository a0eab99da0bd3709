import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Traffic control: rate, token and concurrency limits and budgets for an organization's subjects (the organization,
 * its teams, its members), the threshold alerts budgets raise, the heartbeats of live instances (cluster mode splits
 * limits between them), and a key's own concurrency limit and budget period.
 *
 * A limit rule for every model stores `model` as '' rather than NULL: a unique index treats NULLs as distinct on both
 * engines, and '' is never a model name, so one index keeps "one rule per subject and model" for both cases.
 */
export const trafficControlMigration: Migration = {
  async up(database: Kysely<unknown>) {
    await database.schema
      .createTable('traffic_limits')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('org_id', 'text', (column) => column.notNull())
      .addColumn('subject_type', 'text', (column) => column.notNull())
      .addColumn('subject_id', 'text', (column) => column.notNull())
      .addColumn('model', 'text', (column) => column.notNull().defaultTo(''))
      .addColumn('rpm_limit', 'integer')
      .addColumn('tpm_limit', 'integer')
      .addColumn('concurrency_limit', 'integer')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .execute();
    await database.schema
      .createIndex('traffic_limits_subject_model')
      .on('traffic_limits')
      .columns(['org_id', 'subject_type', 'subject_id', 'model'])
      .unique()
      .execute();

    await database.schema
      .createTable('budgets')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('org_id', 'text', (column) => column.notNull())
      .addColumn('subject_type', 'text', (column) => column.notNull())
      .addColumn('subject_id', 'text', (column) => column.notNull())
      .addColumn('amount_micros', 'bigint', (column) => column.notNull())
      .addColumn('period', 'text', (column) => column.notNull())
      .addColumn('alert_thresholds', 'text', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .execute();
    await database.schema
      .createIndex('budgets_subject_period')
      .on('budgets')
      .columns(['org_id', 'subject_type', 'subject_id', 'period'])
      .unique()
      .execute();

    await database.schema
      .createTable('budget_alerts')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('org_id', 'text')
      .addColumn('budget_ref', 'text', (column) => column.notNull())
      .addColumn('subject_type', 'text', (column) => column.notNull())
      .addColumn('subject_id', 'text', (column) => column.notNull())
      .addColumn('period_start', 'bigint', (column) => column.notNull())
      .addColumn('threshold', 'integer', (column) => column.notNull())
      .addColumn('amount_micros', 'bigint', (column) => column.notNull())
      .addColumn('spent_micros', 'bigint', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .execute();
    // Every instance may see the same crossing; the first insert wins and the others are ignored.
    await database.schema
      .createIndex('budget_alerts_once')
      .on('budget_alerts')
      .columns(['budget_ref', 'period_start', 'threshold'])
      .unique()
      .execute();
    await database.schema
      .createIndex('budget_alerts_org')
      .on('budget_alerts')
      .columns(['org_id', 'created_at'])
      .execute();

    await database.schema
      .createTable('instances')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('started_at', 'bigint', (column) => column.notNull())
      .addColumn('heartbeat_at', 'bigint', (column) => column.notNull())
      .execute();

    await database.schema.alterTable('api_keys').addColumn('concurrency_limit', 'integer').execute();
    await database.schema
      .alterTable('api_keys')
      .addColumn('budget_period', 'text', (column) => column.notNull().defaultTo('total'))
      .execute();
    // Team spend sums the usage of the team's keys; usage_records_key_created then serves each key's range.
    await database.schema.createIndex('api_keys_team').on('api_keys').column('team_id').execute();
  },

  async down(database: Kysely<unknown>) {
    await sql`drop index api_keys_team`.execute(database);
    await database.schema.alterTable('api_keys').dropColumn('budget_period').execute();
    await database.schema.alterTable('api_keys').dropColumn('concurrency_limit').execute();
    for (const table of ['instances', 'budget_alerts', 'budgets', 'traffic_limits']) {
      await database.schema.dropTable(table).execute();
    }
  },
};
