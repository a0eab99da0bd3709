import { randomBytes } from 'node:crypto';
import type { Database } from '../../db/database.ts';
import { AppError } from '../../errors/app-error.ts';
import { hashPassword, needsRehash, verifyPassword, type PasswordHashParameters } from '../../lib/password.ts';
import { UserRepository } from '../users/index.ts';
import type { AccountRow } from './account-repository.ts';
import type { IdentityLimiters } from './attempt-limiter.ts';
import { normalizeEmail } from './email-address.ts';
import { deviceTokenFor, isDeviceTokenOf } from './known-device.ts';
import { SessionRepository } from './session-repository.ts';
import type { SessionClient, SessionService, SessionTokens } from './session-service.ts';

export interface LoginClient extends SessionClient {
  /** The `aihub_device` cookie, when the browser has one (see known-device.ts). */
  readonly deviceToken?: string | undefined;
}

export interface LoginResult {
  readonly account: AccountRow;
  readonly tokens: SessionTokens;
  /** A fresh known-device token for this account, to keep in the `aihub_device` cookie. */
  readonly deviceToken: string;
}

/** How far back a session started from an address makes that address known to the account. */
const knownAddressWindowMs = 90 * 86_400_000;

/**
 * Sign-in with email and password. Unknown addresses, accounts without a password and wrong passwords all get the
 * same 401 after the same scrypt work, so neither the answer nor its timing tells whether an account exists.
 *
 * Throttling (numbers in attempt-limiter.ts) is keyed so that an attacker cannot lock a user out: failures count per
 * account and IP (5), per IP (20), and per account from everywhere (50) — but that last ceiling does not apply to a
 * device known to the account: one holding its `aihub_device` token, or an IP a session of the account started
 * from. The attacker can only lock themselves out; the user on their usual device keeps signing in.
 */
export class LoginService {
  readonly #db: Database;
  readonly #sessions: SessionService;
  readonly #limiters: IdentityLimiters;
  readonly #hashParameters: PasswordHashParameters;
  readonly #requireEmailVerification: boolean;
  readonly #secretKey: Buffer;
  readonly #now: () => number;
  #decoyHash: Promise<string> | undefined;

  constructor(dependencies: {
    db: Database;
    sessions: SessionService;
    limiters: IdentityLimiters;
    hashParameters: PasswordHashParameters;
    requireEmailVerification: boolean;
    /** The server secret known-device tokens are derived from. */
    secretKey: Buffer;
    now?: () => number;
  }) {
    this.#db = dependencies.db;
    this.#sessions = dependencies.sessions;
    this.#limiters = dependencies.limiters;
    this.#hashParameters = dependencies.hashParameters;
    this.#requireEmailVerification = dependencies.requireEmailVerification;
    this.#secretKey = dependencies.secretKey;
    this.#now = dependencies.now ?? Date.now;
  }

  async login(email: string, password: string, client: LoginClient): Promise<LoginResult> {
    const address = normalizeEmail(email);
    const ip = client.ip ?? 'unknown';
    const pair = `${address}|${ip}`;
    await this.#limiters.loginPerIp.consume(ip);
    await this.#limiters.loginPerAccountAndIp.consume(pair);

    const users = new UserRepository(this.#db);
    const account = await users.findByEmail(address);
    const knownDevice = account !== undefined && (await this.#isKnownDevice(account.id, client));
    if (!knownDevice) await this.#limiters.loginPerAccount.consume(address);

    const storedHash = account?.password_hash ?? (await this.#decoy());
    const matches = await verifyPassword(password, storedHash);
    if (!account || account.password_hash === null || !matches) {
      throw new AppError('invalid_credentials', 'the email address or password is not correct');
    }
    await this.#limiters.loginPerAccountAndIp.reset(pair);
    await this.#limiters.loginPerIp.refund(ip);
    // Only this attempt is given back: a success from one place must not wipe what an attacker elsewhere has used.
    if (!knownDevice) await this.#limiters.loginPerAccount.refund(address);

    if (account.disabled_at !== null) throw new AppError('unauthenticated', 'this account is disabled');
    if (this.#requireEmailVerification && account.email_verified_at === null) {
      throw new AppError('forbidden', 'verify your email address first: follow the link we sent you');
    }
    if (needsRehash(account.password_hash, this.#hashParameters)) {
      await users.setPasswordHash(account.id, await hashPassword(password, this.#hashParameters), this.#now());
    }
    return {
      account,
      tokens: await this.#sessions.startSession(account.id, client),
      deviceToken: deviceTokenFor(this.#secretKey, account.id),
    };
  }

  async #isKnownDevice(userId: string, client: LoginClient): Promise<boolean> {
    if (isDeviceTokenOf(this.#secretKey, client.deviceToken, userId)) return true;
    if (client.ip === undefined) return false;
    return new SessionRepository(this.#db).hasSessionFrom(userId, client.ip, this.#now() - knownAddressWindowMs);
  }

  /** A hash of a random password with the current parameters, made once, checked against when there is no account. */
  #decoy(): Promise<string> {
    this.#decoyHash ??= hashPassword(randomBytes(16).toString('hex'), this.#hashParameters);
    return this.#decoyHash;
  }
}
