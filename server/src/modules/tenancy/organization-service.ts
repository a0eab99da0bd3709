import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/database.ts';
import { AppError } from '../../errors/app-error.ts';
import { conflictOnDuplicate } from '../../db/unique-violation.ts';
import { recordAuditEvent } from '../audit/index.ts';
import { deleteTrafficRulesWithin } from '../traffic/index.ts';
import type { KeyService } from '../keys/index.ts';
import type { Actor, Authorizer, OrgScope } from './authorizer.ts';
import type { ListWindow } from '../shared/index.ts';
import { MemberRepository, type MemberRow } from './member-repository.ts';
import { memberChangedConcurrently } from './member-service.ts';
import {
  OrganizationRepository,
  type OrganizationFilters,
  type OrganizationSortField,
  type VisibleOrganization,
} from './organization-repository.ts';
import { defaultOrgSettings, parseOrgSettings, serializeOrgSettings, type OrgSettings } from './org-settings.ts';

/**
 * How long a deleted organization's rows are kept before they may be purged. Deletion hides the organization at once
 * (every lookup filters `deleted_at`); the purge itself is a job that does not exist yet.
 */
export const deletedOrganizationRetentionDays = 30;

export interface OrganizationOverview {
  readonly organization: VisibleOrganization;
  readonly settings: OrgSettings;
  readonly counts: { readonly members: number; readonly teams: number };
}

export interface OwnershipTransfer {
  readonly owner: MemberRow;
  readonly previousOwners: readonly MemberRow[];
}

/** Organizations: create, read, rename, soft delete, transfer ownership, leave. */
export class OrganizationService {
  readonly #db: Database;
  readonly #authorizer: Authorizer;
  readonly #keys: KeyService;

  constructor(db: Database, authorizer: Authorizer, keys: KeyService) {
    this.#db = db;
    this.#authorizer = authorizer;
    this.#keys = keys;
  }

  /** Creates an organization with the caller as its owner. */
  async create(actor: Actor, name: string): Promise<VisibleOrganization> {
    this.#authorizer.authorizeCreateOrganization(actor);
    const now = Date.now();
    return this.#db.transaction().execute(async (transaction) => {
      const row = await new OrganizationRepository(transaction).createWithOwner({
        id: `org_${randomUUID().replaceAll('-', '')}`,
        name,
        settings: serializeOrgSettings(defaultOrgSettings),
        ownerUserId: actor.userId,
        now,
      });
      await recordAuditEvent(
        transaction,
        {
          orgId: row.id,
          actor,
          action: 'organization.create',
          targetType: 'organization',
          targetId: row.id,
          after: { id: row.id, name: row.name, owner_user_id: actor.userId },
        },
        now,
      );
      return { ...row, role: 'owner' };
    });
  }

  /** The caller's organizations; `all` (platform admins only) lists every live organization. */
  list(
    actor: Actor,
    filters: OrganizationFilters & { all: boolean },
    window: ListWindow<OrganizationSortField>,
  ): Promise<VisibleOrganization[]> {
    const organizations = new OrganizationRepository(this.#db);
    if (filters.all) return organizations.listAll(this.#authorizer.authorizePlatform(actor), filters, window);
    return organizations.listForMember(actor.userId, { ...filters, onlyOrgId: actor.keyOrgId }, window);
  }

  get(scope: OrgScope): Promise<VisibleOrganization> {
    return findOrganization(new OrganizationRepository(this.#db), scope);
  }

  async overview(scope: OrgScope): Promise<OrganizationOverview> {
    const organizations = new OrganizationRepository(this.#db);
    const organization = await this.get(scope);
    return {
      organization,
      settings: parseOrgSettings(organization.settings),
      counts: await organizations.counts(scope),
    };
  }

  async rename(scope: OrgScope, name: string): Promise<VisibleOrganization> {
    const now = Date.now();
    return this.#db.transaction().execute(async (transaction) => {
      const organizations = new OrganizationRepository(transaction);
      const before = await findOrganization(organizations, scope);
      await organizations.rename(scope, name, now);
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'organization.rename',
          targetType: 'organization',
          targetId: scope.orgId,
          before: { name: before.name },
          after: { name },
        },
        now,
      );
      return { ...before, name, updated_at: now };
    });
  }

  /** Soft delete: hidden everywhere at once, rows kept for `deletedOrganizationRetentionDays`. */
  async delete(scope: OrgScope): Promise<{ deletedAt: number; purgeAfter: number }> {
    const now = Date.now();
    const deleted = await this.#db.transaction().execute(async (transaction) => {
      const organizations = new OrganizationRepository(transaction);
      const before = await organizations.find(scope);
      if (!before || !(await organizations.softDelete(scope, now))) {
        throw new AppError('not_found', 'organization not found');
      }
      const purgeAfter = now + deletedOrganizationRetentionDays * 86_400_000;
      const revokedKeys = await this.#keys.revokeWithin(transaction, scope, {});
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'organization.delete',
          targetType: 'organization',
          targetId: scope.orgId,
          before: { id: before.id, name: before.name, deleted_at: null },
          after: {
            id: before.id,
            name: before.name,
            deleted_at: now,
            purge_after: purgeAfter,
            revoked_keys: revokedKeys,
          },
        },
        now,
      );
      return { deletedAt: now, purgeAfter, revokedKeys };
    });
    if (deleted.revokedKeys > 0) this.#keys.announceChange();
    return { deletedAt: deleted.deletedAt, purgeAfter: deleted.purgeAfter };
  }

  /**
   * Makes another member the owner; every previous owner becomes an admin. An organization has exactly one owner:
   * the caller's ownership is checked again inside the transaction, every role change is a compare-and-set, and the
   * unique index on owners (migration 0005) refuses a second one, so of concurrent transfers exactly one wins and
   * the others answer 409.
   */
  async transferOwnership(scope: OrgScope, targetUserId: string): Promise<OwnershipTransfer> {
    const now = Date.now();
    const transfer = this.#db.transaction().execute(async (transaction): Promise<OwnershipTransfer> => {
      const members = new MemberRepository(transaction);
      const target = await members.find(scope, targetUserId);
      if (!target) {
        throw new AppError('unprocessable', 'ownership can only go to a member of this organization', {
          param: 'user_id',
        });
      }
      if (target.role === 'owner') throw new AppError('conflict', 'this member already owns the organization');
      // An owner hands over only their own ownership: the compare-and-set below is on the caller's row, so a transfer
      // that read the caller as owner just before another transfer committed finds that row changed and fails. (Taking
      // whoever owns the organization by then would let a caller who is no longer owner move it on.)
      let previousOwners: Awaited<ReturnType<MemberRepository['findOwners']>>;
      if (scope.actor.platformRole === 'admin') {
        previousOwners = await members.findOwners(scope);
      } else {
        const caller = await members.find(scope, scope.actor.userId);
        if (caller?.role !== 'owner') throw ownershipMoved();
        previousOwners = [caller];
      }
      for (const owner of previousOwners) {
        if (!(await members.updateRole(scope, owner.user_id, 'owner', 'admin'))) throw ownershipMoved();
      }
      if (!(await members.updateRole(scope, target.user_id, target.role, 'owner'))) throw memberChangedConcurrently();
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'organization.transfer_ownership',
          targetType: 'member',
          targetId: target.user_id,
          before: {
            owners: previousOwners.map((owner) => owner.user_id),
            new_owner: { user_id: target.user_id, role: target.role },
          },
          after: {
            owners: [target.user_id],
            previous_owners: previousOwners.map((owner) => ({ user_id: owner.user_id, role: 'admin' })),
          },
        },
        now,
      );
      return {
        owner: { ...target, role: 'owner' },
        previousOwners: previousOwners.map((owner) => ({ ...owner, role: 'admin' })),
      };
    });
    return conflictOnDuplicate(transfer, ownershipMoved().message);
  }

  /** The caller leaves; an owner must hand ownership over first (409). */
  async leave(scope: OrgScope): Promise<void> {
    const now = Date.now();
    const revokedKeys = await this.#db.transaction().execute(async (transaction) => {
      const members = new MemberRepository(transaction);
      const membership = await members.find(scope, scope.actor.userId);
      if (!membership) throw new AppError('not_found', 'you are not a member of this organization');
      if (membership.role === 'owner') {
        throw new AppError('conflict', 'transfer ownership to another member before leaving');
      }
      // Compare-and-set on the role: a member made owner a moment ago may not slip out and leave no owner.
      if (!(await members.remove(scope, scope.actor.userId, membership.role))) throw memberChangedConcurrently();
      const revoked = await this.#keys.revokeWithin(transaction, scope, { userId: scope.actor.userId });
      await deleteTrafficRulesWithin(transaction, scope, { type: 'user', id: scope.actor.userId });
      await recordAuditEvent(
        transaction,
        {
          orgId: scope.orgId,
          actor: scope.actor,
          action: 'member.leave',
          targetType: 'member',
          targetId: scope.actor.userId,
          before: { user_id: membership.user_id, role: membership.role },
          after: { revoked_keys: revoked },
        },
        now,
      );
      return revoked;
    });
    if (revokedKeys > 0) this.#keys.announceChange();
  }
}

/** The organization the scope names, or not_found when it is gone (soft-deleted organizations included). */
export async function findOrganization(
  organizations: OrganizationRepository,
  scope: OrgScope,
): Promise<VisibleOrganization> {
  const organization = await organizations.find(scope);
  if (!organization) throw new AppError('not_found', 'organization not found');
  return organization;
}

function ownershipMoved(): AppError {
  return new AppError('conflict', 'ownership moved a moment ago (another transfer got there first)');
}
