import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { DatabaseSchema, TeamRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { deleteTrafficRulesWithin } from '../traffic/index.ts';
import type { KeyService } from '../keys/index.ts';
import { conflictOnDuplicate } from '../../db/unique-violation.ts';
import type { Authorizer, OrgScope } from './authorizer.ts';
import type { ListWindow } from '../shared/index.ts';
import { MemberRepository } from './member-repository.ts';
import {
  TeamRepository,
  type TeamMemberRow,
  type TeamMemberSortField,
  type TeamRow,
  type TeamSortField,
} from './team-repository.ts';

/** Teams of an organization and their members. Team members must be members of the organization. */
export class TeamService {
  readonly #db: Database;
  readonly #authorizer: Authorizer;
  readonly #keys: KeyService;

  constructor(db: Database, authorizer: Authorizer, keys: KeyService) {
    this.#db = db;
    this.#authorizer = authorizer;
    this.#keys = keys;
  }

  list(scope: OrgScope, filters: { q?: string | undefined }, window: ListWindow<TeamSortField>): Promise<TeamRow[]> {
    return new TeamRepository(this.#db).list(scope, filters, window);
  }

  get(scope: OrgScope, teamId: string): Promise<TeamRow> {
    return findTeam(new TeamRepository(this.#db), scope, teamId);
  }

  async create(scope: OrgScope, name: string): Promise<TeamRow> {
    const now = Date.now();
    return conflictOnDuplicate(
      this.#db.transaction().execute(async (transaction) => {
        const teams = new TeamRepository(transaction);
        if (await teams.findByName(scope, name)) throw new AppError('conflict', 'a team with this name already exists');
        const team = await teams.insert(scope, { id: `team_${randomUUID().replaceAll('-', '')}`, name, now });
        await this.#audit(
          transaction,
          scope,
          { action: 'team.create', targetId: team.id, after: { id: team.id, name } },
          now,
        );
        return team;
      }),
      'a team with this name already exists',
    );
  }

  async rename(scope: OrgScope, teamId: string, name: string): Promise<TeamRow> {
    const now = Date.now();
    return conflictOnDuplicate(
      this.#db.transaction().execute(async (transaction) => {
        const teams = new TeamRepository(transaction);
        const team = await findTeam(teams, scope, teamId);
        if (team.name === name) return team;
        if (await teams.findByName(scope, name)) throw new AppError('conflict', 'a team with this name already exists');
        await teams.rename(scope, teamId, name, now);
        await this.#audit(
          transaction,
          scope,
          { action: 'team.rename', targetId: teamId, before: { name: team.name }, after: { name } },
          now,
        );
        return { ...team, name, updated_at: now };
      }),
      'a team with this name already exists',
    );
  }

  /**
   * Deletes the team and its memberships; the people stay members of the organization. The team's keys are revoked
   * in the same transaction: a key must not outlive the team it was made for.
   */
  async delete(scope: OrgScope, teamId: string): Promise<void> {
    const now = Date.now();
    const revokedKeys = await this.#db.transaction().execute(async (transaction) => {
      const teams = new TeamRepository(transaction);
      const team = await findTeam(teams, scope, teamId);
      const memberCount = await teams.countMembers(scope, teamId);
      await teams.delete(scope, teamId);
      const revoked = await this.#keys.revokeWithin(transaction, scope, { teamId });
      await deleteTrafficRulesWithin(transaction, scope, { type: 'team', id: teamId });
      await this.#audit(
        transaction,
        scope,
        {
          action: 'team.delete',
          targetId: teamId,
          before: { id: team.id, name: team.name, member_count: memberCount },
          after: { revoked_keys: revoked },
        },
        now,
      );
      return revoked;
    });
    if (revokedKeys > 0) this.#keys.announceChange();
  }

  async listMembers(
    scope: OrgScope,
    teamId: string,
    filters: { role?: TeamRole | undefined },
    window: ListWindow<TeamMemberSortField>,
  ): Promise<TeamMemberRow[]> {
    const teams = new TeamRepository(this.#db);
    await findTeam(teams, scope, teamId);
    return teams.listMembers(scope, teamId, filters, window);
  }

  async addMember(scope: OrgScope, teamId: string, userId: string, role: TeamRole): Promise<TeamMemberRow> {
    const now = Date.now();
    return conflictOnDuplicate(
      this.#db.transaction().execute(async (transaction) => {
        const teams = new TeamRepository(transaction);
        await findTeam(teams, scope, teamId);
        const member = await new MemberRepository(transaction).find(scope, userId);
        if (!member) {
          throw new AppError('unprocessable', 'only members of the organization can join its teams', {
            param: 'user_id',
          });
        }
        if (await teams.findMember(scope, teamId, userId)) {
          throw new AppError('conflict', 'this user is already a member of the team');
        }
        await teams.insertMember(scope, teamId, userId, role, now);
        await this.#audit(
          transaction,
          scope,
          {
            action: 'team_member.add',
            targetType: 'team_member',
            targetId: userId,
            after: { team_id: teamId, user_id: userId, role },
          },
          now,
        );
        return { user_id: userId, email: member.email, name: member.name, role, created_at: now };
      }),
      'this user is already a member of the team',
    );
  }

  async changeMemberRole(scope: OrgScope, teamId: string, userId: string, role: TeamRole): Promise<TeamMemberRow> {
    const now = Date.now();
    return this.#db.transaction().execute(async (transaction) => {
      const teams = new TeamRepository(transaction);
      const teamMember = await findTeamMember(teams, scope, teamId, userId);
      this.#authorizer.authorizeTeamRoleChange(scope, { teamId, targetUserId: userId, from: teamMember.role });
      if (teamMember.role === role) return teamMember;
      await teams.updateMemberRole(scope, teamId, userId, role);
      await this.#audit(
        transaction,
        scope,
        {
          action: 'team_member.role_change',
          targetType: 'team_member',
          targetId: userId,
          before: { team_id: teamId, user_id: userId, role: teamMember.role },
          after: { team_id: teamId, user_id: userId, role },
        },
        now,
      );
      return { ...teamMember, role };
    });
  }

  /** Removes someone from the team, and their keys of that team with them (they are no longer in it). */
  async removeMember(scope: OrgScope, teamId: string, userId: string): Promise<void> {
    const now = Date.now();
    const revokedKeys = await this.#db.transaction().execute(async (transaction) => {
      const teams = new TeamRepository(transaction);
      const teamMember = await findTeamMember(teams, scope, teamId, userId);
      this.#authorizer.authorizeTeamRoleChange(scope, { teamId, targetUserId: userId, from: teamMember.role });
      await teams.removeMember(scope, teamId, userId);
      const revoked = await this.#keys.revokeWithin(transaction, scope, { teamId, userId });
      await this.#audit(
        transaction,
        scope,
        {
          action: 'team_member.remove',
          targetType: 'team_member',
          targetId: userId,
          before: { team_id: teamId, user_id: userId, role: teamMember.role },
          ...(revoked > 0 ? { after: { revoked_keys: revoked } } : {}),
        },
        now,
      );
      return revoked;
    });
    if (revokedKeys > 0) this.#keys.announceChange();
  }

  async #audit(
    transaction: Kysely<DatabaseSchema>,
    scope: OrgScope,
    event: { action: string; targetType?: 'team' | 'team_member'; targetId: string; before?: unknown; after?: unknown },
    now: number,
  ): Promise<void> {
    await recordAuditEvent(transaction, { orgId: scope.orgId, actor: scope.actor, targetType: 'team', ...event }, now);
  }
}

async function findTeam(teams: TeamRepository, scope: OrgScope, teamId: string): Promise<TeamRow> {
  const team = await teams.find(scope, teamId);
  if (!team) throw new AppError('not_found', 'team not found');
  return team;
}

async function findTeamMember(
  teams: TeamRepository,
  scope: OrgScope,
  teamId: string,
  userId: string,
): Promise<TeamMemberRow> {
  await findTeam(teams, scope, teamId);
  const member = await teams.findMember(scope, teamId, userId);
  if (!member) throw new AppError('not_found', 'team member not found');
  return member;
}
