import { sql, type Kysely } from 'kysely';
import type { DatabaseSchema } from '../../db/schema.ts';

/**
 * Named counters in `cache_epochs` that every instance polls to learn that something it caches changed elsewhere
 * (revoked keys, the model registry). A bump inside a transaction keeps the row locked until it ends.
 */
export class CacheEpochRepository {
  readonly #db: Kysely<DatabaseSchema>;
  readonly #name: string;

  constructor(db: Kysely<DatabaseSchema>, name: string) {
    this.#db = db;
    this.#name = name;
  }

  async bump(): Promise<void> {
    await this.#db
      .insertInto('cache_epochs')
      .values({ name: this.#name, epoch: 1 })
      .onConflict((conflict) => conflict.column('name').doUpdateSet({ epoch: sql`cache_epochs.epoch + 1` }))
      .execute();
  }

  async read(): Promise<number> {
    const row = await this.#db
      .selectFrom('cache_epochs')
      .select('epoch')
      .where('name', '=', this.#name)
      .executeTakeFirst();
    return row?.epoch ?? 0;
  }
}
