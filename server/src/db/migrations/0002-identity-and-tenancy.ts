import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Users with credentials, organizations → teams → members, invitations, sessions (refresh tokens), one-time user
 * tokens, org-owned API keys with scopes, audit events and idempotency records. Every tenant-owned row carries
 * `org_id`.
 */
export const identityAndTenancyMigration: Migration = {
  async up(database: Kysely<unknown>) {
    await database.schema.alterTable('users').addColumn('password_hash', 'text').execute();
    await database.schema.alterTable('users').addColumn('email_verified_at', 'bigint').execute();
    await database.schema.alterTable('users').addColumn('disabled_at', 'bigint').execute();
    await database.schema.alterTable('users').addColumn('updated_at', 'bigint').execute();
    await sql`update users set updated_at = created_at`.execute(database);

    await database.schema
      .createTable('organizations')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('settings', 'text', (column) => column.notNull().defaultTo('{}'))
      .addColumn('deleted_at', 'bigint')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .execute();

    await database.schema
      .createTable('org_members')
      .addColumn('org_id', 'text', (column) => column.notNull().references('organizations.id'))
      .addColumn('user_id', 'text', (column) => column.notNull().references('users.id'))
      .addColumn('role', 'text', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addPrimaryKeyConstraint('org_members_pk', ['org_id', 'user_id'])
      .execute();
    await database.schema.createIndex('org_members_user').on('org_members').column('user_id').execute();

    await database.schema
      .createTable('teams')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('org_id', 'text', (column) => column.notNull().references('organizations.id'))
      .addColumn('name', 'text', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .execute();
    await database.schema.createIndex('teams_org').on('teams').columns(['org_id', 'name']).unique().execute();

    await database.schema
      .createTable('team_members')
      .addColumn('team_id', 'text', (column) => column.notNull().references('teams.id'))
      .addColumn('org_id', 'text', (column) => column.notNull().references('organizations.id'))
      .addColumn('user_id', 'text', (column) => column.notNull().references('users.id'))
      .addColumn('role', 'text', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addPrimaryKeyConstraint('team_members_pk', ['team_id', 'user_id'])
      .execute();
    await database.schema
      .createIndex('team_members_org_user')
      .on('team_members')
      .columns(['org_id', 'user_id'])
      .execute();

    await database.schema
      .createTable('invitations')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('org_id', 'text', (column) => column.notNull().references('organizations.id'))
      .addColumn('email', 'text', (column) => column.notNull())
      .addColumn('role', 'text', (column) => column.notNull())
      .addColumn('team_id', 'text')
      .addColumn('token_hash', 'text', (column) => column.notNull().unique())
      .addColumn('invited_by', 'text', (column) => column.notNull())
      .addColumn('expires_at', 'bigint', (column) => column.notNull())
      .addColumn('accepted_at', 'bigint')
      .addColumn('declined_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .execute();
    await database.schema.createIndex('invitations_org').on('invitations').columns(['org_id', 'created_at']).execute();

    await database.schema
      .createTable('refresh_tokens')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('user_id', 'text', (column) => column.notNull().references('users.id'))
      .addColumn('family_id', 'text', (column) => column.notNull())
      .addColumn('token_hash', 'text', (column) => column.notNull().unique())
      .addColumn('expires_at', 'bigint', (column) => column.notNull())
      .addColumn('revoked_at', 'bigint')
      .addColumn('replaced_by', 'text')
      .addColumn('user_agent', 'text')
      .addColumn('ip', 'text')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .execute();
    await database.schema.createIndex('refresh_tokens_family').on('refresh_tokens').column('family_id').execute();
    await database.schema.createIndex('refresh_tokens_user').on('refresh_tokens').column('user_id').execute();

    await database.schema
      .createTable('user_tokens')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('user_id', 'text', (column) => column.notNull().references('users.id'))
      .addColumn('purpose', 'text', (column) => column.notNull())
      .addColumn('token_hash', 'text', (column) => column.notNull().unique())
      .addColumn('expires_at', 'bigint', (column) => column.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .execute();

    for (const [column, type] of [
      ['org_id', 'text'],
      ['team_id', 'text'],
      ['scopes', 'text'],
      ['ip_allowlist', 'text'],
      ['rpm_limit', 'integer'],
      ['tpm_limit', 'integer'],
      ['budget_micros', 'bigint'],
      ['rotated_from', 'text'],
      ['updated_at', 'bigint'],
    ] as const) {
      await database.schema.alterTable('api_keys').addColumn(column, type).execute();
    }
    await sql`update api_keys set updated_at = created_at`.execute(database);
    await database.schema.createIndex('api_keys_org').on('api_keys').columns(['org_id', 'created_at']).execute();

    // Keys made before organizations existed move into a default organization owned by the platform admins.
    const now = Date.now();
    const existing = await sql<{ count: number | string }>`select count(*) as count from api_keys`.execute(database);
    if (Number(existing.rows[0]?.count ?? 0) > 0) {
      await sql`insert into organizations (id, name, settings, created_at, updated_at)
                values ('org_default', 'Default organization', '{}', ${now}, ${now})`.execute(database);
      await sql`insert into org_members (org_id, user_id, role, created_at)
                select 'org_default', id, 'owner', ${now} from users where role = 'admin'`.execute(database);
      await sql`update api_keys set org_id = 'org_default'`.execute(database);
    }

    await database.schema
      .createTable('audit_events')
      .addColumn('id', 'text', (column) => column.primaryKey())
      .addColumn('org_id', 'text')
      .addColumn('actor_user_id', 'text')
      .addColumn('actor_key_id', 'text')
      .addColumn('action', 'text', (column) => column.notNull())
      .addColumn('target_type', 'text', (column) => column.notNull())
      .addColumn('target_id', 'text')
      .addColumn('before', 'text')
      .addColumn('after', 'text')
      .addColumn('ip', 'text')
      .addColumn('request_id', 'text')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .execute();
    await database.schema
      .createIndex('audit_events_org')
      .on('audit_events')
      .columns(['org_id', 'created_at'])
      .execute();

    await database.schema
      .createTable('idempotency_records')
      .addColumn('scope', 'text', (column) => column.notNull())
      .addColumn('key', 'text', (column) => column.notNull())
      .addColumn('request_hash', 'text', (column) => column.notNull())
      .addColumn('status', 'integer')
      .addColumn('response', 'text')
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addPrimaryKeyConstraint('idempotency_records_pk', ['scope', 'key'])
      .execute();
  },

  async down(database: Kysely<unknown>) {
    for (const table of [
      'idempotency_records',
      'audit_events',
      'user_tokens',
      'refresh_tokens',
      'invitations',
      'team_members',
      'teams',
      'org_members',
      'organizations',
    ]) {
      await database.schema.dropTable(table).execute();
    }
  },
};
