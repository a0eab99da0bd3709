import type { Database } from '../../db/database.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import type { KeyService } from '../keys/index.ts';
import type { Actor, PlatformScope } from '../shared/index.ts';
import { UserRepository, type UserRow } from '../users/index.ts';
import { normalizeEmail } from './email-address.ts';
import { SessionRepository } from './session-repository.ts';

/** A user's account as the platform admin sees it after a change of status. */
export interface AccountStatus {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly platformRole: 'admin' | 'member';
  /** Epoch ms the account was disabled, or null when it is active. */
  readonly disabledAt: number | null;
}

/**
 * Disabling and re-enabling accounts, by a platform admin (API) or the operator (CLI). A disabled user cannot sign in,
 * their sessions and refresh tokens end, and their keys are refused by the gateway on every instance: the key epoch is
 * bumped in the same transaction, so each instance looks keys up again at its next poll, and this one at once.
 * Enabling lets the same keys work again (they were never revoked); sessions stay ended.
 *
 * Refused with 409: disabling yourself (you would lock yourself out mid-request), and disabling the last active
 * platform admin (nobody could manage the platform any more).
 */
export class AccountStatusService {
  readonly #db: Database;
  readonly #keys: KeyService;
  readonly #now: () => number;

  constructor(dependencies: { db: Database; keys: KeyService; now?: () => number }) {
    this.#db = dependencies.db;
    this.#keys = dependencies.keys;
    this.#now = dependencies.now ?? Date.now;
  }

  disableAccount(scope: PlatformScope, userId: string): Promise<AccountStatus> {
    return this.#setDisabled(userId, true, scope.actor);
  }

  enableAccount(scope: PlatformScope, userId: string): Promise<AccountStatus> {
    return this.#setDisabled(userId, false, scope.actor);
  }

  /** `aihub users disable|enable`: the operator, who has shell access to the database, acts without a sign-in. */
  async setDisabledAsOperator(email: string, disabled: boolean): Promise<AccountStatus> {
    const address = normalizeEmail(email);
    const account = await new UserRepository(this.#db).findByEmail(address);
    if (!account) throw new AppError('not_found', `no user with the email address ${address}`);
    return this.#setDisabled(account.id, disabled, null);
  }

  async #setDisabled(userId: string, disabled: boolean, actor: Actor | null): Promise<AccountStatus> {
    if (disabled && actor?.userId === userId) {
      throw new AppError('conflict', 'you cannot disable your own account; ask another platform admin');
    }
    const now = this.#now();
    let changed = false;
    const account = await this.#db.transaction().execute(async (transaction) => {
      const users = new UserRepository(transaction);
      const before = await users.findById(userId);
      if (!before) throw new AppError('not_found', 'no such user');
      if (disabled && before.role === 'admin' && before.disabled_at === null) {
        if ((await users.lockActivePlatformAdmins()) <= 1) {
          throw new AppError('conflict', 'this is the last active platform admin; make another admin first');
        }
      }
      changed = await users.setDisabledAt(userId, disabled ? now : null, now);
      if (!changed) return before;
      if (disabled) await new SessionRepository(transaction).revokeUserFamilies(userId, now);
      await this.#keys.ownerChangedWithin(transaction);
      await recordAuditEvent(
        transaction,
        {
          orgId: null,
          actor,
          action: disabled ? 'user.disable' : 'user.enable',
          targetType: 'user',
          targetId: userId,
          before: { disabledAt: before.disabled_at },
          after: { disabledAt: disabled ? now : null },
        },
        now,
      );
      return { ...before, disabled_at: disabled ? now : null };
    });
    if (changed) this.#keys.announceChange();
    return presentStatus(account);
  }
}

function presentStatus(row: UserRow): AccountStatus {
  return { id: row.id, email: row.email, name: row.name, platformRole: row.role, disabledAt: row.disabled_at };
}
