import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../../errors/app-error.ts';

/**
 * Counts attempts under a key (an account, an IP) within a window. Attempts are counted up front, so parallel
 * guesses cannot slip past the limit between a check and a count; the caller resets or refunds on success.
 */
export interface AttemptLimiter {
  /** Counts one attempt; throws `too_many_attempts` (with Retry-After) when the allowance is used up. */
  consume(key: string): Promise<void>;
  /** Gives one attempt back (a success that should not count). */
  refund(key: string): Promise<void>;
  /** Forgets the key (e.g. the account signed in successfully). */
  reset(key: string): Promise<void>;
}

export interface AttemptLimit {
  readonly name: string;
  readonly attempts: number;
  readonly windowSeconds: number;
}

/**
 * The numbers, in one place. Sign-in, per 15 minutes: 5 failures per account from one IP, 20 per IP across accounts,
 * and a ceiling of 50 per account from everywhere that devices known to the account do not count against (see
 * login-service.ts). Password-reset emails: 5 per address and 20 per IP an hour. Verification emails: 5 per user an
 * hour.
 */
export const identityLimits = {
  loginPerAccountAndIp: { name: 'login-account-ip', attempts: 5, windowSeconds: 15 * 60 },
  loginPerAccount: { name: 'login-account', attempts: 50, windowSeconds: 15 * 60 },
  loginPerIp: { name: 'login-ip', attempts: 20, windowSeconds: 15 * 60 },
  resetPerEmail: { name: 'reset-email', attempts: 5, windowSeconds: 60 * 60 },
  resetPerIp: { name: 'reset-ip', attempts: 20, windowSeconds: 60 * 60 },
  verificationPerUser: { name: 'verify-user', attempts: 5, windowSeconds: 60 * 60 },
} as const satisfies Record<string, AttemptLimit>;

export type IdentityLimiters = { readonly [name in keyof typeof identityLimits]: AttemptLimiter };

/**
 * An AttemptLimiter over any rate-limiter-flexible store. In-process memory now; with Redis, pass a
 * `RateLimiterRedis` built from the same AttemptLimit so every instance shares the counts.
 */
export class FlexibleAttemptLimiter implements AttemptLimiter {
  readonly #limiter: RateLimiterAbstract;
  readonly #what: string;

  constructor(limiter: RateLimiterAbstract, what: string) {
    this.#limiter = limiter;
    this.#what = what;
  }

  async consume(key: string): Promise<void> {
    try {
      await this.#limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfterSeconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new AppError('too_many_attempts', `too many ${this.#what}; try again in ${retryAfterSeconds} seconds`, {
        retryAfterSeconds,
      });
    }
  }

  async refund(key: string): Promise<void> {
    await this.#limiter.reward(key, 1);
  }

  async reset(key: string): Promise<void> {
    await this.#limiter.delete(key);
  }
}

export function createMemoryLimiters(): IdentityLimiters {
  const memory = (limit: AttemptLimit, what: string) =>
    new FlexibleAttemptLimiter(
      new RateLimiterMemory({ keyPrefix: limit.name, points: limit.attempts, duration: limit.windowSeconds }),
      what,
    );
  return {
    loginPerAccountAndIp: memory(identityLimits.loginPerAccountAndIp, 'failed sign-ins for this account'),
    loginPerAccount: memory(
      identityLimits.loginPerAccount,
      'failed sign-ins for this account from new devices (a device that signed in before is not held back)',
    ),
    loginPerIp: memory(identityLimits.loginPerIp, 'failed sign-ins from this address'),
    resetPerEmail: memory(identityLimits.resetPerEmail, 'password reset requests for this address'),
    resetPerIp: memory(identityLimits.resetPerIp, 'password reset requests from this address'),
    verificationPerUser: memory(identityLimits.verificationPerUser, 'verification emails'),
  };
}
