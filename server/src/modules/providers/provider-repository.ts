import type { Database } from '../../db/database.ts';
import type { ProviderRow } from '../../db/schema.ts';

export class ProviderRepository {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  async upsert(row: ProviderRow): Promise<void> {
    await this.#db
      .insertInto('providers')
      .values(row)
      .onConflict((conflict) =>
        conflict.column('id').doUpdateSet({
          type: row.type,
          base_url: row.base_url,
          api_key_sealed: row.api_key_sealed,
          headers: row.headers,
          updated_at: row.updated_at,
        }),
      )
      .execute();
  }

  list(): Promise<ProviderRow[]> {
    return this.#db.selectFrom('providers').selectAll().orderBy('id').execute();
  }

  async remove(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('providers').where('id', '=', id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
