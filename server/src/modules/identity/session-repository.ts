import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { DatabaseSchema, RefreshTokensTable } from '../../db/schema.ts';

export type RefreshTokenRow = Selectable<RefreshTokensTable>;

/**
 * SQL for sign-in sessions. A session is a family of refresh tokens (family_id is the session id carried in access
 * tokens as `sid`); each refresh replaces the newest token of the family, and revoking a family ends the session.
 */
export class SessionRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  /** Inserts a refresh token and returns its row id. */
  async insert(token: {
    userId: string;
    familyId: string;
    tokenHash: string;
    expiresAt: number;
    userAgent: string | null;
    ip: string | null;
    now: number;
  }): Promise<string> {
    const id = randomUUID();
    await this.#db
      .insertInto('refresh_tokens')
      .values({
        id,
        user_id: token.userId,
        family_id: token.familyId,
        token_hash: token.tokenHash,
        expires_at: token.expiresAt,
        revoked_at: null,
        replaced_by: null,
        user_agent: token.userAgent,
        ip: token.ip,
        created_at: token.now,
      })
      .execute();
    return id;
  }

  findByHash(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    return this.#db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  /** Whether a session of the user was started or refreshed from `ip` since `since` (a known address). */
  async hasSessionFrom(userId: string, ip: string, since: number): Promise<boolean> {
    const row = await this.#db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('user_id', '=', userId)
      .where('ip', '=', ip)
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Whether the family has a token that is not revoked: the session has not ended. */
  async hasLiveToken(familyId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('refresh_tokens')
      .select('id')
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Retires `tokenId` in favour of `replacementId`, only if it is still the live head of its family. False means
   * someone else rotated or revoked it first.
   */
  async retire(tokenId: string, replacementId: string, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('refresh_tokens')
      .set({ replaced_by: replacementId, revoked_at: now })
      .where('id', '=', tokenId)
      .where('replaced_by', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async revokeFamily(familyId: string, now: number): Promise<void> {
    await this.#db
      .updateTable('refresh_tokens')
      .set({ revoked_at: now })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  /** Ends every session of the user except `keepFamilyId`; returns how many sessions ended. */
  async revokeUserFamilies(userId: string, now: number, keepFamilyId?: string): Promise<number> {
    const live = await this.#db
      .selectFrom('refresh_tokens')
      .select('family_id')
      .distinct()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .$if(keepFamilyId !== undefined, (query) => query.where('family_id', '!=', keepFamilyId ?? ''))
      .execute();
    if (live.length === 0) return 0;
    await this.#db
      .updateTable('refresh_tokens')
      .set({ revoked_at: now })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .$if(keepFamilyId !== undefined, (query) => query.where('family_id', '!=', keepFamilyId ?? ''))
      .execute();
    return live.length;
  }
}
