import type { Kysely } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { DatabaseSchema, OrgRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { KeyRepository } from '../keys/index.ts';
import type { Authorizer, OrgScope } from './authorizer.ts';
import type { ListWindow } from '../shared/index.ts';
import { MemberRepository, type MemberFilters, type MemberRow, type MemberSortField } from './member-repository.ts';

/** Organization members: list, change roles (under the rank rules), remove. Leaving is OrganizationService.leave. */
export class MemberService {
  readonly #db: Database;
  readonly #authorizer: Authorizer;

  constructor(db: Database, authorizer: Authorizer) {
    this.#db = db;
    this.#authorizer = authorizer;
  }

  list(scope: OrgScope, filters: MemberFilters, window: ListWindow<MemberSortField>): Promise<MemberRow[]> {
    return new MemberRepository(this.#db).list(scope, filters, window);
  }

  async changeRole(scope: OrgScope, userId: string, role: OrgRole): Promise<MemberRow> {
    const now = Date.now();
    return this.#db.transaction().execute(async (transaction) => {
      const members = new MemberRepository(transaction);
      const member = await members.find(scope, userId);
      if (!member) throw new AppError('not_found', 'member not found');
      this.#authorizer.authorizeRoleChange(scope, { targetUserId: userId, from: member.role, to: role });
      if (member.role === role) return member;
      await members.updateRole(scope, userId, role);
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'member.role_change',
          targetType: 'member',
          targetId: userId,
          before: { user_id: userId, role: member.role },
          after: { user_id: userId, role },
        },
        now,
      );
      return { ...member, role };
    });
  }

  /** Removes a member and their team memberships; the owner cannot be removed (transfer first). */
  async remove(scope: OrgScope, userId: string): Promise<void> {
    const now = Date.now();
    await this.#db.transaction().execute(async (transaction) => {
      const members = new MemberRepository(transaction);
      const member = await members.find(scope, userId);
      if (!member) throw new AppError('not_found', 'member not found');
      this.#authorizer.authorizeRoleChange(scope, { targetUserId: userId, from: member.role });
      await members.remove(scope, userId);
      const revokedKeys = await revokeMemberKeys(transaction, scope, now, userId);
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'member.remove',
          targetType: 'member',
          targetId: userId,
          before: { user_id: userId, email: member.email, role: member.role },
          after: { revoked_keys: revokedKeys },
        },
        now,
      );
    });
  }
}

/**
 * A key acts as its user inside its organization; once the user is out (or the organization is gone) the key must
 * stop working everywhere, so its revocation shares the membership change's transaction and bumps the keys epoch.
 */
export async function revokeMemberKeys(
  transaction: Kysely<DatabaseSchema>,
  scope: OrgScope,
  now: number,
  userId?: string,
): Promise<number> {
  const keys = new KeyRepository(transaction);
  const revoked = await keys.revokeInOrganization(scope, now, userId);
  if (revoked > 0) await keys.bumpEpoch();
  return revoked;
}
