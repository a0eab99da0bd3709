import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UsageRecordInsert } from '../../db/schema.ts';
import { RequestMeter, streamCheckpointIntervalMs } from './request-meter.ts';
import type { UsageJournal } from './usage-journal.ts';

/** A journal that only remembers what it was given. */
function recordingJournal() {
  const checkpoints: UsageRecordInsert[] = [];
  const appended: UsageRecordInsert[] = [];
  const journal = {
    checkpoint: (record: UsageRecordInsert) => checkpoints.push(record),
    append: (record: UsageRecordInsert) => appended.push(record),
  } as unknown as UsageJournal;
  return { journal, checkpoints, appended };
}

/** Moves `performance.now()`, which the meter reads, by hand. */
function manualClock() {
  let now = 1_000;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  return {
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const start = { requestId: 'req_1', keyId: 'key_1', endpoint: 'chat.completions' };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('RequestMeter stream checkpoints', () => {
  it('checkpoints at the first event and then at most once per interval, under the final record id', () => {
    const clock = manualClock();
    const { journal, checkpoints, appended } = recordingJournal();
    const meter = new RequestMeter(journal, { ...start, streamed: true });

    meter.markFirstToken();
    expect(checkpoints).toHaveLength(1);
    for (let event = 0; event < 5; event += 1) {
      clock.advance(streamCheckpointIntervalMs / 10);
      meter.markFirstToken();
    }
    expect(checkpoints).toHaveLength(1);
    clock.advance(streamCheckpointIntervalMs);
    meter.markFirstToken();
    expect(checkpoints).toHaveLength(2);

    const last = checkpoints[1];
    expect(last).toMatchObject({ outcome: 'interrupted', status: 200, error_code: 'process_exited' });
    // One completion token per delivered event, until the caller knows better.
    expect(last?.completion_tokens).toBe(7);

    meter.finish({ status: 200, outcome: 'success', usage: undefined, usageSource: 'none' });
    expect(appended).toHaveLength(1);
    expect(appended[0]?.id).toBe(checkpoints[0]?.id);
    expect(new Set(checkpoints.map((record) => record.id)).size).toBe(1);

    clock.advance(streamCheckpointIntervalMs * 2);
    meter.markFirstToken();
    expect(checkpoints).toHaveLength(2);
  });

  it('prefers the usage the caller reports to the per-event estimate', () => {
    const clock = manualClock();
    const { journal, checkpoints } = recordingJournal();
    const meter = new RequestMeter(journal, { ...start, streamed: true });

    meter.recordProgress({ promptTokens: 40, completionTokens: 25, cachedTokens: 3 });
    meter.markFirstToken();
    expect(checkpoints[0]).toMatchObject({ prompt_tokens: 40, completion_tokens: 25, cached_tokens: 3 });
    clock.advance(streamCheckpointIntervalMs);
    meter.recordProgress({ promptTokens: 40, completionTokens: 0, cachedTokens: 0 });
    meter.markFirstToken();
    // Never fewer than the events delivered.
    expect(checkpoints[1]).toMatchObject({ prompt_tokens: 40, completion_tokens: 2 });
  });

  it('never checkpoints a request that is not streamed', () => {
    const clock = manualClock();
    const { journal, checkpoints } = recordingJournal();
    const meter = new RequestMeter(journal, { ...start, streamed: false });
    meter.markFirstToken();
    clock.advance(streamCheckpointIntervalMs * 2);
    meter.markFirstToken();
    expect(checkpoints).toEqual([]);
  });
});
