import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../../db/schema.ts';

export interface ExpiredOrganization {
  readonly id: string;
  readonly name: string;
  readonly deleted_at: number;
}

/**
 * Tables whose rows belong to one organization through `org_id`, children before parents so foreign keys hold.
 * `audit_events` is not here on purpose: the audit trail is append-only and outlives the organization.
 * A test compares this list with the live schema, so a new tenant table cannot be forgotten.
 */
export const organizationOwnedTables = [
  'team_members',
  'invitations',
  'org_members',
  'api_keys',
  'teams',
  // Their credentials and deployments go with them (deleted by foreign key).
  'models',
  'providers',
  'traffic_limits',
  'budgets',
  'budget_alerts',
] as const;

/**
 * SQL for the purge of soft-deleted organizations. It is the only code that reads deleted organizations, and it never
 * takes an `OrgScope`: nobody acts inside an organization that no longer exists, the installation does.
 */
export class OrganizationPurgeRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  /** Organizations deleted at or before `cutoff`, oldest first. */
  listDeletedBefore(cutoff: number, limit: number): Promise<ExpiredOrganization[]> {
    return this.#db
      .selectFrom('organizations')
      .select(['id', 'name', 'deleted_at'])
      .where('deleted_at', 'is not', null)
      .where('deleted_at', '<=', cutoff)
      .orderBy('deleted_at')
      .orderBy('id')
      .limit(limit)
      .execute() as Promise<ExpiredOrganization[]>;
  }

  /**
   * Deletes the organization and every row it owns (its keys' usage records included); returns rows deleted per
   * table. Run it inside a transaction: a purge is all or nothing. Does nothing to a live organization.
   */
  async deleteOrganization(orgId: string): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {};
    const still = await this.#db
      .selectFrom('organizations')
      .select('id')
      .where('id', '=', orgId)
      .where('deleted_at', 'is not', null)
      .executeTakeFirst();
    if (!still) return deleted;
    const usage = await this.#db
      .deleteFrom('usage_records')
      .where('key_id', 'in', (query) => query.selectFrom('api_keys').select('id').where('org_id', '=', orgId))
      .executeTakeFirst();
    deleted.usage_records = Number(usage.numDeletedRows);
    for (const table of organizationOwnedTables) {
      const result = await this.#db.deleteFrom(table).where('org_id', '=', orgId).executeTakeFirst();
      deleted[table] = Number(result.numDeletedRows);
    }
    const organization = await this.#db.deleteFrom('organizations').where('id', '=', orgId).executeTakeFirst();
    deleted.organizations = Number(organization.numDeletedRows);
    return deleted;
  }
}
