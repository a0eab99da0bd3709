import type { Database } from '../../db/database.ts';
import type { OrgRole, TeamRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { orgRoleAllows, teamRoleAllows, type Action } from './permissions.ts';

declare const orgScopeBrand: unique symbol;

/**
 * Proof that the caller may act in one organization. Only `Authorizer` creates it, and every tenant repository
 * method takes one, so a query that forgets the tenant cannot be written by accident.
 */
export interface OrgScope {
  readonly orgId: string;
  readonly actor: Actor;
  /** The caller's role in the organization; platform admins acting without membership get `owner` rights. */
  readonly role: OrgRole;
  readonly [orgScopeBrand]: true;
}

/** Who is calling the management API. */
export interface Actor {
  readonly userId: string;
  readonly platformRole: 'admin' | 'member';
  readonly via: 'session' | 'api_key';
  readonly keyId?: string;
  /** An API key acts only inside its own organization. */
  readonly keyOrgId?: string | null;
  readonly ip?: string;
  readonly requestId?: string;
}

export interface AuthorizeOptions {
  /** For team-scoped actions: team roles can grant what org roles do not. */
  teamId?: string;
}

export class Authorizer {
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
      const teamRole = await this.#teamRole(orgId, options.teamId, actor.userId);
      if (teamRole && teamRoleAllows(action, teamRole)) return scope;
    }
    throw new AppError('forbidden', `your role in this organization does not allow ${action}`);
  }

  /** Membership only, no action check: used to list what the caller can see. */
  async resolveScope(actor: Actor, orgId: string): Promise<OrgScope> {
    const notFound = new AppError('not_found', 'organization not found');
    if (actor.keyOrgId !== undefined && actor.keyOrgId !== orgId) throw notFound;
    const organization = await this.#db
      .selectFrom('organizations')
      .select(['id'])
      .where('id', '=', orgId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!organization) throw notFound;
    const membership = await this.#db
      .selectFrom('org_members')
      .select(['role'])
      .where('org_id', '=', orgId)
      .where('user_id', '=', actor.userId)
      .executeTakeFirst();
    if (!membership && actor.platformRole !== 'admin') throw notFound;
    return { orgId, actor, role: membership?.role ?? 'owner' } as OrgScope;
  }

  async #teamRole(orgId: string, teamId: string, userId: string): Promise<TeamRole | undefined> {
    const row = await this.#db
      .selectFrom('team_members')
      .select(['role'])
      .where('org_id', '=', orgId)
      .where('team_id', '=', teamId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row?.role;
  }
}
