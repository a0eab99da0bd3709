import type { UsageRecordInsert } from '../../src/db/schema.ts';
import { newRequestId, newTimeOrderedId } from '../../src/lib/ids.ts';

/** A complete, valid usage record; tests override only the fields they are about. */
export function buildUsageRecord(overrides: Partial<UsageRecordInsert> = {}): UsageRecordInsert {
  const createdAt = overrides.created_at ?? Date.now();
  return {
    id: newTimeOrderedId(createdAt),
    request_id: newRequestId(),
    created_at: createdAt,
    key_id: null,
    model: 'gpt-test',
    provider_id: 'mock',
    deployment_model: 'mock-gpt',
    endpoint: 'chat.completions',
    streamed: 0,
    prompt_tokens: 12,
    completion_tokens: 10,
    cached_tokens: 0,
    cache_write_tokens: 0,
    usage_source: 'upstream',
    cost_micros: 130,
    latency_ms: 5,
    first_token_ms: null,
    status: 200,
    outcome: 'success',
    error_code: null,
    ...overrides,
  };
}

export function buildUsageRecords(count: number, overrides: Partial<UsageRecordInsert> = {}): UsageRecordInsert[] {
  return Array.from({ length: count }, () => buildUsageRecord(overrides));
}
