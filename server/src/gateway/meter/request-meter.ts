import { performance } from 'node:perf_hooks';
import type { ModelPricing } from '../../config/config.ts';
import type { UsageRecordInsert, UsageRecordsTable } from '../../db/schema.ts';
import { newTimeOrderedId } from '../../lib/ids.ts';
import { costMicros } from '../../lib/money.ts';
import type { TokenUsage } from '../../providers/spec/provider-adapter.ts';
import type { CatalogModel, Deployment } from '../model-catalog.ts';
import type { UsageJournal } from './usage-journal.ts';
import type { Admission } from '../traffic/traffic-control.ts';

export interface RequestMeterStart {
  requestId: string;
  keyId: string;
  endpoint: string;
  streamed: boolean;
  /** The request's traffic-control admission: told the true cost and tokens, which replace its reservation. */
  admission: Admission;
}

export interface RequestMeterFinish {
  status: number;
  outcome: UsageRecordsTable['outcome'];
  usage: TokenUsage | undefined;
  usageSource: UsageRecordsTable['usage_source'];
  errorCode?: string | undefined;
}

const noUsage: TokenUsage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 };

/** A running stream journals what it has delivered at its first event and then at most this often. */
export const streamCheckpointIntervalMs = 1000;

/**
 * Collects what one request did and writes exactly one usage record for it, whatever the outcome.
 * `finish` appends to the journal synchronously, so callers finish the meter before the last byte goes out.
 *
 * A stream also leaves checkpoints: provisional records under the id its final record will carry, written at its
 * first event and then every `streamCheckpointIntervalMs`. If the process dies mid-stream (kill -9, OOM), the journal
 * replay commits the last checkpoint as outcome `interrupted`, so a stream the upstream was paid for is never lost;
 * the final record supersedes it otherwise.
 */
export class RequestMeter {
  readonly #journal: UsageJournal;
  readonly #start: RequestMeterStart;
  readonly #startedAt = performance.now();
  readonly #createdAt = Date.now();
  #id: string | undefined;
  #model: CatalogModel | undefined;
  #modelName = '';
  #deployment: Deployment | undefined;
  #firstTokenAt: number | undefined;
  #deliveredEvents = 0;
  #progress: TokenUsage | undefined;
  #lastCheckpointAt: number | undefined;
  #finished = false;

  constructor(journal: UsageJournal, start: RequestMeterStart) {
    this.#journal = journal;
    this.#start = start;
  }

  get finished(): boolean {
    return this.#finished;
  }

  setRequestedModel(name: string): void {
    this.#modelName = name;
  }

  setTarget(model: CatalogModel, deployment: Deployment): void {
    this.#model = model;
    this.#modelName = model.name;
    this.#deployment = deployment;
  }

  /** Called for every event a stream delivers (the first one marks the time to first token). */
  markFirstToken(): void {
    const now = performance.now();
    this.#firstTokenAt ??= now;
    if (!this.#start.streamed || this.#finished) return;
    this.#deliveredEvents += 1;
    if (this.#lastCheckpointAt === undefined || now - this.#lastCheckpointAt >= streamCheckpointIntervalMs) {
      this.#lastCheckpointAt = now;
      this.#journal.checkpoint(this.#buildRecord(this.#deliveredSoFar(), 'counted', interruptedResult));
    }
  }

  /**
   * Exact usage delivered so far, when the caller knows it (e.g. counted from the text sent); checkpoints use it
   * instead of the estimate of one completion token per delivered event.
   */
  recordProgress(usage: TokenUsage): void {
    this.#progress = usage;
  }

  finish(result: RequestMeterFinish): UsageRecordInsert | undefined {
    if (this.#finished) return undefined;
    this.#finished = true;
    const record = this.#buildRecord(result.usage ?? noUsage, result.usage ? result.usageSource : 'none', result);
    this.#journal.append(record);
    this.#start.admission.recordUsage(record.cost_micros, record.prompt_tokens + record.completion_tokens);
    return record;
  }

  #deliveredSoFar(): TokenUsage {
    const progress = this.#progress ?? noUsage;
    return {
      promptTokens: progress.promptTokens,
      completionTokens: Math.max(progress.completionTokens, this.#deliveredEvents),
      cachedTokens: progress.cachedTokens,
      cacheWriteTokens: progress.cacheWriteTokens ?? 0,
    };
  }

  /**
   * The per-request fee is charged when the upstream answered with success: a completed request, or one cut short
   * (client gone, process died) after the upstream had answered, i.e. after it reported usage or a stream delivered
   * an event. Failed requests (an upstream error, a refusal by the gateway) pay no fee, even where the provider might
   * have charged one; their tokens, if any were reported, are still charged.
   */
  #chargesRequestFee(
    result: Pick<RequestMeterFinish, 'outcome'>,
    usageSource: UsageRecordsTable['usage_source'],
  ): boolean {
    switch (result.outcome) {
      case 'success':
        return true;
      case 'client_disconnected':
      case 'interrupted':
        return usageSource === 'upstream' || this.#firstTokenAt !== undefined;
      case 'upstream_error':
      case 'error':
        return false;
    }
  }

  /** The prices of the deployment that served the request, else its model's; none before a model was resolved. */
  #pricing(): ModelPricing | undefined {
    return this.#deployment?.pricing ?? this.#model?.pricing;
  }

  #buildRecord(
    usage: TokenUsage,
    usageSource: UsageRecordsTable['usage_source'],
    result: Pick<RequestMeterFinish, 'status' | 'outcome' | 'errorCode'>,
  ): UsageRecordInsert {
    const pricing = this.#pricing();
    const cacheWriteTokens = usage.cacheWriteTokens ?? 0;
    this.#id ??= newTimeOrderedId(this.#createdAt);
    return {
      id: this.#id,
      request_id: this.#start.requestId,
      created_at: this.#createdAt,
      key_id: this.#start.keyId,
      model: this.#modelName,
      provider_id: this.#deployment?.provider.config.id ?? null,
      deployment_model: this.#deployment?.upstreamModel ?? null,
      endpoint: this.#start.endpoint,
      streamed: this.#start.streamed ? 1 : 0,
      prompt_tokens: usage.promptTokens,
      completion_tokens: usage.completionTokens,
      cached_tokens: usage.cachedTokens,
      cache_write_tokens: cacheWriteTokens,
      usage_source: usageSource,
      cost_micros: pricing
        ? costMicros(
            {
              prompt: usage.promptTokens,
              completion: usage.completionTokens,
              cached: usage.cachedTokens,
              cacheWrite: cacheWriteTokens,
              requests: this.#chargesRequestFee(result, usageSource) ? 1 : 0,
            },
            {
              input: pricing.inputPerMillion,
              output: pricing.outputPerMillion,
              cachedInput: pricing.cachedInputPerMillion,
              cacheWrite: pricing.cacheWritePerMillion,
              perRequest: pricing.perRequest,
            },
          )
        : 0,
      latency_ms: Math.round(performance.now() - this.#startedAt),
      first_token_ms: this.#firstTokenAt === undefined ? null : Math.round(this.#firstTokenAt - this.#startedAt),
      status: result.status,
      outcome: result.outcome,
      error_code: result.errorCode ?? null,
    };
  }
}

/** What a checkpoint says if it is ever committed: the stream began (200) and was cut by the process dying. */
const interruptedResult = { status: 200, outcome: 'interrupted', errorCode: 'process_exited' } as const;
