import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { UsageRecordInsert } from '../../db/schema.ts';
import { buildUsageRecord, buildUsageRecords } from '../../../test/support/usage-record-builder.ts';
import { UsageJournal, type UsageSink } from './usage-journal.ts';

vi.mock('node:fs', async (importOriginal) => {
  const original = await importOriginal<typeof fs>();
  return { ...original, readFileSync: vi.fn(original.readFileSync) };
});

/** Fails while `failuresLeft` is above zero, then keeps what it is given. */
class FlakySink implements UsageSink {
  readonly committed: UsageRecordInsert[] = [];
  readonly batchSizes: number[] = [];
  failuresLeft = 0;

  async insertBatch(records: readonly UsageRecordInsert[]): Promise<void> {
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new Error('database unavailable');
    }
    this.batchSizes.push(records.length);
    this.committed.push(...records);
  }
}

let directory: string;
let journal: UsageJournal | undefined;

beforeEach(() => {
  directory = fs.mkdtempSync(path.join(tmpdir(), 'aihub-journal-read-back-'));
});
afterEach(async () => {
  await journal?.close().catch(() => undefined);
  journal = undefined;
  fs.rmSync(directory, { recursive: true, force: true });
});

/** How many times each journal segment was read from disk. */
function segmentReads(): number[] {
  const perPath = new Map<string, number>();
  for (const [file] of vi.mocked(fs.readFileSync).mock.calls) {
    if (typeof file === 'string' && file.startsWith(directory)) perPath.set(file, (perPath.get(file) ?? 0) + 1);
  }
  return [...perPath.values()];
}

describe('UsageJournal reading spilled records back', () => {
  it('reads each segment kept only on disk once, however many batches it takes to commit', async () => {
    const sink = new FlakySink();
    journal = new UsageJournal({
      directory,
      sink,
      flushIntervalMs: 60_000,
      maxBatchSize: 10,
      maxPendingInMemory: 0,
      segmentMaxRecords: 50,
    });
    await journal.start();
    sink.failuresLeft = 1;
    const records = buildUsageRecords(100);
    for (const record of records) journal.append(record);
    await journal.flush();
    expect(journal.backlog()).toMatchObject({ pendingRecords: 100, onDiskOnlyRecords: 100 });
    vi.mocked(fs.readFileSync).mockClear();

    await journal.flush();

    expect(sink.committed.map((record) => record.id).sort()).toEqual(records.map((record) => record.id).sort());
    expect(sink.batchSizes.every((size) => size <= 10)).toBe(true);
    expect(segmentReads()).toEqual([1, 1]);
  });

  it('reads each segment a dead process left once when replaying it, checkpoints included', async () => {
    const deadPid = 999_999;
    expect(() => process.kill(deadPid, 0)).toThrow();
    const cut = buildUsageRecord({ outcome: 'interrupted', streamed: 1, completion_tokens: 2 });
    const finished = buildUsageRecord({ streamed: 1 });
    const line = (value: unknown) => JSON.stringify(value) + '\n';
    fs.writeFileSync(
      path.join(directory, `${deadPid}-1700000000000-000001.jsonl`),
      line({ checkpoint: cut }) + line({ checkpoint: { ...finished, outcome: 'interrupted' } }),
    );
    fs.writeFileSync(path.join(directory, `${deadPid}-1700000000001-000002.jsonl`), line(finished));
    const sink = new FlakySink();
    journal = new UsageJournal({ directory, sink, flushIntervalMs: 60_000, maxBatchSize: 10 });
    vi.mocked(fs.readFileSync).mockClear();

    expect(await journal.start()).toEqual({ replayed: 2, interrupted: 1 });

    expect(sink.committed).toEqual([finished, cut]);
    expect(segmentReads()).toEqual([1, 1]);
  });
});
