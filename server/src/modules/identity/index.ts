import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../../config/config.ts';
import type { Database } from '../../db/database.ts';
import { defaultPasswordHashParameters, type PasswordHashParameters } from '../../lib/password.ts';
import type { AccessTokens } from './access-tokens.ts';
import { AccountService } from './account-service.ts';
import { createMemoryLimiters, type IdentityLimiters } from './attempt-limiter.ts';
import { EmailDelivery } from './email-delivery.ts';
import { LoginService } from './login-service.ts';
import type { Mailer } from './mailer.ts';
import { PasswordService } from './password-service.ts';
import { SessionService } from './session-service.ts';

export { AccessTokens, looksLikeJwt } from './access-tokens.ts';
export type { AccessTokenClaims } from './access-tokens.ts';
export { AccountService } from './account-service.ts';
export { AccountStatusService } from './account-status-service.ts';
export type { AccountStatus } from './account-status-service.ts';
export type { Registration } from './account-service.ts';
export { presentAccount } from './account-presenter.ts';
export type { AccountView } from './account-presenter.ts';
export { FlexibleAttemptLimiter, createMemoryLimiters, identityLimits } from './attempt-limiter.ts';
export type { AttemptLimit, AttemptLimiter, IdentityLimiters } from './attempt-limiter.ts';
export { normalizeEmail } from './email-address.ts';
export { LoginService } from './login-service.ts';
export type { LoginClient, LoginResult } from './login-service.ts';
export { deviceCookie, deviceCookieMaxAgeSeconds } from './known-device.ts';
export { LogMailer, SmtpMailer, createMailer } from './mailer.ts';
export type { MailMessage, Mailer } from './mailer.ts';
export { findPasswordViolation } from './password-policy.ts';
export type { PasswordRule } from './password-policy.ts';
export { PasswordService, setPasswordAsOperator } from './password-service.ts';
export type { RequestOrigin } from './request-origin.ts';
export {
  assertCsrfHeader,
  clearSessionCookies,
  csrfCookie,
  csrfHeader,
  csrfTokenFor,
  refreshCookie,
  refreshCookiePath,
  sessionCookie,
  setDeviceCookie,
  setSessionCookies,
} from './session-cookies.ts';
export { SessionService } from './session-service.ts';
export type { SessionClient, SessionTokens } from './session-service.ts';

/** Everything the auth routes (and SSO) use; built once by the app factory. */
export interface IdentityServices {
  readonly sessions: SessionService;
  readonly logins: LoginService;
  readonly accounts: AccountService;
  readonly passwords: PasswordService;
}

export function passwordHashParametersFor(config: Config): PasswordHashParameters {
  return { ...defaultPasswordHashParameters, logCost: config.identity.passwordHashCost };
}

export function createIdentityServices(dependencies: {
  db: Database;
  config: Config;
  accessTokens: AccessTokens;
  mailer: Mailer;
  log: Pick<FastifyBaseLogger, 'error'>;
  /** In-process counters by default; pass Redis-backed ones when instances must share them. */
  limiters?: IdentityLimiters;
}): IdentityServices {
  const { db, config } = dependencies;
  const limiters = dependencies.limiters ?? createMemoryLimiters();
  const hashParameters = passwordHashParametersFor(config);
  const email = new EmailDelivery(dependencies.mailer, config.identity.publicUrl, dependencies.log);
  const sessions = new SessionService(db, dependencies.accessTokens, config.identity.refreshTokenTtlSeconds);
  return {
    sessions,
    logins: new LoginService({
      db,
      sessions,
      limiters,
      hashParameters,
      requireEmailVerification: config.identity.requireEmailVerification,
      secretKey: config.secretKey,
    }),
    accounts: new AccountService({
      db,
      limiters,
      hashParameters,
      email,
      registration: config.identity.registration,
      requireEmailVerification: config.identity.requireEmailVerification,
    }),
    passwords: new PasswordService({ db, limiters, hashParameters, email }),
  };
}
