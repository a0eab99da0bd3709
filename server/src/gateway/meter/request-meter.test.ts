import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ModelPricing } from '../../config/config.ts';
import type { UsageRecordInsert } from '../../db/schema.ts';
import type { CatalogModel, Deployment } from '../model-catalog.ts';
import { RequestMeter, streamCheckpointIntervalMs, type RequestMeterFinish } from './request-meter.ts';
import type { UsageJournal } from './usage-journal.ts';
import { unlimitedAdmission } from '../traffic/traffic-control.ts';

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

const start = { requestId: 'req_1', keyId: 'key_1', endpoint: 'chat.completions', admission: unlimitedAdmission };

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

/** Prices in micro-units per million tokens (and per request), as the config holds them. */
function pricing(overrides: Partial<ModelPricing> = {}): ModelPricing {
  return {
    inputPerMillion: 3_000_000,
    outputPerMillion: 15_000_000,
    cachedInputPerMillion: 300_000,
    cacheWritePerMillion: 3_750_000,
    perRequest: 0,
    priced: true,
    ...overrides,
  };
}

/** Only what the meter reads of a model and a deployment. */
function target(modelPricing: ModelPricing, deploymentPricing: ModelPricing) {
  const model = { name: 'claude-test', pricing: modelPricing } as unknown as CatalogModel;
  const deployment = {
    id: 'anthropic/claude-x',
    provider: { config: { id: 'anthropic' } },
    upstreamModel: 'claude-x',
    pricing: deploymentPricing,
  } as unknown as Deployment;
  return { model, deployment };
}

describe('RequestMeter cost', () => {
  const usage = { promptTokens: 1000, completionTokens: 10, cachedTokens: 600, cacheWriteTokens: 300 };

  function finishWith(
    modelPricing: ModelPricing,
    deploymentPricing: ModelPricing,
    result: Partial<RequestMeterFinish> = {},
    streamed = false,
  ): UsageRecordInsert {
    const { journal } = recordingJournal();
    const meter = new RequestMeter(journal, { ...start, streamed });
    const { model, deployment } = target(modelPricing, deploymentPricing);
    meter.setTarget(model, deployment);
    if (streamed) meter.markFirstToken();
    return meter.finish({ status: 200, outcome: 'success', usage, usageSource: 'upstream', ...result })!;
  }

  it('records cache writes and prices them at the cache-write rate, reads at the cached rate', () => {
    const record = finishWith(pricing(), pricing());
    expect(record).toMatchObject({ prompt_tokens: 1000, cached_tokens: 600, cache_write_tokens: 300 });
    // 100 plain × 3.00 + 600 read × 0.30 + 300 written × 3.75 + 10 out × 15.00 per million.
    expect(record.cost_micros).toBe(300 + 180 + 1125 + 150);
  });

  it("prices by the deployment that served the request, not the model's list price", () => {
    const cheaper = pricing({ inputPerMillion: 1_000_000, cacheWritePerMillion: 1_000_000 });
    expect(finishWith(pricing(), cheaper).cost_micros).toBe(100 + 180 + 300 + 150);
    expect(finishWith(cheaper, pricing()).cost_micros).toBe(300 + 180 + 1125 + 150);
  });

  it('falls back to the model pricing when no deployment was chosen', () => {
    const { journal } = recordingJournal();
    const meter = new RequestMeter(journal, { ...start, streamed: false });
    const { model, deployment } = target(pricing({ perRequest: 7 }), pricing());
    meter.setTarget(model, { ...deployment, pricing: undefined } as unknown as Deployment);
    const record = meter.finish({ status: 200, outcome: 'success', usage, usageSource: 'upstream' });
    expect(record?.cost_micros).toBe(300 + 180 + 1125 + 150 + 7);
  });

  it('charges the per-request fee when the upstream answered, and not for failures', () => {
    const withFee = pricing({ perRequest: 2_000 });
    const tokens = 300 + 180 + 1125 + 150;
    expect(finishWith(pricing(), withFee).cost_micros).toBe(tokens + 2_000);
    const failed = { status: 502, outcome: 'upstream_error', usage: undefined, usageSource: 'none' } as const;
    expect(finishWith(pricing(), withFee, failed).cost_micros).toBe(0);
    const refused = { status: 429, outcome: 'error', usage: undefined, usageSource: 'none' } as const;
    expect(finishWith(pricing(), withFee, refused).cost_micros).toBe(0);
    // A client that left after the upstream answered: the upstream was paid, so is the fee.
    const left = { status: 499, outcome: 'client_disconnected', usageSource: 'upstream' } as const;
    expect(finishWith(pricing(), withFee, left).cost_micros).toBe(tokens + 2_000);
    // One that left before any answer: tokens counted by the gateway, no fee.
    const leftEarly = { status: 499, outcome: 'client_disconnected', usageSource: 'counted' } as const;
    expect(finishWith(pricing(), withFee, leftEarly).cost_micros).toBe(tokens);
    // A stream that had delivered an event was answered by the upstream, whatever counted its tokens.
    expect(finishWith(pricing(), withFee, leftEarly, true).cost_micros).toBe(tokens + 2_000);
  });

  it('charges the fee on stream checkpoints, which exist only once the upstream answered', () => {
    const { journal, checkpoints } = recordingJournal();
    const meter = new RequestMeter(journal, { ...start, streamed: true });
    const { model, deployment } = target(pricing(), pricing({ perRequest: 2_000 }));
    meter.setTarget(model, deployment);
    meter.recordProgress(usage);
    meter.markFirstToken();
    expect(checkpoints[0]).toMatchObject({ outcome: 'interrupted', cache_write_tokens: 300 });
    expect(checkpoints[0]?.cost_micros).toBe(300 + 180 + 1125 + 150 + 2_000);
  });

  it('records no cache writes for usage that reports none', () => {
    const { journal } = recordingJournal();
    const meter = new RequestMeter(journal, { ...start, streamed: false });
    const { model, deployment } = target(pricing(), pricing());
    meter.setTarget(model, deployment);
    const plain = { promptTokens: 10, completionTokens: 1, cachedTokens: 0 };
    expect(meter.finish({ status: 200, outcome: 'success', usage: plain, usageSource: 'upstream' })).toMatchObject({
      cache_write_tokens: 0,
      cost_micros: 30 + 15,
    });
  });

  it('tells the admission the true cost and tokens once, which settle its budget reservation', () => {
    const { journal } = recordingJournal();
    const recordUsage = vi.fn();
    const meter = new RequestMeter(journal, {
      ...start,
      streamed: false,
      admission: { ...unlimitedAdmission, recordUsage },
    });
    const { model, deployment } = target(pricing(), pricing());
    meter.setTarget(model, deployment);
    const plain = { promptTokens: 10, completionTokens: 1, cachedTokens: 0 };
    meter.finish({ status: 200, outcome: 'success', usage: plain, usageSource: 'upstream' });
    meter.finish({ status: 500, outcome: 'error', usage: undefined, usageSource: 'none' });
    expect(recordUsage).toHaveBeenCalledTimes(1);
    expect(recordUsage).toHaveBeenCalledWith(30 + 15, 11);
  });
});
