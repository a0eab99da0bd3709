import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import type { Database } from '../../db/database.ts';
import type { OrgRole } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import type { Actor } from '../shared/index.ts';
import type { OrgSsoSettings } from '../tenancy/index.ts';
import { UserRepository } from '../users/index.ts';
import type { OidcConfigurations } from './oidc-configurations.ts';
import { isUniqueViolation, ssoAccountRepository as accounts, type SsoUser } from './sso-account-repository.ts';
import { toSsoError } from './sso-errors.ts';
import {
  ssoTransactionTtlMs,
  stateMatches,
  type SsoTransaction,
  type SsoTransactionSealer,
} from './sso-transaction.ts';

export type SsoSettings = OrgSsoSettings;
/** Where the flow gets an organization's settings (tenancy's readSsoSettings); undefined when it has none usable. */
export type SsoSettingsReader = (orgId: string) => Promise<SsoSettings | undefined>;

export interface SsoLoginServiceDependencies {
  readonly db: Database;
  readonly readSettings: SsoSettingsReader;
  readonly configurations: OidcConfigurations;
  readonly transactions: SsoTransactionSealer;
}

export interface BeginLoginInput {
  readonly redirectUri: string;
  /** Already checked to be a path on this site (see return-to.ts). */
  readonly returnTo: string;
}

export interface CompleteLoginInput {
  /** The sealed transaction from the login cookie, if the browser sent one. */
  readonly sealedTransaction: string | undefined;
  /** The raw query string the identity provider redirected with (code, state, iss, or error). */
  readonly query: string;
  readonly ip?: string;
  readonly requestId?: string;
}

export interface CompletedLogin {
  readonly userId: string;
  readonly returnTo: string;
}

/** The identity the provider vouched for, after our checks. */
interface VerifiedIdentity {
  readonly issuer: string;
  readonly subject: string;
  readonly email: string;
  readonly name: string;
}

const scope = 'openid email profile';

/**
 * OpenID Connect sign-in for an organization: authorization code flow with PKCE (S256), state and nonce, then
 * just-in-time provisioning of the user and their membership.
 */
export class SsoLoginService {
  readonly #db: Database;
  readonly #readSettings: SsoSettingsReader;
  readonly #configurations: OidcConfigurations;
  readonly #transactions: SsoTransactionSealer;

  constructor(dependencies: SsoLoginServiceDependencies) {
    this.#db = dependencies.db;
    this.#readSettings = dependencies.readSettings;
    this.#configurations = dependencies.configurations;
    this.#transactions = dependencies.transactions;
  }

  /** Returns where to send the browser and the sealed transaction to keep in its cookie until the callback. */
  async beginLogin(
    orgId: string,
    input: BeginLoginInput,
    now = Date.now(),
  ): Promise<{ authorizationUrl: string; sealedTransaction: string }> {
    const settings = await this.#enabledSettings(orgId);
    const configuration = await this.#configuration(orgId, settings);
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const transaction: SsoTransaction = {
      orgId,
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier,
      redirectUri: input.redirectUri,
      returnTo: input.returnTo,
      expiresAt: now + ssoTransactionTtlMs,
    };
    const authorizationUrl = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: input.redirectUri,
      response_type: 'code',
      scope,
      state: transaction.state,
      nonce: transaction.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { authorizationUrl: authorizationUrl.href, sealedTransaction: this.#transactions.seal(transaction) };
  }

  async completeLogin(orgId: string, input: CompleteLoginInput, now = Date.now()): Promise<CompletedLogin> {
    const transaction = this.#transactions.open(input.sealedTransaction, orgId, now);
    if (!transaction) {
      throw new AppError(
        'invalid_request',
        'this sign-in has expired or was started in another browser; start it again from the login page',
      );
    }
    const query = new URLSearchParams(input.query);
    if (!stateMatches(transaction, query.get('state') ?? undefined)) {
      throw new AppError('invalid_request', 'the state parameter does not match this sign-in', { param: 'state' });
    }
    const settings = await this.#enabledSettings(orgId);
    const configuration = await this.#configuration(orgId, settings);
    const identity = await this.#exchangeCode(configuration, transaction, input.query);
    checkEmailDomain(identity.email, settings);
    const actorContext = { ip: input.ip, requestId: input.requestId };
    const userId = await this.#provision(orgId, settings.defaultRole, identity, actorContext, now);
    return { userId, returnTo: transaction.returnTo };
  }

  async #enabledSettings(orgId: string): Promise<SsoSettings> {
    const settings = await this.#readSettings(orgId);
    if (!settings?.enabled) throw new AppError('not_found', 'single sign-on is not enabled for this organization');
    return settings;
  }

  async #configuration(orgId: string, settings: SsoSettings): Promise<oidc.Configuration> {
    try {
      return await this.#configurations.get(orgId, settings);
    } catch (error) {
      throw toSsoError(error, 'discovery');
    }
  }

  async #exchangeCode(
    configuration: oidc.Configuration,
    transaction: SsoTransaction,
    query: string,
  ): Promise<VerifiedIdentity> {
    const callbackUrl = new URL(transaction.redirectUri);
    callbackUrl.search = query;
    let claims: Record<string, unknown>;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: transaction.codeVerifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims();
      if (!idToken) throw new AppError('unauthenticated', 'the identity provider returned no ID token');
      claims = { ...idToken };
      // Providers may keep scope claims out of the ID token when they also issue an access token (OIDC Core 5.4);
      // they are then at the userinfo endpoint, which must answer for the same subject.
      if (
        (claims.email === undefined || claims.email_verified === undefined) &&
        configuration.serverMetadata().userinfo_endpoint
      ) {
        claims = { ...(await oidc.fetchUserInfo(configuration, tokens.access_token, idToken.sub)), ...claims };
      }
    } catch (error) {
      throw toSsoError(error, 'callback');
    }
    return verifyIdentity(configuration.serverMetadata().issuer, claims);
  }

  /**
   * Finds or creates the user and their membership, in one transaction with their audit events. A concurrent first
   * sign-in of the same person can make the insert collide; the retry then finds what the other one created.
   */
  async #provision(
    orgId: string,
    defaultRole: Exclude<OrgRole, 'owner'>,
    identity: VerifiedIdentity,
    actorContext: { ip: string | undefined; requestId: string | undefined },
    now: number,
  ): Promise<string> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#db.transaction().execute(async (transaction) => {
          const user = await this.#findOrCreateUser(transaction, orgId, identity, actorContext, now);
          if ((await accounts.findMembershipRole(transaction, orgId, user.id)) === undefined) {
            await accounts.addMember(transaction, orgId, user.id, defaultRole, now);
            await recordAuditEvent(
              transaction,
              {
                orgId,
                actor: actorFor(user, actorContext),
                action: 'member.add',
                targetType: 'user',
                targetId: user.id,
                after: { user_id: user.id, role: defaultRole, via: 'sso' },
              },
              now,
            );
          }
          return user.id;
        });
      } catch (error) {
        if (attempt >= 2 || !isUniqueViolation(error)) throw error;
      }
    }
  }

  async #findOrCreateUser(
    transaction: Database,
    orgId: string,
    identity: VerifiedIdentity,
    actorContext: { ip: string | undefined; requestId: string | undefined },
    now: number,
  ): Promise<SsoUser> {
    const linked = await accounts.findLinkedUser(transaction, identity.issuer, identity.subject);
    if (linked) {
      assertActive(linked);
      await accounts.recordIdentityLogin(transaction, identity, now);
      return linked;
    }

    const users = new UserRepository(transaction);
    const existing = await users.findByEmail(identity.email);
    if (existing) {
      assertActive(existing);
      // Linking by email hands the account to whoever controls this organization's identity provider. That is only
      // acceptable for someone the organization already has as a member, and never for a platform administrator.
      const member = (await accounts.findMembershipRole(transaction, orgId, existing.id)) !== undefined;
      if (!member || existing.role === 'admin') {
        throw new AppError(
          'conflict',
          'an account with this email already exists; sign in with it, then ask an organization admin to add you',
        );
      }
      await accounts.linkIdentity(transaction, { ...identity, userId: existing.id }, now);
      await recordAuditEvent(
        transaction,
        {
          orgId,
          actor: actorFor(existing, actorContext),
          action: 'sso_identity.link',
          targetType: 'user',
          targetId: existing.id,
          after: { issuer: identity.issuer, subject: identity.subject, email: identity.email },
        },
        now,
      );
      return existing;
    }

    const user: SsoUser = {
      id: randomUUID(),
      email: identity.email,
      name: identity.name,
      role: 'member',
      disabled_at: null,
    };
    await users.insert({
      ...user,
      password_hash: null,
      email_verified_at: now,
      created_at: now,
      updated_at: now,
    });
    await accounts.linkIdentity(transaction, { ...identity, userId: user.id }, now);
    await recordAuditEvent(
      transaction,
      {
        orgId,
        actor: actorFor(user, actorContext),
        action: 'user.create',
        targetType: 'user',
        targetId: user.id,
        after: { email: user.email, name: user.name, via: 'sso', issuer: identity.issuer, subject: identity.subject },
      },
      now,
    );
    return user;
  }
}

function actorFor(user: SsoUser, context: { ip: string | undefined; requestId: string | undefined }): Actor {
  return {
    userId: user.id,
    platformRole: user.role,
    via: 'session',
    ...(context.ip === undefined ? {} : { ip: context.ip }),
    ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
  };
}

function assertActive(user: SsoUser): void {
  if (user.disabled_at !== null) throw new AppError('forbidden', 'this account is disabled');
}

const emailPattern = /^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)*$/;

/** The claims we rely on: a subject, and an email the provider says it verified. */
function verifyIdentity(issuer: string, claims: Record<string, unknown>): VerifiedIdentity {
  const subject = claims.sub;
  if (typeof subject !== 'string' || subject === '') {
    throw new AppError('unauthenticated', 'the identity provider did not name the user (no sub claim)');
  }
  const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : '';
  if (email.length > 254 || !emailPattern.test(email)) {
    throw new AppError('forbidden', 'the identity provider did not share a valid email address for this account');
  }
  // Some providers send the flag as a string.
  if (claims.email_verified !== true && claims.email_verified !== 'true') {
    throw new AppError('forbidden', 'the identity provider has not verified this email address');
  }
  const name = typeof claims.name === 'string' && claims.name.trim() !== '' ? claims.name.trim() : email.split('@')[0];
  return { issuer, subject, email, name: (name ?? email).slice(0, 200) };
}

function checkEmailDomain(email: string, settings: SsoSettings): void {
  if (settings.allowedDomains.length === 0) return;
  const domain = email.slice(email.lastIndexOf('@') + 1);
  if (!settings.allowedDomains.some((allowed) => allowed.toLowerCase() === domain)) {
    throw new AppError('forbidden', `email addresses at ${domain} may not sign in to this organization`);
  }
}
