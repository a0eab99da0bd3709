import type { Kysely } from 'kysely';
import type { DatabaseSchema, OrgRole } from '../../db/schema.ts';
import type { OrgScope } from './authorizer.ts';
import { containsCondition, pageQuery, type ListWindow } from '../shared/index.ts';

/** A member of one organization with the user's name and email. */
export interface MemberRow {
  readonly user_id: string;
  readonly email: string;
  readonly name: string;
  readonly role: OrgRole;
  readonly created_at: number;
}

export const memberSortFields = ['created_at', 'email', 'name'] as const;
export type MemberSortField = (typeof memberSortFields)[number];

export interface MemberFilters {
  readonly role?: OrgRole | undefined;
  /** Email or name contains (case-insensitive). */
  readonly q?: string | undefined;
}

/** SQL for org memberships; every method is bound to the caller's organization by its scope. */
export class MemberRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  #members(scope: OrgScope) {
    return this.#db
      .selectFrom('org_members')
      .innerJoin('users', 'users.id', 'org_members.user_id')
      .select(['org_members.user_id', 'users.email', 'users.name', 'org_members.role', 'org_members.created_at'])
      .where('org_members.org_id', '=', scope.orgId);
  }

  list(scope: OrgScope, filters: MemberFilters, window: ListWindow<MemberSortField>): Promise<MemberRow[]> {
    let query = this.#members(scope);
    if (filters.role) query = query.where('org_members.role', '=', filters.role);
    if (filters.q) {
      const text = filters.q;
      query = query.where((eb) =>
        eb.or([containsCondition('users.email', text), containsCondition('users.name', text)]),
      );
    }
    const sortColumn = window.sort.field === 'created_at' ? 'org_members.created_at' : `users.${window.sort.field}`;
    return pageQuery(
      query,
      {
        sort: sortColumn,
        id: 'org_members.user_id',
        sortType: window.sort.field === 'created_at' ? 'number' : 'string',
      },
      window,
    ).execute();
  }

  find(scope: OrgScope, userId: string): Promise<MemberRow | undefined> {
    return this.#members(scope).where('org_members.user_id', '=', userId).executeTakeFirst();
  }

  findOwners(scope: OrgScope): Promise<MemberRow[]> {
    return this.#members(scope).where('org_members.role', '=', 'owner').execute();
  }

  async insert(scope: OrgScope, userId: string, role: OrgRole, now: number): Promise<void> {
    await this.#db
      .insertInto('org_members')
      .values({ org_id: scope.orgId, user_id: userId, role, created_at: now })
      .execute();
  }

  /**
   * Changes a member's role only if it is still `from` (compare-and-set): false when a concurrent change got there
   * first. On PostgreSQL the UPDATE waits for the other transaction's row lock and then re-checks `from`, so two
   * requests that both read the old role cannot both apply their change.
   */
  async updateRole(scope: OrgScope, userId: string, from: OrgRole, role: OrgRole): Promise<boolean> {
    const result = await this.#db
      .updateTable('org_members')
      .set({ role })
      .where('org_id', '=', scope.orgId)
      .where('user_id', '=', userId)
      .where('role', '=', from)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Removes the membership, only if its role is still `role` (see updateRole), and with it every team membership the
   * user had in this organization. False when the member was changed or removed concurrently.
   */
  async remove(scope: OrgScope, userId: string, role: OrgRole): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('org_members')
      .where('org_id', '=', scope.orgId)
      .where('user_id', '=', userId)
      .where('role', '=', role)
      .executeTakeFirst();
    if (result.numDeletedRows === 0n) return false;
    await this.#db.deleteFrom('team_members').where('org_id', '=', scope.orgId).where('user_id', '=', userId).execute();
    return true;
  }

  /**
   * The role `userId` holds in `orgId`, or undefined when they are not a member. Unscoped by design: the Authorizer
   * calls it to decide whether a scope exists at all, so there is no scope to pass yet.
   */
  async findRoleForAuthorization(orgId: string, userId: string): Promise<OrgRole | undefined> {
    const row = await this.#db
      .selectFrom('org_members')
      .select(['role'])
      .where('org_id', '=', orgId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role;
  }

  /** Whether some member of this organization already uses `email` (invitations to members are refused). */
  async hasMemberWithEmail(scope: OrgScope, email: string): Promise<boolean> {
    const row = await this.#members(scope)
      .where((eb) => eb(eb.fn('lower', ['users.email']), '=', email.toLowerCase()))
      .executeTakeFirst();
    return row !== undefined;
  }
}
