import type { Kysely, Selectable } from 'kysely';
import type { DatabaseSchema, IdempotencyRecordsTable } from '../../db/schema.ts';

export type IdempotencyRecord = Selectable<IdempotencyRecordsTable>;

export interface IdempotencyClaim {
  readonly scope: string;
  readonly key: string;
  readonly requestHash: string;
  readonly now: number;
}

/** What a claim found: the record is now ours to complete, or another request's (finished or still running). */
export type ClaimResult =
  { readonly claimed: true } | { readonly claimed: false; readonly existing: IdempotencyRecord };

/**
 * SQL for idempotency records: claiming a key (atomically, so two concurrent first requests cannot both run),
 * completing or releasing it, taking over one that is expired or was abandoned, and sweeping old ones.
 */
export class IdempotencyRepository {
  readonly #db: Kysely<DatabaseSchema>;
  constructor(executor: Kysely<DatabaseSchema>) {
    this.#db = executor;
  }

  find(scope: string, key: string): Promise<IdempotencyRecord | undefined> {
    return this.#db
      .selectFrom('idempotency_records')
      .selectAll()
      .where('scope', '=', scope)
      .where('key', '=', key)
      .executeTakeFirst();
  }

  /** Inserts a pending record unless one exists; the database's primary key decides between racing requests. */
  async claim(claim: IdempotencyClaim): Promise<ClaimResult> {
    const inserted = await this.#db
      .insertInto('idempotency_records')
      .values({
        scope: claim.scope,
        key: claim.key,
        request_hash: claim.requestHash,
        status: null,
        response: null,
        authorizations: null,
        created_at: claim.now,
      })
      .onConflict((conflict) => conflict.columns(['scope', 'key']).doNothing())
      .executeTakeFirst();
    if ((inserted.numInsertedOrUpdatedRows ?? 0n) > 0n) return { claimed: true };
    const existing = await this.find(claim.scope, claim.key);
    // Deleted between our insert and read (released after a server error, or swept): claim again.
    if (!existing) return this.claim(claim);
    return { claimed: false, existing };
  }

  /**
   * Replaces `stale` (expired, or pending past its lease) with a fresh pending record for this request. Only one of
   * several requests taking over the same stale record wins: the update matches the row exactly as it was read.
   */
  async takeOver(stale: IdempotencyRecord, claim: IdempotencyClaim): Promise<boolean> {
    const result = await this.#db
      .updateTable('idempotency_records')
      .set({
        request_hash: claim.requestHash,
        status: null,
        response: null,
        authorizations: null,
        created_at: claim.now,
      })
      .where('scope', '=', stale.scope)
      .where('key', '=', stale.key)
      .where('created_at', '=', stale.created_at)
      .where('request_hash', '=', stale.request_hash)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Stores the outcome, unless the claim (identified by when it was made) was taken over meanwhile. */
  async complete(
    claim: { scope: string; key: string; claimedAt: number },
    outcome: { status: number; response: string | null; authorizations: string | null },
  ): Promise<void> {
    await this.#db
      .updateTable('idempotency_records')
      .set(outcome)
      .where('scope', '=', claim.scope)
      .where('key', '=', claim.key)
      .where('created_at', '=', claim.claimedAt)
      .execute();
  }

  /** Forgets a claim (the request failed on the server side), so a retry runs again. */
  async release(claim: { scope: string; key: string; claimedAt: number }): Promise<void> {
    await this.#db
      .deleteFrom('idempotency_records')
      .where('scope', '=', claim.scope)
      .where('key', '=', claim.key)
      .where('created_at', '=', claim.claimedAt)
      .execute();
  }

  /** Deletes every record created before `cutoff`; returns how many. */
  async deleteCreatedBefore(cutoff: number): Promise<number> {
    const result = await this.#db.deleteFrom('idempotency_records').where('created_at', '<', cutoff).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
