import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { DatabaseSchema, UserTokensTable } from '../../db/schema.ts';
import type { UserRow } from '../users/index.ts';

export type AccountRow = UserRow;
export type UserTokenPurpose = UserTokensTable['purpose'];
export type UserTokenRow = Selectable<UserTokensTable>;

/**
 * SQL for accounts besides the users table itself (that is the users module's UserRepository): one-time tokens and
 * the invitation check at registration. Built over the database
 * or over a transaction, so a service can put several writes and their audit event in one commit.
 */
export class AccountRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  async insertUserToken(token: {
    userId: string;
    purpose: UserTokenPurpose;
    tokenHash: string;
    expiresAt: number;
    now: number;
  }): Promise<void> {
    await this.#db
      .insertInto('user_tokens')
      .values({
        id: randomUUID(),
        user_id: token.userId,
        purpose: token.purpose,
        token_hash: token.tokenHash,
        expires_at: token.expiresAt,
        used_at: null,
        created_at: token.now,
      })
      .execute();
  }

  findUserToken(purpose: UserTokenPurpose, tokenHash: string): Promise<UserTokenRow | undefined> {
    return this.#db
      .selectFrom('user_tokens')
      .selectAll()
      .where('purpose', '=', purpose)
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
  }

  /** Marks the token used if nobody used it first; false means it was spent already (a race or a replay). */
  async useUserToken(tokenId: string, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('user_tokens')
      .set({ used_at: now })
      .where('id', '=', tokenId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Spends every outstanding token of one purpose (after a reset, older reset links must stop working). */
  async useAllUserTokens(userId: string, purpose: UserTokenPurpose, now: number): Promise<void> {
    await this.#db
      .updateTable('user_tokens')
      .set({ used_at: now })
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .execute();
  }

  /**
   * Whether `tokenHashes` match an invitation for `email` that is still open. Invitations are issued by the tenancy
   * module; several digests may be given so this check does not depend on one digest encoding.
   */
  async hasOpenInvitation(email: string, tokenHashes: readonly string[], now: number): Promise<boolean> {
    const invitation = await this.#db
      .selectFrom('invitations')
      .select(['id', 'email'])
      .where('token_hash', 'in', tokenHashes)
      .where('accepted_at', 'is', null)
      .where('declined_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return invitation !== undefined && invitation.email.trim().toLowerCase() === email;
  }
}

/** A unique constraint refused the write (PostgreSQL 23505; SQLite SQLITE_CONSTRAINT_UNIQUE, 2067). */
export function isUniqueViolation(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  return code === '23505' || errcode === 2067;
}
