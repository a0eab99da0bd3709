import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Database } from '../../db/database.ts';
import type { UsageRecordInsert } from '../../db/schema.ts';

/** Rows per INSERT statement: keeps SQLite under its bound-parameter limit (20 columns × 500 < 32766). */
const rowsPerStatement = 500;

const usageColumns = [
  'id',
  'request_id',
  'created_at',
  'key_id',
  'model',
  'provider_id',
  'deployment_model',
  'endpoint',
  'streamed',
  'prompt_tokens',
  'completion_tokens',
  'cached_tokens',
  'cache_write_tokens',
  'usage_source',
  'cost_micros',
  'latency_ms',
  'first_token_ms',
  'status',
  'outcome',
  'error_code',
] as const satisfies readonly (keyof UsageRecordInsert)[];

/**
 * What a column a record lacks takes on the embedded path (PostgreSQL's INSERT gets the column default from Kysely):
 * journal lines written before a column existed are replayed without it.
 */
const usageColumnDefaults: Partial<Record<(typeof usageColumns)[number], number>> = { cache_write_tokens: 0 };

export class UsageRepository {
  readonly #db: Database;
  readonly #sqlite: DatabaseSync | undefined;
  #sqliteInsert: StatementSync | undefined;

  /**
   * With the embedded engine, batches go through one cached prepared statement instead of Kysely: SQLite runs on
   * this thread, and building and preparing a 500-row INSERT per batch cost more than the gateway's own work.
   */
  constructor(db: Database, sqlite?: DatabaseSync) {
    this.#db = db;
    this.#sqlite = sqlite;
  }

  /**
   * Inserts a batch in one transaction. Ids are assigned when a request finishes, so replaying a journal
   * that was already partly written is harmless: existing ids are skipped.
   */
  async insertBatch(records: readonly UsageRecordInsert[]): Promise<void> {
    if (records.length === 0) return;
    const sqlite = this.#sqlite;
    if (sqlite) {
      // Holding Kysely's connection keeps this batch from landing inside another caller's open transaction.
      await this.#db.connection().execute(async () => this.#insertBatchSqlite(sqlite, records));
      return;
    }
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

  #insertBatchSqlite(sqlite: DatabaseSync, records: readonly UsageRecordInsert[]): void {
    this.#sqliteInsert ??= sqlite.prepare(
      `insert into usage_records (${usageColumns.join(', ')}) values (${usageColumns.map(() => '?').join(', ')}) on conflict (id) do nothing`,
    );
    const insert = this.#sqliteInsert;
    sqlite.exec('begin immediate');
    try {
      for (const record of records) {
        insert.run(...usageColumns.map((column) => toSqliteValue(record[column] ?? usageColumnDefaults[column])));
      }
      sqlite.exec('commit');
    } catch (error) {
      sqlite.exec('rollback');
      throw error;
    }
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

function toSqliteValue(value: string | number | boolean | null | undefined): string | number | null {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}
