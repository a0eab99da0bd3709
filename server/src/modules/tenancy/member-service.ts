import type { Database } from '../../db/database.ts';
import type { OrgRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import type { Authorizer, OrgScope } from './authorizer.ts';
import type { ListWindow } from './list-query.ts';
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
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'member.remove',
          targetType: 'member',
          targetId: userId,
          before: { user_id: userId, email: member.email, role: member.role },
        },
        now,
      );
    });
  }
}
