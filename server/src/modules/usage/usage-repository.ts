import type { Database } from '../../db/database.ts';
import type { UsageRecordInsert } from '../../db/schema.ts';

/** Rows per INSERT statement: keeps SQLite under its bound-parameter limit (19 columns × 500 < 32766). */
const rowsPerStatement = 500;

export class UsageRepository {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Inserts a batch in one transaction. Ids are assigned when a request finishes, so replaying a journal
   * that was already partly written is harmless: existing ids are skipped.
   */
  async insertBatch(records: readonly UsageRecordInsert[]): Promise<void> {
    if (records.length === 0) return;
    await this.#db.transaction().execute(async (transaction) => {
      for (let start = 0; start < records.length; start += rowsPerStatement) {
        await transaction
          .insertInto('usage_records')
          .values(records.slice(start, start + rowsPerStatement))
          .onConflict((conflict) => conflict.column('id').doNothing())
          .execute();
      }
    });
  }

  listRecent(limit: number) {
    return this.#db.selectFrom('usage_records').selectAll().orderBy('created_at', 'desc').limit(limit).execute();
  }

  async countAll(): Promise<number> {
    const row = await this.#db
      .selectFrom('usage_records')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }
}
