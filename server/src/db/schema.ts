import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/**
 * Table types for Kysely. Times are integer epoch milliseconds and money is integer micro-units on both
 * engines (PostgreSQL BIGINT parsed to number, see database.ts), so one set of migrations and queries fits both.
 */
export interface UsersTable {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'member';
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  user_id: string;
  key_hash: string;
  /** The first characters of the key, shown in listings so people can tell keys apart. */
  key_prefix: string;
  /** JSON array of public model names, or null for every model. */
  allowed_models: string | null;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  created_at: number;
}

export interface ProvidersTable {
  id: string;
  type: string;
  base_url: string;
  /** AES-256-GCM sealed credential (lib/secret-box.ts); never plaintext. */
  api_key_sealed: string | null;
  headers: string;
  created_at: number;
  updated_at: number;
}

export interface UsageRecordsTable {
  id: string;
  request_id: string;
  created_at: number;
  key_id: string | null;
  model: string;
  provider_id: string | null;
  deployment_model: string | null;
  endpoint: string;
  streamed: ColumnType<number, number | boolean, number | boolean>;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  /** Where token counts came from: the upstream's usage, or counted by our tokenizer. */
  usage_source: 'upstream' | 'counted' | 'none';
  cost_micros: number;
  latency_ms: number;
  first_token_ms: number | null;
  status: number;
  outcome: 'success' | 'upstream_error' | 'client_disconnected' | 'error';
  error_code: string | null;
}

/** Monotonic counters other instances poll to learn that cached data went stale (e.g. a key was revoked). */
export interface CacheEpochsTable {
  name: string;
  epoch: Generated<number>;
}

export interface DatabaseSchema {
  users: UsersTable;
  api_keys: ApiKeysTable;
  providers: ProvidersTable;
  usage_records: UsageRecordsTable;
  cache_epochs: CacheEpochsTable;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type UsageRecordInsert = Insertable<UsageRecordsTable>;
export type ProviderRow = Selectable<ProvidersTable>;
