import type { Kysely, Migration } from 'kysely';

/**
 * Identities at OpenID Connect providers linked to users: (issuer, subject) is the stable key an identity provider
 * guarantees, so a person whose email changes at the provider still signs in to the same account.
 */
export const ssoIdentitiesMigration: Migration = {
  async up(database: Kysely<unknown>) {
    await database.schema
      .createTable('sso_identities')
      .addColumn('issuer', 'text', (column) => column.notNull())
      .addColumn('subject', 'text', (column) => column.notNull())
      .addColumn('user_id', 'text', (column) => column.notNull().references('users.id'))
      .addColumn('email', 'text', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('last_login_at', 'bigint', (column) => column.notNull())
      .addPrimaryKeyConstraint('sso_identities_pk', ['issuer', 'subject'])
      .execute();
    await database.schema.createIndex('sso_identities_user').on('sso_identities').column('user_id').execute();
  },

  async down(database: Kysely<unknown>) {
    await database.schema.dropTable('sso_identities').execute();
  },
};
