import type { Database } from '../../db/database.ts';
import type { OrgRole, TeamRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import type { Actor, OrgScope, PlatformScope } from '../shared/index.ts';
import type { KeyAccessRules, KeyAction, KeyTarget } from '../keys/index.ts';
import { MemberRepository } from './member-repository.ts';
import { OrganizationRepository } from './organization-repository.ts';
import { orgRoleAllows, orgRoleRank, teamRoleAllows, type Action } from './permissions.ts';
import { TeamRepository } from './team-repository.ts';

export type { Actor, OrgScope, PlatformScope } from '../shared/index.ts';

/** A change to someone's organization role: `from` is absent when granting (invitations), `to` when removing. */
export interface OrgRoleChange {
  readonly targetUserId?: string;
  readonly from?: OrgRole;
  readonly to?: OrgRole;
}

/** A change to someone's team role, checked the same way for team admins who are not org managers. */
export interface TeamRoleChange {
  readonly teamId: string;
  readonly targetUserId: string;
  readonly from?: TeamRole;
}

/** What an invitation grants; only a pending one whose email matches the signed-in user reaches the authorizer. */
export interface InvitationGrant {
  readonly orgId: string;
  readonly email: string;
  readonly role: OrgRole;
}

export interface AuthorizeOptions {
  /** For team-scoped actions: team roles can grant what org roles do not. */
  teamId?: string;
}

/** Also the keys module's KeyAccessRules: KeyService asks it who may do what with keys. */
export class Authorizer implements KeyAccessRules {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Checks `action` for `actor` in `orgId`. Not a member (or the org does not exist or is deleted): 404, so other
   * tenants cannot even learn it exists. A member whose role does not allow it: 403.
   */
  async authorize(actor: Actor, orgId: string, action: Action, options: AuthorizeOptions = {}): Promise<OrgScope> {
    const scope = await this.resolveScope(actor, orgId);
    if (orgRoleAllows(action, scope.role) || actor.platformRole === 'admin') return scope;
    if (options.teamId !== undefined) {
      const teamRole = await new TeamRepository(this.#db).findMemberRole(scope, options.teamId, actor.userId);
      if (teamRole && teamRoleAllows(action, teamRole)) return scope;
    }
    throw new AppError('forbidden', `your role in this organization does not allow ${action}`);
  }

  /** Any signed-in person may create an organization; an API key acts only inside its own and may not. */
  authorizeCreateOrganization(actor: Actor): void {
    if (actor.via !== 'session') {
      throw new AppError('forbidden', 'organizations are created by a signed-in person, not with an API key');
    }
  }

  /**
   * Platform-wide actions (every organization; disabling accounts): platform admins only, and never through an
   * org-bound API key.
   */
  authorizePlatform(actor: Actor): PlatformScope {
    if (actor.platformRole !== 'admin' || actor.keyOrgId !== undefined) {
      throw new AppError('forbidden', 'only platform admins may do this');
    }
    return { actor } as PlatformScope;
  }

  /**
   * The escalation rules of permissions.ts (`orgRoleRank`), for a caller already authorized for the action: `owner`
   * is never granted or taken by a role change (transfer it), nobody grants a role above their own, and nobody
   * changes or removes a member ranked at or above themselves. 403 on any attempt.
   */
  authorizeRoleChange(scope: OrgScope, change: OrgRoleChange): void {
    if (change.to === 'owner') {
      throw new AppError('forbidden', 'ownership is never granted by a role change; use transfer-ownership');
    }
    if (change.from === 'owner') {
      throw new AppError('forbidden', "the owner's role changes only by transferring ownership");
    }
    const ownRank = scope.actor.platformRole === 'admin' ? orgRoleRank.owner : orgRoleRank[scope.role];
    if (change.to !== undefined && orgRoleRank[change.to] > ownRank) {
      throw new AppError('forbidden', `you cannot grant the ${change.to} role, which ranks above your own`);
    }
    if (change.from !== undefined && orgRoleRank[change.from] >= ownRank) {
      throw new AppError(
        'forbidden',
        `you cannot change or remove a member whose role (${change.from}) is not below yours`,
      );
    }
  }

  /**
   * Team admins who manage their team only because of their team role may add members and admins, but may not
   * demote or remove another team admin; org managers and platform admins may.
   */
  authorizeTeamRoleChange(scope: OrgScope, change: TeamRoleChange): void {
    const orgManager = scope.actor.platformRole === 'admin' || orgRoleAllows('teams.members.manage', scope.role);
    if (orgManager || change.from !== 'admin' || change.targetUserId === scope.actor.userId) return;
    throw new AppError('forbidden', 'only organization admins may demote or remove another team admin');
  }

  /** Whether the caller sees every key of the organization (keys.read.all) rather than only their own. */
  mayReadAllKeys(scope: OrgScope): boolean {
    return scope.actor.platformRole === 'admin' || orgRoleAllows('keys.read.all', scope.role);
  }

  /** Whether the caller may see this key at all; a key they may not see answers 404, like another tenant's. */
  maySeeKey(scope: OrgScope, key: KeyTarget): boolean {
    return key.userId === scope.actor.userId || this.mayReadAllKeys(scope);
  }

  /** Whether the caller sees other members' limits, budgets and alerts (the traffic module's TrafficAccessRules). */
  mayReadAllTraffic(scope: OrgScope): boolean {
    return scope.actor.platformRole === 'admin' || orgRoleAllows('traffic.read.all', scope.role);
  }

  /** Whether a member with `role` may keep working keys; moving a member to a role without it revokes them. */
  mayHoldKeys(role: OrgRole): boolean {
    return orgRoleAllows('keys.hold', role);
  }

  /**
   * Creating a key (the caller already passed `keys.create` for the organization, or for the team by team role):
   * a key for someone else needs keys.manage.all; a team key needs keys.create on that team by team role, unless the
   * caller manages every key.
   */
  async authorizeKeyCreation(scope: OrgScope, key: KeyTarget): Promise<void> {
    if (this.#managesAllKeys(scope)) return;
    if (key.userId !== scope.actor.userId) {
      throw new AppError(
        'forbidden',
        'only roles that manage every key (keys.manage.all) may create keys for another member',
      );
    }
    if (key.teamId !== null) await this.#assertTeamKeyRight(scope, 'keys.create', key.teamId);
    else if (!orgRoleAllows('keys.create', scope.role)) {
      throw new AppError('forbidden', 'your role in this organization does not allow keys.create');
    }
  }

  /**
   * Changing, rotating or revoking a key the caller can see. Someone else's key needs keys.manage.all. One's own key
   * needs the `.own` action by organization role, and a team key also the team role that grants it on that team
   * (revoking excepted: it never grants anything).
   */
  async authorizeKeyAction(scope: OrgScope, action: KeyAction, key: KeyTarget): Promise<void> {
    if (this.#managesAllKeys(scope)) return;
    if (key.userId !== scope.actor.userId) {
      throw new AppError('forbidden', 'your role in this organization does not allow keys.manage.all');
    }
    if (!orgRoleAllows(action, scope.role)) {
      throw new AppError('forbidden', `your role in this organization does not allow ${action}`);
    }
    if (key.teamId !== null && action !== 'keys.revoke.own') await this.#assertTeamKeyRight(scope, action, key.teamId);
  }

  #managesAllKeys(scope: OrgScope): boolean {
    return scope.actor.platformRole === 'admin' || orgRoleAllows('keys.manage.all', scope.role);
  }

  async #assertTeamKeyRight(scope: OrgScope, action: Action, teamId: string): Promise<void> {
    const teamRole = await new TeamRepository(this.#db).findMemberRole(scope, teamId, scope.actor.userId);
    if (!teamRole || !teamRoleAllows(action, teamRole)) {
      throw new AppError(
        'forbidden',
        `team keys need team admin on that team (${action}), or an organization admin role`,
      );
    }
  }

  /**
   * The scope of someone joining by invitation: the invitation (found by its secret token, checked pending) is the
   * grant, so the only checks left are that it is theirs and that the organization still exists.
   */
  async authorizeInvitee(actor: Actor, actorEmail: string, grant: InvitationGrant): Promise<OrgScope> {
    if (actor.via !== 'session') {
      throw new AppError('forbidden', 'invitations are answered by a signed-in person, not with an API key');
    }
    if (!(await new OrganizationRepository(this.#db).isLive(grant.orgId))) {
      throw new AppError('not_found', 'invitation not found');
    }
    if (actorEmail.toLowerCase() !== grant.email.toLowerCase()) {
      throw new AppError('forbidden', 'this invitation was sent to another email address');
    }
    return { orgId: grant.orgId, actor, role: grant.role } as OrgScope;
  }

  /** Membership only, no action check: used to list what the caller can see. */
  async resolveScope(actor: Actor, orgId: string): Promise<OrgScope> {
    const notFound = new AppError('not_found', 'organization not found');
    if (actor.keyOrgId !== undefined && actor.keyOrgId !== orgId) throw notFound;
    if (!(await new OrganizationRepository(this.#db).isLive(orgId))) throw notFound;
    const role = await new MemberRepository(this.#db).findRoleForAuthorization(orgId, actor.userId);
    if (role === undefined && actor.platformRole !== 'admin') throw notFound;
    return { orgId, actor, role: role ?? 'owner' } as OrgScope;
  }
}
