import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../../src/db/database.ts';
import { UsageRepository } from '../../src/modules/usage/index.ts';
import { createTestDatabase, testEngines, type TestDatabase } from '../support/test-database.ts';
import { buildUsageRecord, buildUsageRecords } from '../support/usage-record-builder.ts';

describe.each(testEngines)('UsageRepository on %s', (engine) => {
  let database: TestDatabase;
  let usage: UsageRepository;
  beforeEach(async () => {
    database = await createTestDatabase(engine);
    await migrateToLatest(database.handle.db);
    usage = new UsageRepository(database.handle.db);
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
});
