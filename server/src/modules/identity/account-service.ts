import { createHash, randomUUID } from 'node:crypto';
import type { RegistrationMode } from '../../config/config.ts';
import type { Database } from '../../db/database.ts';
import { AppError } from '../../errors/app-error.ts';
import { hashPassword, type PasswordHashParameters } from '../../lib/password.ts';
import { recordAuditEvent } from '../audit/index.ts';
import type { Actor } from '../shared/index.ts';
import { UserRepository } from '../users/index.ts';
import { emailVerificationEmail } from './account-emails.ts';
import { AccountRepository, isUniqueViolation, type AccountRow } from './account-repository.ts';
import type { IdentityLimiters } from './attempt-limiter.ts';
import { parseEmail } from './email-address.ts';
import type { EmailDelivery } from './email-delivery.ts';
import { generateOpaqueToken, hashOpaqueToken } from './one-time-token.ts';
import { assertPasswordPolicy } from './password-policy.ts';
import { accountHolderActor, type RequestOrigin } from './request-origin.ts';

export interface Registration {
  readonly email: string;
  readonly password: string;
  readonly name: string;
  readonly invitationToken?: string | undefined;
}

const verificationTokenTtlMs = 24 * 60 * 60 * 1000;

/**
 * Creating accounts and verifying their email addresses. Organizations and memberships are not made here: an
 * invited person registers first, then accepts the invitation through the tenancy routes.
 */
export class AccountService {
  readonly #db: Database;
  readonly #limiters: IdentityLimiters;
  readonly #hashParameters: PasswordHashParameters;
  readonly #email: EmailDelivery;
  readonly #registration: RegistrationMode;
  readonly #requireEmailVerification: boolean;

  constructor(dependencies: {
    db: Database;
    limiters: IdentityLimiters;
    hashParameters: PasswordHashParameters;
    email: EmailDelivery;
    registration: RegistrationMode;
    requireEmailVerification: boolean;
  }) {
    this.#db = dependencies.db;
    this.#limiters = dependencies.limiters;
    this.#hashParameters = dependencies.hashParameters;
    this.#email = dependencies.email;
    this.#registration = dependencies.registration;
    this.#requireEmailVerification = dependencies.requireEmailVerification;
  }

  /**
   * Registers an account as the operator's registration mode allows: `closed` refuses everyone, `invite` needs an
   * open invitation for this very address, `open` takes anyone. An invitation proves the address, so the account
   * starts verified. The user row and its audit event are written in one transaction.
   */
  async register(registration: Registration, origin: RequestOrigin): Promise<AccountRow> {
    if (this.#registration === 'closed') {
      throw new AppError('forbidden', 'registration is closed on this server; ask an administrator for an account');
    }
    const email = parseEmail(registration.email);
    const name = registration.name.trim();
    if (name.length === 0) throw new AppError('invalid_request', 'name must not be empty', { param: 'name' });
    const now = Date.now();
    const accounts = new AccountRepository(this.#db);
    const users = new UserRepository(this.#db);

    let invited = false;
    if (registration.invitationToken !== undefined) {
      invited = await accounts.hasOpenInvitation(email, invitationDigests(registration.invitationToken), now);
      if (!invited) {
        throw new AppError(
          'forbidden',
          'this invitation is not valid for this email address (expired, used or revoked)',
          { param: 'invitation_token' },
        );
      }
    } else if (this.#registration === 'invite') {
      throw new AppError(
        'forbidden',
        'registration on this server is by invitation only; use the link in your invitation',
        { param: 'invitation_token' },
      );
    }
    assertPasswordPolicy(registration.password, email, 'password');
    const duplicate = () =>
      new AppError('conflict', 'an account with this email address already exists', { param: 'email' });
    if (await users.findByEmail(email)) throw duplicate();

    const passwordHash = await hashPassword(registration.password, this.#hashParameters);
    const userId = randomUUID();
    const verification = !invited && this.#requireEmailVerification ? generateOpaqueToken() : undefined;
    try {
      await this.#db.transaction().execute(async (transaction) => {
        const repository = new AccountRepository(transaction);
        await new UserRepository(transaction).insert({
          id: userId,
          email,
          name,
          role: 'member',
          password_hash: passwordHash,
          email_verified_at: invited ? now : null,
          disabled_at: null,
          created_at: now,
          updated_at: now,
        });
        if (verification) {
          await repository.insertUserToken({
            userId,
            purpose: 'email_verification',
            tokenHash: verification.hash,
            expiresAt: now + verificationTokenTtlMs,
            now,
          });
        }
        await recordAuditEvent(
          transaction,
          {
            orgId: null,
            actor: accountHolderActor({ id: userId, role: 'member' }, origin),
            action: 'user.register',
            targetType: 'user',
            targetId: userId,
            after: {
              id: userId,
              email,
              name,
              role: 'member',
              via: invited ? 'invitation' : 'open',
              email_verified: invited,
            },
          },
          now,
        );
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicate();
      throw error;
    }
    if (verification) this.#sendVerification(email, verification.token);
    const account = await users.findById(userId);
    if (!account) throw new AppError('internal_error', 'the new account could not be read back');
    return account;
  }

  /** Emails a verification link (valid 24 hours) to the signed-in user, unless the address is verified already. */
  async requestEmailVerification(actor: Actor): Promise<void> {
    const accounts = new AccountRepository(this.#db);
    const account = await new UserRepository(this.#db).findById(actor.userId);
    if (!account) throw new AppError('unauthenticated', 'this account no longer exists');
    if (account.email_verified_at !== null) return;
    await this.#limiters.verificationPerUser.consume(account.id);
    const now = Date.now();
    const { token, hash } = generateOpaqueToken();
    await accounts.insertUserToken({
      userId: account.id,
      purpose: 'email_verification',
      tokenHash: hash,
      expiresAt: now + verificationTokenTtlMs,
      now,
    });
    this.#sendVerification(account.email, token);
  }

  /** Marks the address verified from a verification link; a used or expired link is 410. */
  async verifyEmail(token: string, origin: RequestOrigin): Promise<void> {
    const gone = new AppError('gone', 'this verification link has expired or was already used; ask for a new one');
    const accounts = new AccountRepository(this.#db);
    const row = await accounts.findUserToken('email_verification', hashOpaqueToken(token));
    if (!row || row.used_at !== null || row.expires_at <= Date.now()) throw gone;
    const account = await new UserRepository(this.#db).findById(row.user_id);
    if (!account) throw gone;
    const now = Date.now();
    await this.#db.transaction().execute(async (transaction) => {
      const repository = new AccountRepository(transaction);
      if (!(await repository.useUserToken(row.id, now))) throw gone;
      await repository.useAllUserTokens(account.id, 'email_verification', now);
      if (!(await new UserRepository(transaction).markEmailVerified(account.id, now))) return;
      await recordAuditEvent(
        transaction,
        {
          orgId: null,
          actor: accountHolderActor(account, origin),
          action: 'user.email_verify',
          targetType: 'user',
          targetId: account.id,
          after: { email: account.email },
        },
        now,
      );
    });
  }

  #sendVerification(email: string, token: string): void {
    this.#email.deliver(emailVerificationEmail(email, this.#email.link('/verify-email', token), 24));
  }
}

/**
 * The digests an invitation's token may be stored under. The tenancy module issues invitations; sha256 in base64url
 * is this codebase's convention (keys, refresh tokens), hex is accepted too so the two modules cannot drift apart.
 */
function invitationDigests(token: string): string[] {
  const digest = createHash('sha256').update(token).digest();
  return [digest.toString('base64url'), digest.toString('hex')];
}
