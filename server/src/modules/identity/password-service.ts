import type { Database } from '../../db/database.ts';
import { AppError } from '../../errors/app-error.ts';
import { hashPassword, verifyPassword, type PasswordHashParameters } from '../../lib/password.ts';
import { recordAuditEvent } from '../audit/index.ts';
import type { Actor } from '../shared/index.ts';
import { UserRepository } from '../users/index.ts';
import { passwordResetEmail } from './account-emails.ts';
import { AccountRepository } from './account-repository.ts';
import type { IdentityLimiters } from './attempt-limiter.ts';
import { normalizeEmail } from './email-address.ts';
import type { EmailDelivery } from './email-delivery.ts';
import { generateOpaqueToken, hashOpaqueToken } from './one-time-token.ts';
import { assertPasswordPolicy, weakPasswordError } from './password-policy.ts';
import { accountHolderActor, type RequestOrigin } from './request-origin.ts';
import { SessionRepository } from './session-repository.ts';

const resetTokenTtlMs = 60 * 60 * 1000;

/** Changing a password (signed in) and resetting a forgotten one (by a one-time link sent by email). */
export class PasswordService {
  readonly #db: Database;
  readonly #limiters: IdentityLimiters;
  readonly #hashParameters: PasswordHashParameters;
  readonly #email: EmailDelivery;

  constructor(dependencies: {
    db: Database;
    limiters: IdentityLimiters;
    hashParameters: PasswordHashParameters;
    email: EmailDelivery;
  }) {
    this.#db = dependencies.db;
    this.#limiters = dependencies.limiters;
    this.#hashParameters = dependencies.hashParameters;
    this.#email = dependencies.email;
  }

  /** Checks the current password, sets the new one and ends every other session of the user. */
  async changePassword(actor: Actor, currentPassword: string, newPassword: string): Promise<void> {
    const account = await new UserRepository(this.#db).findById(actor.userId);
    if (!account) throw new AppError('unauthenticated', 'this account no longer exists');
    if (account.password_hash === null) {
      throw new AppError(
        'invalid_request',
        'this account signs in through SSO and has no password; use a password reset to set one',
        { param: 'current_password' },
      );
    }
    // Guessing the current password from a stolen session is throttled like guessing at sign-in.
    const pair = `${account.email}|${actor.ip ?? 'unknown'}`;
    await this.#limiters.loginPerAccountAndIp.consume(pair);
    if (!(await verifyPassword(currentPassword, account.password_hash))) {
      throw new AppError('invalid_request', 'the current password is not correct', { param: 'current_password' });
    }
    await this.#limiters.loginPerAccountAndIp.reset(pair);
    assertPasswordPolicy(newPassword, account.email, 'new_password');
    if (newPassword === currentPassword) throw weakPasswordError('same_as_current', 'new_password');

    const passwordHash = await hashPassword(newPassword, this.#hashParameters);
    const now = Date.now();
    await this.#db.transaction().execute(async (transaction) => {
      await new UserRepository(transaction).setPasswordHash(account.id, passwordHash, now);
      const ended = await new SessionRepository(transaction).revokeUserFamilies(account.id, now, actor.sessionId);
      await recordAuditEvent(
        transaction,
        {
          orgId: null,
          actor,
          action: 'user.password_change',
          targetType: 'user',
          targetId: account.id,
          after: { other_sessions_ended: ended },
        },
        now,
      );
    });
  }

  /**
   * Emails a one-time reset link (valid one hour) when an active account has this address. The caller answers 202
   * either way and the email goes out in the background, so neither answer nor timing reveals whether it exists.
   */
  async requestPasswordReset(email: string, ip: string): Promise<void> {
    const address = normalizeEmail(email);
    await this.#limiters.resetPerIp.consume(ip);
    await this.#limiters.resetPerEmail.consume(address);
    const accounts = new AccountRepository(this.#db);
    const account = await new UserRepository(this.#db).findByEmail(address);
    if (!account || account.disabled_at !== null) return;
    const now = Date.now();
    const { token, hash } = generateOpaqueToken();
    await accounts.insertUserToken({
      userId: account.id,
      purpose: 'password_reset',
      tokenHash: hash,
      expiresAt: now + resetTokenTtlMs,
      now,
    });
    this.#email.deliver(passwordResetEmail(account.email, this.#email.link('/reset-password', token), 60));
  }

  /**
   * Sets a new password from a reset link: spends the token (and any other outstanding reset links), marks the
   * address verified (the link proved it), ends every session, and records it, all in one transaction.
   */
  async resetPassword(token: string, newPassword: string, origin: RequestOrigin): Promise<void> {
    const gone = new AppError('gone', 'this reset link has expired or was already used; ask for a new one');
    const accounts = new AccountRepository(this.#db);
    const row = await accounts.findUserToken('password_reset', hashOpaqueToken(token));
    if (!row || row.used_at !== null || row.expires_at <= Date.now()) throw gone;
    const account = await new UserRepository(this.#db).findById(row.user_id);
    if (!account || account.disabled_at !== null) throw gone;
    assertPasswordPolicy(newPassword, account.email, 'new_password');

    const passwordHash = await hashPassword(newPassword, this.#hashParameters);
    const now = Date.now();
    await this.#db.transaction().execute(async (transaction) => {
      const repository = new AccountRepository(transaction);
      if (!(await repository.useUserToken(row.id, now))) throw gone;
      await repository.useAllUserTokens(account.id, 'password_reset', now);
      const users = new UserRepository(transaction);
      await users.setPasswordHash(account.id, passwordHash, now);
      await users.markEmailVerified(account.id, now);
      const ended = await new SessionRepository(transaction).revokeUserFamilies(account.id, now);
      await recordAuditEvent(
        transaction,
        {
          orgId: null,
          actor: accountHolderActor(account, origin),
          action: 'user.password_reset',
          targetType: 'user',
          targetId: account.id,
          after: { sessions_ended: ended },
        },
        now,
      );
    });
  }
}

/**
 * Sets a password on the operator's behalf (`aihub users set-password`), e.g. so the bootstrap admin can sign in
 * to the console. The operator vouches for the address, so it is marked verified; every session ends.
 */
export async function setPasswordAsOperator(
  db: Database,
  email: string,
  password: string,
  hashParameters: PasswordHashParameters,
): Promise<{ userId: string; email: string }> {
  const address = normalizeEmail(email);
  const account = await new UserRepository(db).findByEmail(address);
  if (!account) throw new AppError('not_found', `no user with the email address ${address}`);
  assertPasswordPolicy(password, account.email, 'password');
  const passwordHash = await hashPassword(password, hashParameters);
  const now = Date.now();
  await db.transaction().execute(async (transaction) => {
    const users = new UserRepository(transaction);
    await users.setPasswordHash(account.id, passwordHash, now);
    await users.markEmailVerified(account.id, now);
    await new SessionRepository(transaction).revokeUserFamilies(account.id, now);
    await recordAuditEvent(
      transaction,
      { orgId: null, actor: null, action: 'user.password_set', targetType: 'user', targetId: account.id },
      now,
    );
  });
  return { userId: account.id, email: account.email };
}
