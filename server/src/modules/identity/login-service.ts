import { randomBytes } from 'node:crypto';
import type { Database } from '../../db/database.ts';
import { AppError } from '../../errors/app-error.ts';
import { hashPassword, needsRehash, verifyPassword, type PasswordHashParameters } from '../../lib/password.ts';
import { UserRepository } from '../users/index.ts';
import type { AccountRow } from './account-repository.ts';
import type { IdentityLimiters } from './attempt-limiter.ts';
import { normalizeEmail } from './email-address.ts';
import type { SessionClient, SessionService, SessionTokens } from './session-service.ts';

export interface LoginResult {
  readonly account: AccountRow;
  readonly tokens: SessionTokens;
}

/**
 * Sign-in with email and password. Unknown addresses, accounts without a password and wrong passwords all get the
 * same 401 after the same scrypt work, so neither the answer nor its timing tells whether an account exists.
 */
export class LoginService {
  readonly #db: Database;
  readonly #sessions: SessionService;
  readonly #limiters: IdentityLimiters;
  readonly #hashParameters: PasswordHashParameters;
  readonly #requireEmailVerification: boolean;
  #decoyHash: Promise<string> | undefined;

  constructor(dependencies: {
    db: Database;
    sessions: SessionService;
    limiters: IdentityLimiters;
    hashParameters: PasswordHashParameters;
    requireEmailVerification: boolean;
  }) {
    this.#db = dependencies.db;
    this.#sessions = dependencies.sessions;
    this.#limiters = dependencies.limiters;
    this.#hashParameters = dependencies.hashParameters;
    this.#requireEmailVerification = dependencies.requireEmailVerification;
  }

  async login(email: string, password: string, client: SessionClient): Promise<LoginResult> {
    const address = normalizeEmail(email);
    const ip = client.ip ?? 'unknown';
    await this.#limiters.loginPerIp.consume(ip);
    await this.#limiters.loginPerAccount.consume(address);

    const accounts = new UserRepository(this.#db);
    const account = await accounts.findByEmail(address);
    const storedHash = account?.password_hash ?? (await this.#decoy());
    const matches = await verifyPassword(password, storedHash);
    if (!account || account.password_hash === null || !matches) {
      throw new AppError('invalid_credentials', 'the email address or password is not correct');
    }
    await this.#limiters.loginPerAccount.reset(address);
    await this.#limiters.loginPerIp.refund(ip);

    if (account.disabled_at !== null) throw new AppError('unauthenticated', 'this account is disabled');
    if (this.#requireEmailVerification && account.email_verified_at === null) {
      throw new AppError('forbidden', 'verify your email address first: follow the link we sent you');
    }
    if (needsRehash(account.password_hash, this.#hashParameters)) {
      await accounts.setPasswordHash(account.id, await hashPassword(password, this.#hashParameters), Date.now());
    }
    return { account, tokens: await this.#sessions.startSession(account.id, client) };
  }

  /** A hash of a random password with the current parameters, made once, checked against when there is no account. */
  #decoy(): Promise<string> {
    this.#decoyHash ??= hashPassword(randomBytes(16).toString('hex'), this.#hashParameters);
    return this.#decoyHash;
  }
}
