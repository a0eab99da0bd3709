import { sql } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { ApiKeyRow, DatabaseSchema } from '../../db/schema.ts';
import type { Insertable } from 'kysely';

export const keysEpochName = 'api_keys';

export class KeyRepository {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  async insert(row: Insertable<DatabaseSchema['api_keys']>): Promise<void> {
    await this.#db.insertInto('api_keys').values(row).execute();
  }

  findByHash(keyHash: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst();
  }

  findById(id: string): Promise<ApiKeyRow | undefined> {
    return this.#db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  list(): Promise<ApiKeyRow[]> {
    return this.#db.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc').orderBy('id').execute();
  }

  /** Marks a key revoked and bumps the keys epoch in one transaction, so every instance drops its cached copy. */
  async revoke(id: string, now: number): Promise<boolean> {
    return this.#db.transaction().execute(async (transaction) => {
      const result = await transaction
        .updateTable('api_keys')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) return false;
      await transaction
        .insertInto('cache_epochs')
        .values({ name: keysEpochName, epoch: 1 })
        .onConflict((conflict) => conflict.column('name').doUpdateSet({ epoch: sql`cache_epochs.epoch + 1` }))
        .execute();
      return true;
    });
  }

  async readEpoch(): Promise<number> {
    const row = await this.#db
      .selectFrom('cache_epochs')
      .select('epoch')
      .where('name', '=', keysEpochName)
      .executeTakeFirst();
    return row?.epoch ?? 0;
  }

  /** Records the latest use per key; called from the usage writer's batches, never per request. */
  async touchLastUsed(lastUsedByKey: ReadonlyMap<string, number>): Promise<void> {
    for (const [id, lastUsedAt] of lastUsedByKey) {
      await this.#db
        .updateTable('api_keys')
        .set({ last_used_at: lastUsedAt })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', lastUsedAt)]))
        .execute();
    }
  }
}
