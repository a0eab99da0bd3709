import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecordInsert } from '../../db/schema.ts';
import { buildUsageRecord, buildUsageRecords } from '../../../test/support/usage-record-builder.ts';
import { UsageJournal, type UsageJournalOptions, type UsageSink } from './usage-journal.ts';

/** Keeps every batch it was given, so tests can see both what arrived and whether anything arrived twice. */
class RecordingSink implements UsageSink {
  readonly batches: UsageRecordInsert[][] = [];
  failuresLeft = 0;
  attempts = 0;

  async insertBatch(records: readonly UsageRecordInsert[]): Promise<void> {
    this.attempts += 1;
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      throw new Error('database unavailable');
    }
    this.batches.push([...records]);
  }

  get ids(): string[] {
    return this.batches.flat().map((record) => record.id);
  }
}

/** A pid no running process has (the replay test checks), standing for a server that was killed. */
const deadPid = 999_999;

let directory: string;
let sink: RecordingSink;
let journals: UsageJournal[];

beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), 'aihub-journal-'));
  sink = new RecordingSink();
  journals = [];
});
afterEach(async () => {
  for (const journal of journals) await journal.close().catch(() => undefined);
  rmSync(directory, { recursive: true, force: true });
});

function createJournal(options: Partial<UsageJournalOptions> = {}): UsageJournal {
  const journal = new UsageJournal({ directory, sink, flushIntervalMs: 60_000, maxBatchSize: 1000, ...options });
  journals.push(journal);
  return journal;
}

function segmentNames(): string[] {
  return readdirSync(directory).filter((name) => name.endsWith('.jsonl'));
}

/** Ids of every final record written to segment files that are still on disk (stream checkpoints left out). */
function idsOnDisk(): string[] {
  return segmentNames()
    .flatMap((name) => readFileSync(path.join(directory, name), 'utf8').split('\n'))
    .filter(Boolean)
    .map((line) => JSON.parse(line) as UsageRecordInsert | { checkpoint: UsageRecordInsert })
    .filter((line): line is UsageRecordInsert => !('checkpoint' in line))
    .map((line) => line.id);
}

function ids(records: readonly UsageRecordInsert[]): string[] {
  return records.map((record) => record.id);
}

describe('UsageJournal', () => {
  it('writes each record to disk before append returns', async () => {
    const journal = createJournal();
    await journal.start();
    const record = buildUsageRecord();

    journal.append(record);

    expect(idsOnDisk()).toEqual([record.id]);
    expect(journal.pendingCount).toBe(1);
    expect(sink.batches).toEqual([]);
  });

  it('flushes appended records to the sink and then deletes the segments that held them', async () => {
    const journal = createJournal();
    await journal.start();
    const records = buildUsageRecords(3);
    for (const record of records) journal.append(record);

    await journal.flush();

    expect(sink.batches).toEqual([records]);
    expect(journal.pendingCount).toBe(0);
    expect(idsOnDisk()).toEqual([]);
    // Only the fresh, empty segment for the next records is left.
    expect(segmentNames()).toHaveLength(1);
  });

  it('keeps records and segments when the sink fails, and writes them once on a later flush', async () => {
    const errors: unknown[] = [];
    const journal = createJournal({ onError: (error) => errors.push(error) });
    await journal.start();
    const before = buildUsageRecords(3);
    for (const record of before) journal.append(record);
    sink.failuresLeft = 2;

    await journal.flush();

    expect(errors).toHaveLength(1);
    expect(journal.pendingCount).toBe(3);
    expect(idsOnDisk().sort()).toEqual(ids(before).sort());

    const after = buildUsageRecords(2);
    for (const record of after) journal.append(record);
    await journal.flush();
    expect(errors).toHaveLength(2);
    expect(idsOnDisk().sort()).toEqual(ids([...before, ...after]).sort());

    await journal.flush();

    expect(sink.batches).toHaveLength(1);
    expect(sink.ids.sort()).toEqual(ids([...before, ...after]).sort());
    expect(journal.pendingCount).toBe(0);
    expect(idsOnDisk()).toEqual([]);
  });

  it('tells afterBatch about a batch only once it is written', async () => {
    const told: string[][] = [];
    const journal = createJournal({ afterBatch: async (records) => void told.push(ids(records)) });
    await journal.start();
    const record = buildUsageRecord();
    journal.append(record);
    sink.failuresLeft = 1;

    await journal.flush();
    expect(told).toEqual([]);

    await journal.flush();
    expect(told).toEqual([[record.id]]);
  });

  it('keeps the records written when afterBatch fails', async () => {
    const errors: unknown[] = [];
    const journal = createJournal({
      afterBatch: () => Promise.reject(new Error('last-used update failed')),
      onError: (error) => errors.push(error),
    });
    await journal.start();
    journal.append(buildUsageRecord());

    await journal.flush();

    expect(sink.ids).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(idsOnDisk()).toEqual([]);
  });

  it('shares one flush between concurrent callers', async () => {
    const journal = createJournal();
    await journal.start();
    journal.append(buildUsageRecord());

    await Promise.all([journal.flush(), journal.flush(), journal.flush()]);

    expect(sink.batches).toHaveLength(1);
  });

  it('flushes on its own when a batch is full', async () => {
    const journal = createJournal({ maxBatchSize: 5 });
    await journal.start();
    const records = buildUsageRecords(5);
    for (const record of records) journal.append(record);

    // The fifth append started the flush; flush() joins it rather than starting another.
    await journal.flush();

    expect(sink.batches).toEqual([records]);
  });

  it('flushes on its own after the flush interval', async () => {
    const journal = createJournal({ flushIntervalMs: 10 });
    await journal.start();
    const record = buildUsageRecord();
    journal.append(record);

    const deadline = Date.now() + 2000;
    while (sink.ids.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));

    expect(sink.ids).toEqual([record.id]);
  });

  it('replays segments left by a dead process on start, skipping a torn last line', async () => {
    expect(() => process.kill(deadPid, 0)).toThrow();
    const first = buildUsageRecords(3);
    const second = buildUsageRecords(2);
    const lines = (records: UsageRecordInsert[]) => records.map((record) => JSON.stringify(record) + '\n').join('');
    writeFileSync(path.join(directory, `${deadPid}-1700000000000-000001.jsonl`), lines(first));
    // The process died in the middle of a write: the last line is cut short.
    const torn = JSON.stringify(buildUsageRecord()).slice(0, 40);
    writeFileSync(path.join(directory, `${deadPid}-1700000000001-000002.jsonl`), lines(second) + torn);

    const journal = createJournal({ maxBatchSize: 2 });
    const { replayed } = await journal.start();

    expect(replayed).toBe(5);
    expect(sink.ids).toEqual(ids([...first, ...second]));
    expect(sink.batches.every((batch) => batch.length <= 2)).toBe(true);
    expect(segmentNames().filter((name) => name.startsWith(`${deadPid}-`))).toEqual([]);
  });

  it('leaves segments of a live process alone', async () => {
    const liveName = `${process.ppid}-1700000000000-000001.jsonl`;
    writeFileSync(path.join(directory, liveName), JSON.stringify(buildUsageRecord()) + '\n');

    const { replayed } = await createJournal().start();

    expect(replayed).toBe(0);
    expect(sink.batches).toEqual([]);
    expect(segmentNames()).toContain(liveName);
  });

  it('keeps a segment whose replay failed, for the next start', async () => {
    const record = buildUsageRecord();
    const name = `${deadPid}-1700000000000-000001.jsonl`;
    writeFileSync(path.join(directory, name), JSON.stringify(record) + '\n');
    sink.failuresLeft = 1;

    await expect(
      new UsageJournal({ directory, sink, flushIntervalMs: 60_000, maxBatchSize: 10 }).start(),
    ).rejects.toThrow('database unavailable');
    expect(segmentNames()).toContain(name);

    const { replayed } = await createJournal().start();
    expect(replayed).toBe(1);
    expect(sink.ids).toEqual([record.id]);
  });

  it('flushes what is pending when closed, leaves no segment behind and refuses later appends', async () => {
    const journal = createJournal();
    await journal.start();
    const records = buildUsageRecords(4);
    for (const record of records) journal.append(record);

    await journal.close();

    expect(sink.batches).toEqual([records]);
    expect(segmentNames()).toEqual([]);
    expect(() => journal.append(buildUsageRecord())).toThrow('closed');
    await journal.close();
  });

  it('keeps unwritten records on disk when the sink fails at close, and a new journal replays them', async () => {
    const journal = createJournal();
    await journal.start();
    const records = buildUsageRecords(3);
    for (const record of records) journal.append(record);
    sink.failuresLeft = 1;

    await journal.close();
    expect(idsOnDisk().sort()).toEqual(ids(records).sort());

    // Same pid as the closed journal: a journal treats its own pid as a previous life (e.g. pid 1 in a container).
    const { replayed } = await createJournal().start();
    expect(replayed).toBe(3);
    expect(sink.ids.sort()).toEqual(ids(records).sort());
  });

  it('creates its directory owner-only and its segments readable by the owner alone', async () => {
    const journalDirectory = path.join(directory, 'usage-journal');
    const journal = createJournal({ directory: journalDirectory });
    await journal.start();
    journal.append(buildUsageRecord());

    expect(statSync(journalDirectory).mode & 0o777).toBe(0o700);
    const names = readdirSync(journalDirectory);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(statSync(path.join(journalDirectory, name)).mode & 0o777).toBe(0o600);
  });
});

describe('UsageJournal closing', () => {
  it('schedules nothing more once closed, even when a timed flush was running at the time', async () => {
    // The database is away: every batch fails, so a journal that kept its timer would keep retrying after close.
    let release: () => void = () => undefined;
    let attempts = 0;
    const failingSink: UsageSink = {
      insertBatch: async () => {
        attempts += 1;
        if (attempts === 1) await new Promise<void>((resolve) => (release = resolve));
        throw new Error('database unavailable');
      },
    };
    const journal = createJournal({ sink: failingSink, flushIntervalMs: 5, retryMaxMs: 5 });
    await journal.start();
    journal.append(buildUsageRecord());
    while (attempts === 0) await new Promise((resolve) => setTimeout(resolve, 1));

    const closing = journal.close();
    release();
    await closing;
    const attemptsAtClose = attempts;
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(attempts).toBe(attemptsAtClose);
    expect(idsOnDisk()).toHaveLength(1);
  });
});

describe('UsageJournal while the database is away', () => {
  it('retries a backlog in batches of at most maxBatchSize, oldest first, each record once', async () => {
    const journal = createJournal({ maxBatchSize: 10 });
    await journal.start();
    sink.failuresLeft = 1;
    const records = buildUsageRecords(25);
    for (const record of records.slice(0, 9)) journal.append(record);
    await journal.flush();
    for (const record of records.slice(9)) journal.append(record);

    await journal.flush();

    expect(sink.batches.map((batch) => batch.length)).toEqual([10, 10, 5]);
    expect(sink.ids).toEqual(ids(records));
    expect(journal.pendingCount).toBe(0);
    expect(idsOnDisk()).toEqual([]);
  });

  it('does not start a flush for every full batch while retries back off', async () => {
    const journal = createJournal({ maxBatchSize: 5 });
    await journal.start();
    sink.failuresLeft = 1_000;
    journal.append(buildUsageRecord());
    await journal.flush();
    expect(sink.attempts).toBe(1);

    for (const record of buildUsageRecords(50)) journal.append(record);
    await Promise.resolve();

    expect(sink.attempts).toBe(1);
    expect(journal.backlog()).toMatchObject({ pendingRecords: 51, consecutiveFailures: 1 });
  });

  it('holds at most maxPendingInMemory records in memory, keeps the rest on disk, and commits them all later', async () => {
    const journal = createJournal({ maxPendingInMemory: 20, segmentMaxRecords: 7, maxBatchSize: 8 });
    await journal.start();
    sink.failuresLeft = 1_000;
    const records = buildUsageRecords(100);
    for (const [index, record] of records.entries()) {
      journal.append(record);
      if (index % 13 === 0) await journal.flush();
    }

    const backlog = journal.backlog();
    expect(backlog.pendingRecords).toBe(100);
    expect(backlog.pendingRecords - backlog.onDiskOnlyRecords).toBeLessThanOrEqual(20);
    expect(backlog.onDiskOnlyRecords).toBeGreaterThanOrEqual(80);
    expect(backlog.lastError).toBe('database unavailable');
    expect(idsOnDisk().sort()).toEqual(ids(records).sort());

    sink.failuresLeft = 0;
    await journal.flush();

    expect(sink.ids.sort()).toEqual(ids(records).sort());
    expect(new Set(sink.ids).size).toBe(100);
    expect(sink.batches.every((batch) => batch.length <= 8)).toBe(true);
    expect(journal.backlog()).toMatchObject({
      pendingRecords: 0,
      onDiskOnlyRecords: 0,
      consecutiveFailures: 0,
      lastError: undefined,
      oldestPendingAgeMs: undefined,
    });
    expect(idsOnDisk()).toEqual([]);
  });

  it('reports the age of the oldest record waiting', async () => {
    let now = 1_000_000;
    const journal = createJournal({ now: () => now });
    await journal.start();
    sink.failuresLeft = 1_000;
    journal.append(buildUsageRecord());
    await journal.flush();
    now += 4000;
    journal.append(buildUsageRecord());
    now += 1000;

    expect(journal.backlog()).toMatchObject({ pendingRecords: 2, oldestPendingAgeMs: 5000, consecutiveFailures: 1 });
  });
});

describe('UsageJournal stream checkpoints', () => {
  const checkpointLine = (record: UsageRecordInsert) => JSON.stringify({ checkpoint: record }) + '\n';

  it('never sends a checkpoint to the database from a live journal; the final record replaces it', async () => {
    const journal = createJournal();
    await journal.start();
    const provisional = buildUsageRecord({ outcome: 'interrupted', completion_tokens: 3 });
    journal.checkpoint(provisional);
    await journal.flush();
    expect(sink.batches).toEqual([]);

    const final = { ...provisional, outcome: 'success' as const, completion_tokens: 10 };
    journal.append(final);
    await journal.flush();

    expect(sink.batches).toEqual([[final]]);
  });

  it('keeps the checkpoint of a running stream on disk when the segment that held it is deleted', async () => {
    const journal = createJournal();
    await journal.start();
    const provisional = buildUsageRecord({ outcome: 'interrupted', completion_tokens: 3 });
    journal.checkpoint(provisional);
    journal.append(buildUsageRecord());
    await journal.flush();

    const checkpointsOnDisk = segmentNames()
      .flatMap((name) => readFileSync(path.join(directory, name), 'utf8').split('\n'))
      .filter((line) => line.startsWith('{"checkpoint"'));
    expect(checkpointsOnDisk).toEqual([checkpointLine(provisional).trimEnd()]);
  });

  it('carries the latest checkpoint of every running stream forward, one line each', async () => {
    const journal = createJournal();
    await journal.start();
    const streams = [1, 2, 3].map((tokens) => buildUsageRecord({ outcome: 'interrupted', completion_tokens: tokens }));
    for (const stream of streams) journal.checkpoint(stream);
    const later = { ...streams[1]!, completion_tokens: 20 };
    journal.checkpoint(later);
    journal.append(buildUsageRecord());
    await journal.flush();

    const checkpointsOnDisk = segmentNames()
      .flatMap((name) => readFileSync(path.join(directory, name), 'utf8').split('\n'))
      .filter((line) => line.startsWith('{"checkpoint"'));
    expect(checkpointsOnDisk.sort()).toEqual(
      [streams[0]!, later, streams[2]!].map((record) => checkpointLine(record).trimEnd()).sort(),
    );
  });

  it('commits the last checkpoint of a stream cut by a crash as interrupted, and nothing for finished streams', async () => {
    const cut = buildUsageRecord({ outcome: 'interrupted', streamed: 1, completion_tokens: 2 });
    const cutLater = { ...cut, completion_tokens: 7 };
    const finishedProvisional = buildUsageRecord({ outcome: 'interrupted', streamed: 1, completion_tokens: 4 });
    const finished = { ...finishedProvisional, outcome: 'success' as const, completion_tokens: 9 };
    writeFileSync(
      path.join(directory, `${deadPid}-1700000000000-000001.jsonl`),
      checkpointLine(cut) + checkpointLine(finishedProvisional) + checkpointLine(cutLater),
    );
    writeFileSync(path.join(directory, `${deadPid}-1700000000001-000002.jsonl`), JSON.stringify(finished) + '\n');

    const { replayed, interrupted } = await createJournal().start();

    expect({ replayed, interrupted }).toEqual({ replayed: 2, interrupted: 1 });
    expect(sink.batches.flat()).toEqual([finished, cutLater]);
    expect(segmentNames().filter((name) => name.startsWith(`${deadPid}-`))).toEqual([]);
  });

  it('keeps a segment holding an open stream when closed, so the next start records what was delivered', async () => {
    const journal = createJournal();
    await journal.start();
    const provisional = buildUsageRecord({ outcome: 'interrupted', streamed: 1, completion_tokens: 5 });
    journal.checkpoint(provisional);

    await journal.close();
    const { interrupted } = await createJournal().start();

    expect(interrupted).toBe(1);
    expect(sink.ids).toEqual([provisional.id]);
  });
});
