import type { Database } from '../../db/database.ts';
import type { OrgRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { deleteTrafficRulesWithin } from '../traffic/index.ts';
import type { KeyService } from '../keys/index.ts';
import type { ListWindow } from '../shared/index.ts';
import type { Authorizer, OrgScope } from './authorizer.ts';
import { MemberRepository, type MemberFilters, type MemberRow, type MemberSortField } from './member-repository.ts';

/** The answer when a member's row changed between reading it and writing it (a concurrent request won). */
export function memberChangedConcurrently(): AppError {
  return new AppError(
    'conflict',
    'this membership changed a moment ago (another request got there first); reload and try again',
  );
}

/** Organization members: list, change roles (under the rank rules), remove. Leaving is OrganizationService.leave. */
export class MemberService {
  readonly #db: Database;
  readonly #authorizer: Authorizer;
  readonly #keys: KeyService;

  constructor(db: Database, authorizer: Authorizer, keys: KeyService) {
    this.#db = db;
    this.#authorizer = authorizer;
    this.#keys = keys;
  }

  list(scope: OrgScope, filters: MemberFilters, window: ListWindow<MemberSortField>): Promise<MemberRow[]> {
    return new MemberRepository(this.#db).list(scope, filters, window);
  }

  /**
   * Changes a member's role. A role that may not hold keys (keys.hold) revokes the member's keys of this
   * organization in the same transaction: they could no longer see or revoke them.
   */
  async changeRole(scope: OrgScope, userId: string, role: OrgRole): Promise<MemberRow> {
    const now = Date.now();
    let revokedKeys = 0;
    const changed = await this.#db.transaction().execute(async (transaction) => {
      const members = new MemberRepository(transaction);
      const member = await members.find(scope, userId);
      if (!member) throw new AppError('not_found', 'member not found');
      this.#authorizer.authorizeRoleChange(scope, { targetUserId: userId, from: member.role, to: role });
      if (member.role === role) return member;
      if (!(await members.updateRole(scope, userId, member.role, role))) throw memberChangedConcurrently();
      if (!this.#authorizer.mayHoldKeys(role))
        revokedKeys = await this.#keys.revokeWithin(transaction, scope, { userId });
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'member.role_change',
          targetType: 'member',
          targetId: userId,
          before: { user_id: userId, role: member.role },
          after: { user_id: userId, role, ...(revokedKeys > 0 ? { revoked_keys: revokedKeys } : {}) },
        },
        now,
      );
      return { ...member, role };
    });
    if (revokedKeys > 0) this.#keys.announceChange();
    return changed;
  }

  /** Removes a member, their team memberships and their keys; the owner cannot be removed (transfer first). */
  async remove(scope: OrgScope, userId: string): Promise<void> {
    const now = Date.now();
    const revokedKeys = await this.#db.transaction().execute(async (transaction) => {
      const members = new MemberRepository(transaction);
      const member = await members.find(scope, userId);
      if (!member) throw new AppError('not_found', 'member not found');
      this.#authorizer.authorizeRoleChange(scope, { targetUserId: userId, from: member.role });
      if (!(await members.remove(scope, userId, member.role))) throw memberChangedConcurrently();
      const revoked = await this.#keys.revokeWithin(transaction, scope, { userId });
      // Their limits and budgets would only wait for someone of the same id to join again.
      await deleteTrafficRulesWithin(transaction, scope, { type: 'user', id: userId });
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'member.remove',
          targetType: 'member',
          targetId: userId,
          before: { user_id: userId, email: member.email, role: member.role },
          after: { revoked_keys: revoked },
        },
        now,
      );
      return revoked;
    });
    if (revokedKeys > 0) this.#keys.announceChange();
  }
}
