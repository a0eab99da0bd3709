import type { Kysely, Selectable, SelectQueryBuilder } from 'kysely';
import type { DatabaseSchema, OrganizationsTable, OrgRole } from '../../db/schema.ts';
import type { OrgScope, PlatformScope } from './authorizer.ts';
import { containsCondition, pageQuery, type ListWindow } from '../shared/index.ts';

export type OrganizationRow = Selectable<OrganizationsTable>;

/** An organization as one caller sees it: with their own role, or null for a platform admin who is not a member. */
export interface VisibleOrganization extends OrganizationRow {
  readonly role: OrgRole | null;
}

export const organizationSortFields = ['name', 'created_at'] as const;
export type OrganizationSortField = (typeof organizationSortFields)[number];

export interface OrganizationFilters {
  /** Name contains (case-insensitive). */
  readonly q?: string | undefined;
}

/**
 * SQL for organizations. Reads and writes of one organization take its `OrgScope`; the only unscoped statements are
 * creating a tenant (there is no scope before it exists), the two listings, which are bound to the caller's own
 * memberships or to a platform-admin scope, and the two reads by bare id that come before any scope: the Authorizer's
 * existence check and the SSO settings read before sign-in. Soft-deleted organizations are invisible to every method.
 */
export class OrganizationRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  async createWithOwner(values: {
    id: string;
    name: string;
    settings: string;
    ownerUserId: string;
    now: number;
  }): Promise<OrganizationRow> {
    const row: OrganizationRow = {
      id: values.id,
      name: values.name,
      settings: values.settings,
      deleted_at: null,
      created_at: values.now,
      updated_at: values.now,
    };
    await this.#db.insertInto('organizations').values(row).execute();
    await this.#db
      .insertInto('org_members')
      .values({ org_id: values.id, user_id: values.ownerUserId, role: 'owner', created_at: values.now })
      .execute();
    return row;
  }

  /** Whether `orgId` names a live organization; the Authorizer asks before it creates a scope for it. */
  async isLive(orgId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('organizations')
      .select(['id'])
      .where('id', '=', orgId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** A live organization's stored settings by bare id, for the SSO sign-in that runs before anyone is signed in. */
  async findSettingsBeforeSignIn(orgId: string): Promise<string | undefined> {
    const row = await this.#db
      .selectFrom('organizations')
      .select('settings')
      .where('id', '=', orgId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return row?.settings;
  }

  find(scope: OrgScope): Promise<VisibleOrganization | undefined> {
    return this.#db
      .selectFrom('organizations')
      .leftJoin('org_members', (join) =>
        join.onRef('org_members.org_id', '=', 'organizations.id').on('org_members.user_id', '=', scope.actor.userId),
      )
      .selectAll('organizations')
      .select('org_members.role')
      .where('organizations.id', '=', scope.orgId)
      .where('organizations.deleted_at', 'is', null)
      .executeTakeFirst();
  }

  /** The organizations `userId` belongs to; `onlyOrgId` narrows it for API keys, which act inside one org. */
  listForMember(
    userId: string,
    filters: OrganizationFilters & { onlyOrgId?: string | null | undefined },
    window: ListWindow<OrganizationSortField>,
  ): Promise<VisibleOrganization[]> {
    let query = this.#db
      .selectFrom('organizations')
      .innerJoin('org_members', 'org_members.org_id', 'organizations.id')
      .selectAll('organizations')
      .select('org_members.role')
      .where('org_members.user_id', '=', userId)
      .where('organizations.deleted_at', 'is', null);
    if (filters.onlyOrgId !== undefined) query = query.where('organizations.id', '=', filters.onlyOrgId);
    if (filters.q) query = query.where(containsCondition('organizations.name', filters.q));
    return this.#page(query, window).execute();
  }

  /** Every live organization on the installation (platform admins only, hence the scope). */
  listAll(
    scope: PlatformScope,
    filters: OrganizationFilters,
    window: ListWindow<OrganizationSortField>,
  ): Promise<VisibleOrganization[]> {
    let query = this.#db
      .selectFrom('organizations')
      .leftJoin('org_members', (join) =>
        join.onRef('org_members.org_id', '=', 'organizations.id').on('org_members.user_id', '=', scope.actor.userId),
      )
      .selectAll('organizations')
      .select('org_members.role')
      .where('organizations.deleted_at', 'is', null);
    if (filters.q) query = query.where(containsCondition('organizations.name', filters.q));
    return this.#page(query, window).execute();
  }

  async rename(scope: OrgScope, name: string, now: number): Promise<void> {
    await this.#db
      .updateTable('organizations')
      .set({ name, updated_at: now })
      .where('id', '=', scope.orgId)
      .where('deleted_at', 'is', null)
      .execute();
  }

  async writeSettings(scope: OrgScope, settings: string, now: number): Promise<void> {
    await this.#db
      .updateTable('organizations')
      .set({ settings, updated_at: now })
      .where('id', '=', scope.orgId)
      .where('deleted_at', 'is', null)
      .execute();
  }

  /** Hides the organization everywhere at once; its rows stay until the retention period ends. */
  async softDelete(scope: OrgScope, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('organizations')
      .set({ deleted_at: now, updated_at: now })
      .where('id', '=', scope.orgId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async counts(scope: OrgScope): Promise<{ members: number; teams: number }> {
    const members = await this.#db
      .selectFrom('org_members')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('org_id', '=', scope.orgId)
      .executeTakeFirstOrThrow();
    const teams = await this.#db
      .selectFrom('teams')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('org_id', '=', scope.orgId)
      .executeTakeFirstOrThrow();
    return { members: Number(members.count), teams: Number(teams.count) };
  }

  #page<TB extends keyof DatabaseSchema, Output>(
    query: SelectQueryBuilder<DatabaseSchema, TB, Output>,
    window: ListWindow<OrganizationSortField>,
  ): SelectQueryBuilder<DatabaseSchema, TB, Output> {
    return pageQuery(
      query,
      {
        sort: `organizations.${window.sort.field}`,
        id: 'organizations.id',
        sortType: window.sort.field === 'name' ? 'string' : 'number',
      },
      window,
    );
  }
}
