import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { UsageRepository } from '../../src/modules/usage/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';
import { buildUsageRecord, buildUsageRecords } from '../support/usage-record-builder.ts';

/**
 * Built as production builds it (create-app): on SQLite the repository gets the raw connection and writes batches
 * through its cached prepared statement, so that is the path these tests exercise there.
 */
describe.each(testEngines)('UsageRepository on %s', (engine) => {
  let database: TestDatabase;
  let usage: UsageRepository;
  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);
    usage = new UsageRepository(database.handle.db, database.handle.sqlite);
  });

  it("takes the engine's production path: the prepared-statement batch on SQLite", () => {
    expect(database.handle.sqlite !== undefined).toBe(engine === 'sqlite');
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  it('inserts a batch larger than one statement holds in a single call', async () => {
    // 1,203 rows: two full 500-row statements and a partial third.
    const records = buildUsageRecords(1203);

    await usage.insertBatch(records);

    expect(await usage.countAll()).toBe(1203);
    const stored = await database.handle.db.selectFrom('usage_records').select('id').execute();
    expect(new Set(stored.map((row) => row.id))).toEqual(new Set(records.map((record) => record.id)));
  });

  it('ignores records whose id is already stored, so replaying a journal is harmless', async () => {
    const first = buildUsageRecords(600);
    await usage.insertBatch(first);

    const fresh = buildUsageRecords(50);
    // A replayed copy with different values must not overwrite what was committed first.
    const replayed = first.map((record) => ({ ...record, cost_micros: 999 }));
    await usage.insertBatch([...replayed, ...fresh]);

    expect(await usage.countAll()).toBe(650);
    const costs = await database.handle.db
      .selectFrom('usage_records')
      .select('cost_micros')
      .where('cost_micros', '=', 999)
      .execute();
    expect(costs).toEqual([]);
  });

  it('ignores a duplicate id within one batch', async () => {
    const record = buildUsageRecord();
    await usage.insertBatch([record, { ...record }, buildUsageRecord()]);
    expect(await usage.countAll()).toBe(2);
  });

  it('writes nothing of a batch when one of its statements fails', async () => {
    const records = buildUsageRecords(700);
    // The bad row sits in the second statement, after the first one already ran inside the transaction.
    const invalid = { ...buildUsageRecord(), model: null } as unknown as (typeof records)[number];
    records[650] = invalid;

    await expect(usage.insertBatch(records)).rejects.toThrow();

    expect(await usage.countAll()).toBe(0);
  });

  it('writes cache-write tokens, and 0 for records journaled before they were counted', async () => {
    const counted = buildUsageRecord({ cached_tokens: 600, cache_write_tokens: 300 });
    const { cache_write_tokens: _absent, ...older } = buildUsageRecord();
    // A journal line is JSON: a record from before the column existed has no such member at all.
    await usage.insertBatch([counted, JSON.parse(JSON.stringify(older)) as typeof older]);
    const rows = await database.handle.db
      .selectFrom('usage_records')
      .select(['id', 'cached_tokens', 'cache_write_tokens'])
      .execute();
    expect(rows).toEqual(
      expect.arrayContaining([
        { id: counted.id, cached_tokens: 600, cache_write_tokens: 300 },
        { id: older.id, cached_tokens: 0, cache_write_tokens: 0 },
      ]),
    );
  });

  it('does nothing for an empty batch', async () => {
    await usage.insertBatch([]);
    expect(await usage.countAll()).toBe(0);
  });

  it('returns BIGINT times and money as exact JavaScript numbers', async () => {
    const createdAt = 1_750_000_000_123;
    const largeCost = 9_000_000_000_000;
    const record = buildUsageRecord({ created_at: createdAt, cost_micros: largeCost, streamed: 1 });
    await usage.insertBatch([record]);

    const [stored] = await usage.listRecent(1);

    expect(stored).toEqual(record);
    expect(typeof stored?.created_at).toBe('number');
    expect(typeof stored?.cost_micros).toBe('number');
    expect(stored?.cost_micros).toBe(largeCost);
    expect(await usage.countAll()).toBe(1);
  });

  it('lists the most recent records first', async () => {
    const older = buildUsageRecord({ created_at: 1000 });
    const newer = buildUsageRecord({ created_at: 2000 });
    await usage.insertBatch([older, newer]);

    expect((await usage.listRecent(10)).map((row) => row.id)).toEqual([newer.id, older.id]);
    expect((await usage.listRecent(1)).map((row) => row.id)).toEqual([newer.id]);
  });

  it('refuses a stored BIGINT beyond 2^53 rather than rounding it', async () => {
    const record = buildUsageRecord();
    await usage.insertBatch([record]);
    await sql`update usage_records set cost_micros = 9007199254740993 where id = ${record.id}`.execute(
      database.handle.db,
    );

    await expect(usage.listRecent(1)).rejects.toThrow();
  });

  it('keeps a batch started while another caller has a transaction open, even when that transaction rolls back', async () => {
    const records = buildUsageRecords(3);
    let insert: Promise<void> | undefined;
    const rolledBack = database.handle.db.transaction().execute(async (transaction) => {
      await transaction.selectFrom('usage_records').select('id').execute();
      // On SQLite there is one connection: the fast path must wait for it rather than write inside this transaction.
      insert = usage.insertBatch(records);
      throw new Error('the other caller gives up');
    });
    await expect(rolledBack).rejects.toThrow('gives up');
    await insert;

    expect(await usage.countAll()).toBe(3);
  });
});

describe('Money from PostgreSQL is never a float', () => {
  let database: TestDatabase;
  beforeEach(async () => {
    database = await createTestDatabase('postgres');
    await migrateToLatest(database.handle.db);
  });
  afterEach(async () => {
    await database.handle.close();
    await database.drop();
  });

  it('reads sum() over BIGINT (a NUMERIC) exactly: a number while exact, the decimal text beyond 2^53', async () => {
    const usage = new UsageRepository(database.handle.db);
    const halfOfTwoTo53 = 4_503_599_627_370_496;
    await usage.insertBatch([
      buildUsageRecord({ cost_micros: halfOfTwoTo53, model: 'a' }),
      buildUsageRecord({ cost_micros: halfOfTwoTo53, model: 'a' }),
      buildUsageRecord({ cost_micros: 7, model: 'b' }),
      buildUsageRecord({ cost_micros: 5, model: 'b' }),
    ]);

    const sums = await sql<{ model: string; total: number | string }>`
      select model, sum(cost_micros) as total from usage_records group by model order by model`.execute(
      database.handle.db,
    );
    const fraction = await sql<{ value: number | string }>`select 0.0000001::numeric as value`.execute(
      database.handle.db,
    );

    expect(sums.rows).toEqual([
      { model: 'a', total: '9007199254740992' },
      { model: 'b', total: 12 },
    ]);
    expect(fraction.rows).toEqual([{ value: '0.0000001' }]);
  });
});
