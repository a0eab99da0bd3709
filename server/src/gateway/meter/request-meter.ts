import { performance } from 'node:perf_hooks';
import type { UsageRecordInsert, UsageRecordsTable } from '../../db/schema.ts';
import { newTimeOrderedId } from '../../lib/ids.ts';
import { costMicros } from '../../lib/money.ts';
import type { TokenUsage } from '../../providers/spec/provider-adapter.ts';
import type { CatalogModel, Deployment } from '../model-catalog.ts';
import type { UsageJournal } from './usage-journal.ts';

export interface RequestMeterStart {
  requestId: string;
  keyId: string;
  endpoint: string;
  streamed: boolean;
}

export interface RequestMeterFinish {
  status: number;
  outcome: UsageRecordsTable['outcome'];
  usage: TokenUsage | undefined;
  usageSource: UsageRecordsTable['usage_source'];
  errorCode?: string | undefined;
}

const noUsage: TokenUsage = { promptTokens: 0, completionTokens: 0, cachedTokens: 0 };

/**
 * Collects what one request did and writes exactly one usage record for it, whatever the outcome.
 * `finish` appends to the journal synchronously, so callers finish the meter before the last byte goes out.
 */
export class RequestMeter {
  readonly #journal: UsageJournal;
  readonly #start: RequestMeterStart;
  readonly #startedAt = performance.now();
  readonly #createdAt = Date.now();
  #model: CatalogModel | undefined;
  #modelName = '';
  #deployment: Deployment | undefined;
  #firstTokenAt: number | undefined;
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

  markFirstToken(): void {
    this.#firstTokenAt ??= performance.now();
  }

  finish(result: RequestMeterFinish): UsageRecordInsert | undefined {
    if (this.#finished) return undefined;
    this.#finished = true;
    const usage = result.usage ?? noUsage;
    const pricing = this.#model?.pricing;
    const record: UsageRecordInsert = {
      id: newTimeOrderedId(this.#createdAt),
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
      usage_source: result.usage ? result.usageSource : 'none',
      cost_micros: pricing
        ? costMicros(
            { prompt: usage.promptTokens, completion: usage.completionTokens, cached: usage.cachedTokens },
            {
              input: pricing.inputPerMillion,
              output: pricing.outputPerMillion,
              cachedInput: pricing.cachedInputPerMillion,
            },
          )
        : 0,
      latency_ms: Math.round(performance.now() - this.#startedAt),
      first_token_ms: this.#firstTokenAt === undefined ? null : Math.round(this.#firstTokenAt - this.#startedAt),
      status: result.status,
      outcome: result.outcome,
      error_code: result.errorCode ?? null,
    };
    this.#journal.append(record);
    return record;
  }
}
