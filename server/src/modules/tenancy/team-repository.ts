import type { Kysely, Selectable } from 'kysely';
import type { DatabaseSchema, TeamRole, TeamsTable } from '../../db/schema.ts';
import type { OrgScope } from './authorizer.ts';
import { containsCondition, pageQuery, type ListWindow } from '../shared/index.ts';

export type TeamRow = Selectable<TeamsTable>;

export interface TeamMemberRow {
  readonly user_id: string;
  readonly email: string;
  readonly name: string;
  readonly role: TeamRole;
  readonly created_at: number;
}

export const teamSortFields = ['name', 'created_at'] as const;
export type TeamSortField = (typeof teamSortFields)[number];

export const teamMemberSortFields = ['created_at', 'email'] as const;
export type TeamMemberSortField = (typeof teamMemberSortFields)[number];

/** SQL for teams and team memberships; every method is bound to the caller's organization by its scope. */
export class TeamRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  list(scope: OrgScope, filters: { q?: string | undefined }, window: ListWindow<TeamSortField>): Promise<TeamRow[]> {
    let query = this.#db.selectFrom('teams').selectAll().where('org_id', '=', scope.orgId);
    if (filters.q) query = query.where(containsCondition('teams.name', filters.q));
    return pageQuery(
      query,
      {
        sort: `teams.${window.sort.field}`,
        id: 'teams.id',
        sortType: window.sort.field === 'name' ? 'string' : 'number',
      },
      window,
    ).execute();
  }

  find(scope: OrgScope, teamId: string): Promise<TeamRow | undefined> {
    return this.#db
      .selectFrom('teams')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('id', '=', teamId)
      .executeTakeFirst();
  }

  findByName(scope: OrgScope, name: string): Promise<TeamRow | undefined> {
    return this.#db
      .selectFrom('teams')
      .selectAll()
      .where('org_id', '=', scope.orgId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  async insert(scope: OrgScope, values: { id: string; name: string; now: number }): Promise<TeamRow> {
    const row: TeamRow = {
      id: values.id,
      org_id: scope.orgId,
      name: values.name,
      created_at: values.now,
      updated_at: values.now,
    };
    await this.#db.insertInto('teams').values(row).execute();
    return row;
  }

  async rename(scope: OrgScope, teamId: string, name: string, now: number): Promise<void> {
    await this.#db
      .updateTable('teams')
      .set({ name, updated_at: now })
      .where('org_id', '=', scope.orgId)
      .where('id', '=', teamId)
      .execute();
  }

  /** Deletes the team and its memberships. */
  async delete(scope: OrgScope, teamId: string): Promise<void> {
    await this.#db.deleteFrom('team_members').where('org_id', '=', scope.orgId).where('team_id', '=', teamId).execute();
    await this.#db.deleteFrom('teams').where('org_id', '=', scope.orgId).where('id', '=', teamId).execute();
  }

  async countMembers(scope: OrgScope, teamId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('team_members')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .where('org_id', '=', scope.orgId)
      .where('team_id', '=', teamId)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  #members(scope: OrgScope, teamId: string) {
    return this.#db
      .selectFrom('team_members')
      .innerJoin('users', 'users.id', 'team_members.user_id')
      .select(['team_members.user_id', 'users.email', 'users.name', 'team_members.role', 'team_members.created_at'])
      .where('team_members.org_id', '=', scope.orgId)
      .where('team_members.team_id', '=', teamId);
  }

  listMembers(
    scope: OrgScope,
    teamId: string,
    filters: { role?: TeamRole | undefined },
    window: ListWindow<TeamMemberSortField>,
  ): Promise<TeamMemberRow[]> {
    let query = this.#members(scope, teamId);
    if (filters.role) query = query.where('team_members.role', '=', filters.role);
    const sortColumn = window.sort.field === 'email' ? 'users.email' : 'team_members.created_at';
    return pageQuery(
      query,
      { sort: sortColumn, id: 'team_members.user_id', sortType: window.sort.field === 'email' ? 'string' : 'number' },
      window,
    ).execute();
  }

  /** The role `userId` holds in the team, without the user join `findMember` does: the Authorizer's hot check. */
  async findMemberRole(scope: OrgScope, teamId: string, userId: string): Promise<TeamRole | undefined> {
    const row = await this.#db
      .selectFrom('team_members')
      .select(['role'])
      .where('org_id', '=', scope.orgId)
      .where('team_id', '=', teamId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role;
  }

  findMember(scope: OrgScope, teamId: string, userId: string): Promise<TeamMemberRow | undefined> {
    return this.#members(scope, teamId).where('team_members.user_id', '=', userId).executeTakeFirst();
  }

  async insertMember(scope: OrgScope, teamId: string, userId: string, role: TeamRole, now: number): Promise<void> {
    await this.#db
      .insertInto('team_members')
      .values({ team_id: teamId, org_id: scope.orgId, user_id: userId, role, created_at: now })
      .execute();
  }

  async updateMemberRole(scope: OrgScope, teamId: string, userId: string, role: TeamRole): Promise<void> {
    await this.#db
      .updateTable('team_members')
      .set({ role })
      .where('org_id', '=', scope.orgId)
      .where('team_id', '=', teamId)
      .where('user_id', '=', userId)
      .execute();
  }

  async removeMember(scope: OrgScope, teamId: string, userId: string): Promise<void> {
    await this.#db
      .deleteFrom('team_members')
      .where('org_id', '=', scope.orgId)
      .where('team_id', '=', teamId)
      .where('user_id', '=', userId)
      .execute();
  }
}
