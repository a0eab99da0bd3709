import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Invariants that concurrent requests must not break, enforced by the database itself (unique partial indexes work
 * the same on SQLite and PostgreSQL): an organization has at most one owner, a key is replaced by rotation at most
 * once, and one email has at most one pending invitation per organization. Rows that already break them (possible
 * before these indexes) are repaired first, keeping the oldest.
 */
export const tenancyInvariantsMigration: Migration = {
  async up(database: Kysely<unknown>) {
    // The oldest owner stays owner; any other becomes an admin, as a transfer of ownership would leave them.
    await sql`update org_members set role = 'admin'
              where role = 'owner' and exists (
                select 1 from org_members earlier
                where earlier.org_id = org_members.org_id and earlier.role = 'owner'
                  and (earlier.created_at < org_members.created_at
                       or (earlier.created_at = org_members.created_at and earlier.user_id < org_members.user_id)))`.execute(
      database,
    );
    await sql`create unique index org_members_one_owner on org_members (org_id) where role = 'owner'`.execute(database);

    // Extra successors of one key stay working keys, but only the oldest counts as its replacement.
    await sql`update api_keys set rotated_from = null
              where rotated_from is not null and exists (
                select 1 from api_keys earlier
                where earlier.rotated_from = api_keys.rotated_from
                  and (earlier.created_at < api_keys.created_at
                       or (earlier.created_at = api_keys.created_at and earlier.id < api_keys.id)))`.execute(database);
    await sql`create unique index api_keys_one_successor on api_keys (rotated_from) where rotated_from is not null`.execute(
      database,
    );

    // "Pending" depends on the clock, which no index can see; pending_email holds the claim instead (set on
    // creation, cleared when answered or found expired), and is unique per organization.
    await database.schema.alterTable('invitations').addColumn('pending_email', 'text').execute();
    const now = Date.now();
    await sql`update invitations set pending_email = email
              where accepted_at is null and declined_at is null and revoked_at is null and expires_at > ${now}
                and not exists (
                  select 1 from invitations newer
                  where newer.org_id = invitations.org_id and newer.email = invitations.email
                    and newer.accepted_at is null and newer.declined_at is null and newer.revoked_at is null
                    and newer.expires_at > ${now}
                    and (newer.created_at > invitations.created_at
                         or (newer.created_at = invitations.created_at and newer.id > invitations.id)))`.execute(
      database,
    );
    await sql`create unique index invitations_one_pending on invitations (org_id, pending_email)
              where pending_email is not null`.execute(database);
  },

  async down(database: Kysely<unknown>) {
    await sql`drop index invitations_one_pending`.execute(database);
    await database.schema.alterTable('invitations').dropColumn('pending_email').execute();
    await sql`drop index api_keys_one_successor`.execute(database);
    await sql`drop index org_members_one_owner`.execute(database);
  },
};
