import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { UsageRecordInsert } from '../../db/schema.ts';

export interface UsageSink {
  insertBatch(records: readonly UsageRecordInsert[]): Promise<void>;
}

export interface UsageJournalOptions {
  directory: string;
  sink: UsageSink;
  flushIntervalMs: number;
  maxBatchSize: number;
  /** Told after each batch is durable in the database (e.g. to update keys' last-used time). */
  afterBatch?: (records: readonly UsageRecordInsert[]) => Promise<void>;
  onError?: (error: unknown) => void;
}

/**
 * Durable, batched usage recording. Each record is appended to a journal segment with one write(2) before the
 * response that it describes is finished, so a record lives in the kernel even if the process is killed the next
 * instant. Records are then written to the database in batches off the hot path; a segment is deleted only after
 * every record in it is committed. On start, segments left by a dead process are replayed; record ids make the
 * replay idempotent.
 */
export class UsageJournal {
  readonly #options: UsageJournalOptions;
  #pending: UsageRecordInsert[] = [];
  #segmentPath = '';
  #segmentDescriptor = -1;
  #segmentCounter = 0;
  #retiredSegments: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #queuedFlush: Promise<void> | undefined;
  #closed = false;

  constructor(options: UsageJournalOptions) {
    this.#options = options;
  }

  /** Replays what a previous process left, then opens a fresh segment and starts the flush timer. */
  async start(): Promise<{ replayed: number }> {
    mkdirSync(this.#options.directory, { recursive: true });
    const replayed = await this.#replayOrphanedSegments();
    this.#openSegment();
    this.#timer = setInterval(() => void this.flush(), this.#options.flushIntervalMs);
    this.#timer.unref();
    return { replayed };
  }

  /** Synchronous on purpose: when this returns, the record survives a crash of this process. */
  append(record: UsageRecordInsert): void {
    if (this.#closed) throw new Error('usage journal is closed');
    writeSync(this.#segmentDescriptor, JSON.stringify(record) + '\n');
    this.#pending.push(record);
    if (this.#pending.length >= this.#options.maxBatchSize) void this.flush();
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  /** Writes everything appended so far; concurrent callers share one flush. */
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

  #startFlush(): Promise<void> {
    const flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    this.#flushing = flushing;
    return flushing;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    await this.#flushing;
    await this.flush();
    this.#closed = true;
    closeSync(this.#segmentDescriptor);
    if (this.#pending.length === 0) unlinkQuietly(this.#segmentPath);
  }

  async #flushOnce(): Promise<void> {
    if (this.#pending.length === 0) return;
    // Everything pending now lives in the current segment or in ones retired earlier: retire it and start anew.
    const batch = this.#pending;
    this.#pending = [];
    closeSync(this.#segmentDescriptor);
    this.#retiredSegments.push(this.#segmentPath);
    this.#openSegment();
    try {
      await this.#options.sink.insertBatch(batch);
    } catch (error) {
      // Keep the records (and their segments) for the next attempt; the order of ids does not matter.
      this.#pending = batch.concat(this.#pending);
      this.#options.onError?.(error);
      return;
    }
    for (const segment of this.#retiredSegments) unlinkQuietly(segment);
    this.#retiredSegments = [];
    if (this.#options.afterBatch) {
      await this.#options.afterBatch(batch).catch((error: unknown) => this.#options.onError?.(error));
    }
  }

  #openSegment(): void {
    this.#segmentCounter += 1;
    const name = `${process.pid}-${Date.now()}-${String(this.#segmentCounter).padStart(6, '0')}.jsonl`;
    this.#segmentPath = path.join(this.#options.directory, name);
    this.#segmentDescriptor = openSync(this.#segmentPath, 'a');
  }

  async #replayOrphanedSegments(): Promise<number> {
    const orphaned = readdirSync(this.#options.directory)
      .filter((name) => name.endsWith('.jsonl') && !isLiveProcess(Number(name.split('-')[0])))
      .sort()
      .map((name) => path.join(this.#options.directory, name));
    let replayed = 0;
    for (const segment of orphaned) {
      const records = parseSegment(readFileSync(segment, 'utf8'));
      for (let start = 0; start < records.length; start += this.#options.maxBatchSize) {
        await this.#options.sink.insertBatch(records.slice(start, start + this.#options.maxBatchSize));
      }
      replayed += records.length;
      unlinkQuietly(segment);
    }
    return replayed;
  }
}

function parseSegment(text: string): UsageRecordInsert[] {
  const records: UsageRecordInsert[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      records.push(JSON.parse(line) as UsageRecordInsert);
    } catch {
      // A torn last line can only be a record whose response was never finished; nothing was delivered for it.
    }
  }
  return records;
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
