import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { ensurePrivateDirectory, privateFileMode } from '../../db/private-files.ts';
import type { UsageRecordInsert } from '../../db/schema.ts';

export interface UsageSink {
  insertBatch(records: readonly UsageRecordInsert[]): Promise<void>;
}

export interface UsageJournalOptions {
  directory: string;
  sink: UsageSink;
  flushIntervalMs: number;
  maxBatchSize: number;
  /**
   * Unwritten records kept in memory (default 50,000). Past it, new records live only in their segment on disk and
   * are read back from there once the database answers again: memory stays bounded, nothing is dropped.
   */
  maxPendingInMemory?: number;
  /** Longest pause between retries after a failed batch (default 5 s); retries back off from the flush interval. */
  retryMaxMs?: number;
  /** Records per segment before a new one is started (default 10,000), so reading one back stays small. */
  segmentMaxRecords?: number;
  /** Told after each batch is durable in the database (e.g. to update keys' last-used time). */
  afterBatch?: (records: readonly UsageRecordInsert[]) => Promise<void>;
  onError?: (error: unknown) => void;
  now?: () => number;
}

/** What is waiting to reach the database, for health output. */
export interface UsageBacklog {
  readonly pendingRecords: number;
  /** Of those, how many are only on disk (the in-memory cap was reached). */
  readonly onDiskOnlyRecords: number;
  readonly oldestPendingAgeMs: number | undefined;
  readonly consecutiveFailures: number;
  readonly lastError: string | undefined;
}

interface Segment {
  readonly path: string;
  readonly descriptor: number;
  /** Its final records, when held in memory; undefined once the segment spilled (they are read back from disk). */
  records: UsageRecordInsert[] | undefined;
  /** Final records written to it. */
  count: number;
  firstAppendedAt: number | undefined;
}

/** A line holding a stream's provisional record (what was delivered so far), superseded by its final record. */
interface CheckpointLine {
  readonly checkpoint: UsageRecordInsert;
}

const defaultMaxPendingInMemory = 50_000;
const defaultRetryMaxMs = 5000;
const defaultSegmentMaxRecords = 10_000;

/**
 * Durable, batched usage recording. Each record is appended to a journal segment with one write(2) before the
 * response that it describes is finished, so a record lives in the kernel even if the process is killed the next
 * instant. Records are then written to the database in batches off the hot path; a segment is deleted only after
 * every record in it is committed. On start, segments left by a dead process are replayed; record ids make the
 * replay idempotent.
 *
 * While the database is away, batches are retried with backoff, oldest first and at most `maxBatchSize` at a time.
 * Memory holds at most `maxPendingInMemory` records; beyond that they stay only on disk until the database returns.
 *
 * Streams also leave checkpoints: a provisional record of what was delivered so far, under the id of the record that
 * will finish them. Checkpoints never go to the database from a live journal; if the process dies mid-stream, replay
 * commits the last checkpoint of every stream that has no final record (outcome `interrupted`).
 */
export class UsageJournal {
  readonly #options: UsageJournalOptions;
  readonly #maxPendingInMemory: number;
  readonly #retryMaxMs: number;
  readonly #segmentMaxRecords: number;
  readonly #now: () => number;
  #current: Segment | undefined;
  #segmentCounter = 0;
  /** Closed segments whose records are not all committed, oldest first. */
  #retired: Segment[] = [];
  /** Records of the oldest retired segment already committed (a segment larger than a batch). */
  #headOffset = 0;
  #pendingRecords = 0;
  #inMemoryRecords = 0;
  /** The journal line of the latest checkpoint of every stream still running, by record id. */
  #openCheckpoints = new Map<string, string>();
  #consecutiveFailures = 0;
  #lastError: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #queuedFlush: Promise<void> | undefined;
  #closing = false;
  #closed = false;

  constructor(options: UsageJournalOptions) {
    this.#options = options;
    this.#maxPendingInMemory = options.maxPendingInMemory ?? defaultMaxPendingInMemory;
    this.#retryMaxMs = options.retryMaxMs ?? defaultRetryMaxMs;
    this.#segmentMaxRecords = options.segmentMaxRecords ?? defaultSegmentMaxRecords;
    this.#now = options.now ?? Date.now;
  }

  /** Replays what a previous process left, then opens a fresh segment and starts flushing. */
  async start(): Promise<{ replayed: number; interrupted: number }> {
    ensurePrivateDirectory(this.#options.directory);
    const replay = await this.#replayOrphanedSegments();
    this.#current = this.#openSegment();
    this.#schedule(this.#options.flushIntervalMs);
    return replay;
  }

  /** Synchronous on purpose: when this returns, the record survives a crash of this process. */
  append(record: UsageRecordInsert): void {
    const segment = this.#writable();
    writeSync(segment.descriptor, JSON.stringify(record) + '\n');
    this.#openCheckpoints.delete(record.id);
    segment.count += 1;
    segment.firstAppendedAt ??= this.#now();
    this.#pendingRecords += 1;
    if (segment.records !== undefined) {
      if (this.#inMemoryRecords < this.#maxPendingInMemory) {
        segment.records.push(record);
        this.#inMemoryRecords += 1;
      } else {
        // The cap is reached: this segment's records are let go from memory and read back from disk later.
        this.#inMemoryRecords -= segment.records.length;
        segment.records = undefined;
      }
    }
    if (segment.count >= this.#segmentMaxRecords) this.#rotate();
    // While retries back off, a full batch waits for the next retry instead of knocking on a closed door.
    if (this.#consecutiveFailures === 0 && this.#unflushedInMemory() >= this.#options.maxBatchSize) {
      void this.flush();
    }
  }

  /**
   * Journals a stream's progress. The record keeps the id its final record will have; only the latest checkpoint of
   * each stream matters, and it is dropped when the final record is appended.
   */
  checkpoint(record: UsageRecordInsert): void {
    const segment = this.#writable();
    const line = JSON.stringify({ checkpoint: record } satisfies CheckpointLine) + '\n';
    writeSync(segment.descriptor, line);
    this.#openCheckpoints.set(record.id, line);
  }

  /** Final records not yet committed to the database. */
  get pendingCount(): number {
    return this.#pendingRecords;
  }

  backlog(): UsageBacklog {
    const oldest = this.#retired[0]?.firstAppendedAt ?? this.#current?.firstAppendedAt;
    return {
      pendingRecords: this.#pendingRecords,
      onDiskOnlyRecords: this.#pendingRecords - this.#inMemoryRecords,
      oldestPendingAgeMs: oldest === undefined ? undefined : Math.max(0, this.#now() - oldest),
      consecutiveFailures: this.#consecutiveFailures,
      lastError: this.#lastError,
    };
  }

  /** Writes everything appended so far; concurrent callers share one flush. Never rejects: failures are retried. */
  flush(): Promise<void> {
    if (!this.#flushing) return this.#startFlush();
    // The running flush took its batch before this call, so records appended since are not in it: queue one more
    // flush behind it, shared by every caller that arrives meanwhile.
    this.#queuedFlush ??= this.#flushing
      .catch(() => undefined)
      .then(() => {
        this.#queuedFlush = undefined;
        // One started in between began after these callers' records were appended, so it covers them.
        return this.#flushing ?? this.#startFlush();
      });
    return this.#queuedFlush;
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    // From here no flush is scheduled again: a timer flush finishing below must not set up another one.
    this.#closing = true;
    clearTimeout(this.#timer);
    await this.#flushing;
    await this.flush();
    clearTimeout(this.#timer);
    this.#closed = true;
    const current = this.#current;
    if (!current) return;
    closeSync(current.descriptor);
    // Anything still pending (the database is away) or a stream still open stays on disk for the next start.
    if (current.count === 0 && this.#openCheckpoints.size === 0) unlinkQuietly(current.path);
  }

  #writable(): Segment {
    if (this.#closed || !this.#current) throw new Error('usage journal is closed or not started');
    return this.#current;
  }

  #startFlush(): Promise<void> {
    const flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    this.#flushing = flushing;
    return flushing;
  }

  #schedule(delayMs: number): void {
    if (this.#closing) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      void this.flush().then(() => this.#schedule(this.#nextDelayMs()));
    }, delayMs);
    this.#timer.unref();
  }

  /** The flush interval while healthy; after failures, doubling up to retryMaxMs, with jitter so instances spread. */
  #nextDelayMs(): number {
    if (this.#consecutiveFailures === 0) return this.#options.flushIntervalMs;
    const exponent = Math.min(this.#consecutiveFailures, 16);
    const backoff = Math.min(this.#retryMaxMs, this.#options.flushIntervalMs * 2 ** exponent);
    return Math.round(backoff * (0.8 + Math.random() * 0.2));
  }

  #unflushedInMemory(): number {
    return this.#current?.records?.length ?? 0;
  }

  async #flushOnce(): Promise<void> {
    if (this.#closed) return;
    if (this.#current && this.#current.count > 0) this.#rotate();
    if (this.#retired.length === 0) return;
    try {
      await this.#drain();
    } catch (error) {
      this.#consecutiveFailures += 1;
      this.#lastError = error instanceof Error ? error.message : String(error);
      this.#options.onError?.(error);
      return;
    }
    this.#consecutiveFailures = 0;
    this.#lastError = undefined;
  }

  /** Commits retired segments oldest first, one batch of at most maxBatchSize records at a time. */
  async #drain(): Promise<void> {
    // Spilled segments are read back from disk once per drain, not once per batch taken from them; each is let go
    // as soon as it is committed, so at most the segments of one batch are held.
    const readBack = new Map<Segment, UsageRecordInsert[]>();
    const recordsOf = (segment: Segment): UsageRecordInsert[] => {
      if (segment.records !== undefined) return segment.records;
      let records = readBack.get(segment);
      if (records === undefined) {
        records = readFinalRecords(segment.path);
        readBack.set(segment, records);
      }
      return records;
    };
    while (this.#retired.length > 0) {
      const batch: UsageRecordInsert[] = [];
      let consumed = 0;
      let offset = this.#headOffset;
      for (const segment of this.#retired) {
        const records = recordsOf(segment);
        const room = this.#options.maxBatchSize - batch.length;
        const taken = records.slice(offset, offset + room);
        for (const record of taken) batch.push(record);
        offset += taken.length;
        if (offset < records.length) break;
        consumed += 1;
        offset = 0;
        if (batch.length >= this.#options.maxBatchSize) break;
      }
      if (batch.length > 0) await this.#options.sink.insertBatch(batch);
      for (const segment of this.#retired.splice(0, consumed)) {
        unlinkQuietly(segment.path);
        readBack.delete(segment);
        this.#inMemoryRecords -= segment.records?.length ?? 0;
      }
      this.#headOffset = offset;
      this.#pendingRecords -= batch.length;
      if (batch.length > 0 && this.#options.afterBatch) {
        await this.#options.afterBatch(batch).catch((error: unknown) => this.#options.onError?.(error));
      }
    }
  }

  /** Closes the current segment for appends and starts a new one, carrying open stream checkpoints forward. */
  #rotate(): void {
    const current = this.#current;
    if (!current) return;
    closeSync(current.descriptor);
    this.#retired.push(current);
    const next = this.#openSegment();
    this.#current = next;
    // The retired segment is deleted once its final records commit: a stream still running must not lose its
    // checkpoint with it. One write for all of them: this runs at every flush, whatever the number of open streams.
    if (this.#openCheckpoints.size > 0) writeSync(next.descriptor, [...this.#openCheckpoints.values()].join(''));
  }

  #openSegment(): Segment {
    this.#segmentCounter += 1;
    const name = `${process.pid}-${Date.now()}-${String(this.#segmentCounter).padStart(6, '0')}.jsonl`;
    const segmentPath = path.join(this.#options.directory, name);
    return {
      path: segmentPath,
      descriptor: openSync(segmentPath, 'a', privateFileMode),
      records: this.#inMemoryRecords < this.#maxPendingInMemory ? [] : undefined,
      count: 0,
      firstAppendedAt: undefined,
    };
  }

  async #replayOrphanedSegments(): Promise<{ replayed: number; interrupted: number }> {
    const orphaned = readdirSync(this.#options.directory)
      .filter((name) => name.endsWith('.jsonl') && !isLiveProcess(Number(name.split('-')[0])))
      .sort()
      .map((name) => path.join(this.#options.directory, name));
    // One read per segment, in the order they were written: a stream's checkpoints always come before its final
    // record (a finished stream is never checkpointed or carried forward again), so a final record met here
    // supersedes every checkpoint of its stream, and what is left are streams cut by the crash.
    const unfinished = new Map<string, UsageRecordInsert>();
    let replayed = 0;
    for (const segment of orphaned) {
      const records: UsageRecordInsert[] = [];
      for (const line of parseSegment(readFileSync(segment, 'utf8'))) {
        if ('checkpoint' in line) {
          unfinished.set(line.checkpoint.id, line.checkpoint);
        } else {
          unfinished.delete(line.id);
          records.push(line);
        }
      }
      await this.#insertInBatches(records);
      replayed += records.length;
    }
    const interrupted = [...unfinished.values()];
    await this.#insertInBatches(interrupted);
    for (const segment of orphaned) unlinkQuietly(segment);
    return { replayed: replayed + interrupted.length, interrupted: interrupted.length };
  }

  async #insertInBatches(records: readonly UsageRecordInsert[]): Promise<void> {
    for (let start = 0; start < records.length; start += this.#options.maxBatchSize) {
      await this.#options.sink.insertBatch(records.slice(start, start + this.#options.maxBatchSize));
    }
  }
}

function isFinalRecord(line: UsageRecordInsert | CheckpointLine): line is UsageRecordInsert {
  return !('checkpoint' in line);
}

function readFinalRecords(segmentPath: string): UsageRecordInsert[] {
  return parseSegment(readFileSync(segmentPath, 'utf8')).filter(isFinalRecord);
}

function parseSegment(text: string): Array<UsageRecordInsert | CheckpointLine> {
  const lines: Array<UsageRecordInsert | CheckpointLine> = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      lines.push(JSON.parse(line) as UsageRecordInsert | CheckpointLine);
    } catch {
      // A torn last line can only be a record whose response was never finished; nothing was delivered for it.
    }
  }
  return lines;
}

function isLiveProcess(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unlinkQuietly(filePath: string): void {
  try {
    unlinkSync(filePath);
  } catch {
    // Already gone: nothing to do.
  }
}
