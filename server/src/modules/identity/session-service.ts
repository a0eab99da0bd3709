import { randomUUID } from 'node:crypto';
import type { Database } from '../../db/database.ts';
import { AppError } from '../../errors/app-error.ts';
import { recordAuditEvent } from '../audit/index.ts';
import type { Actor } from '../shared/index.ts';
import { UserRepository } from '../users/index.ts';
import type { AccessTokens } from './access-tokens.ts';
import { generateOpaqueToken, hashOpaqueToken } from './one-time-token.ts';
import { SessionRepository } from './session-repository.ts';

/** What a client holds after signing in: a short-lived access token and the refresh token that renews it. */
export interface SessionTokens {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Seconds until the access token expires. */
  readonly expiresIn: number;
  /** The session (refresh-token family) these tokens belong to; the console's CSRF token is bound to it. */
  readonly sessionId: string;
}

export interface SessionClient {
  readonly userAgent?: string | undefined;
  readonly ip?: string | undefined;
}

const maxUserAgentLength = 512;

/**
 * Sign-in sessions: start one (after a password or SSO sign-in), refresh it with rotation and reuse detection, end
 * it or all of a user's. Refresh tokens are 32 random bytes stored as sha256; a rotated token presented again means
 * it was copied, so the whole family is revoked (OAuth 2.0 Security BCP §4.14).
 */
export class SessionService {
  readonly #db: Database;
  readonly #accessTokens: AccessTokens;
  readonly #refreshTtlMs: number;

  constructor(db: Database, accessTokens: AccessTokens, refreshTokenTtlSeconds: number) {
    this.#db = db;
    this.#accessTokens = accessTokens;
    this.#refreshTtlMs = refreshTokenTtlSeconds * 1000;
  }

  /** Starts a new session for a user who has just proved who they are. */
  async startSession(userId: string, client: SessionClient): Promise<SessionTokens> {
    const now = Date.now();
    const sessionId = randomUUID();
    const refresh = generateOpaqueToken();
    await new SessionRepository(this.#db).insert({
      userId,
      familyId: sessionId,
      tokenHash: refresh.hash,
      expiresAt: now + this.#refreshTtlMs,
      ...clientColumns(client),
      now,
    });
    return this.#tokens(userId, sessionId, refresh.token);
  }

  /** Trades a refresh token for a new pair; the presented token is retired and must never be used again. */
  async refresh(refreshToken: string, client: SessionClient): Promise<SessionTokens> {
    const now = Date.now();
    const sessions = new SessionRepository(this.#db);
    const presented = await sessions.findByHash(hashOpaqueToken(refreshToken));
    const invalid = new AppError('unauthenticated', 'the refresh token is not valid; sign in again');
    if (!presented) throw invalid;
    if (presented.replaced_by !== null) {
      await this.#revokeStolenFamily(presented.user_id, presented.family_id, client, now);
      throw invalid;
    }
    if (presented.revoked_at !== null || presented.expires_at <= now) throw invalid;
    const user = await new UserRepository(this.#db).findById(presented.user_id);
    if (!user || user.disabled_at !== null) throw invalid;

    const next = generateOpaqueToken();
    const rotated = await this.#db.transaction().execute(async (transaction) => {
      const repository = new SessionRepository(transaction);
      const replacementId = await repository.insert({
        userId: presented.user_id,
        familyId: presented.family_id,
        tokenHash: next.hash,
        expiresAt: now + this.#refreshTtlMs,
        ...clientColumns(client),
        now,
      });
      if (await repository.retire(presented.id, replacementId, now)) return true;
      // Another request rotated this token a moment ago: two holders of one token is the theft signal too.
      await repository.revokeFamily(presented.family_id, now);
      return false;
    });
    if (!rotated) {
      await this.#revokeStolenFamily(presented.user_id, presented.family_id, client, now);
      throw invalid;
    }
    return this.#tokens(presented.user_id, presented.family_id, next.token);
  }

  /** Whether the session is still live (not signed out, not revoked); every access token is checked against it. */
  async isLive(sessionId: string): Promise<boolean> {
    return new SessionRepository(this.#db).hasLiveToken(sessionId);
  }

  /** The session a refresh token belongs to, if the token exists (used or not); for the refresh route's CSRF check. */
  async sessionIdOf(refreshToken: string): Promise<string | undefined> {
    return (await new SessionRepository(this.#db).findByHash(hashOpaqueToken(refreshToken)))?.family_id;
  }

  /** Ends one session (sign-out); its access tokens stop working at once (ActorResolver checks the family). */
  async endSession(sessionId: string): Promise<void> {
    await new SessionRepository(this.#db).revokeFamily(sessionId, Date.now());
  }

  /** Ends every session of the actor's user (sign-out everywhere), recorded in the audit log. */
  async endAllSessions(actor: Actor): Promise<number> {
    const now = Date.now();
    return this.#db.transaction().execute(async (transaction) => {
      const ended = await new SessionRepository(transaction).revokeUserFamilies(actor.userId, now);
      await recordAuditEvent(
        transaction,
        {
          orgId: null,
          actor,
          action: 'session.revoke_all',
          targetType: 'user',
          targetId: actor.userId,
          after: { sessions_ended: ended },
        },
        now,
      );
      return ended;
    });
  }

  async #tokens(userId: string, sessionId: string, refreshToken: string): Promise<SessionTokens> {
    const accessToken = await this.#accessTokens.issue({ userId, sessionId });
    return { accessToken, refreshToken, expiresIn: this.#accessTokens.ttlSeconds, sessionId };
  }

  async #revokeStolenFamily(userId: string, familyId: string, client: SessionClient, now: number): Promise<void> {
    await this.#db.transaction().execute(async (transaction) => {
      await new SessionRepository(transaction).revokeFamily(familyId, now);
      await recordAuditEvent(
        transaction,
        {
          orgId: null,
          actor: null,
          action: 'session.reuse_detected',
          targetType: 'user',
          targetId: userId,
          after: { session_id: familyId, ip: client.ip ?? null },
        },
        now,
      );
    });
  }
}

function clientColumns(client: SessionClient): { userAgent: string | null; ip: string | null } {
  return { userAgent: client.userAgent?.slice(0, maxUserAgentLength) ?? null, ip: client.ip ?? null };
}
