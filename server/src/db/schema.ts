import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/**
 * Table types for Kysely. Times are integer epoch milliseconds and money is integer micro-units on both
 * engines (PostgreSQL BIGINT parsed to number, see database.ts), so one set of migrations and queries fits both.
 */
export interface UsersTable {
  id: string;
  email: string;
  name: string;
  /** Platform role: `admin` runs the whole installation; everyone else is `member`. */
  role: 'admin' | 'member';
  /** scrypt hash (lib/password.ts); null for users who only sign in through SSO. */
  password_hash: ColumnType<string | null, string | null | undefined, string | null>;
  email_verified_at: ColumnType<number | null, number | null | undefined, number | null>;
  disabled_at: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: number;
  updated_at: ColumnType<number | null, number | null | undefined, number | null>;
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
  org_id: ColumnType<string | null, string | null | undefined, string | null>;
  team_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON array of scopes (chat, embeddings, models, management:read, management:write); null = gateway scopes. */
  scopes: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON array of IPs/CIDRs the key may be used from; null = anywhere. */
  ip_allowlist: ColumnType<string | null, string | null | undefined, string | null>;
  rpm_limit: ColumnType<number | null, number | null | undefined, number | null>;
  tpm_limit: ColumnType<number | null, number | null | undefined, number | null>;
  budget_micros: ColumnType<number | null, number | null | undefined, number | null>;
  /** Requests the key may have in flight at once; null = no limit of its own. */
  concurrency_limit: ColumnType<number | null, number | null | undefined, number | null>;
  /** The period `budget_micros` applies to: day, week, month (in the organization's time zone) or total. */
  budget_period: ColumnType<string, string | undefined, string>;
  /** The key this one replaced by rotation; the old key stays valid until its expires_at (the grace period). */
  rotated_from: ColumnType<string | null, string | null | undefined, string | null>;
  updated_at: ColumnType<number | null, number | null | undefined, number | null>;
}

/** A provider of the model registry kept in the database (YAML providers are not stored). */
export interface ProvidersTable {
  /** Surrogate key; `id` is unique per owner (the platform, or one organization). */
  pk: string;
  /** The organization that owns it, or null for a platform-wide provider. */
  org_id: string | null;
  id: string;
  /** Null when a preset implies it. */
  type: string | null;
  preset: string | null;
  /** Null: the preset's or the type's well-known endpoint. */
  base_url: string | null;
  /** JSON object of extra request headers. */
  headers: string;
  /** JSON object of adapter options (Azure's api_version). */
  options: string;
  max_connections: number | null;
  /** JSON: the timeouts set (snake_case, as in the file); the rest are the defaults. */
  timeouts: string | null;
  created_at: number;
  updated_at: number;
}

/** One upstream key of a stored provider; several form a credential pool. */
export interface ProviderCredentialsTable {
  pk: string;
  provider_pk: string;
  /** Unique within the provider. */
  id: string;
  /** AES-256-GCM sealed key (lib/secret-box.ts), bound to the owner, provider and credential ids; never plaintext. */
  api_key_sealed: string | null;
  /** The key's last four characters, to tell keys apart; null for short keys. */
  hint: string | null;
  weight: number;
  created_at: number;
  updated_at: number;
}

/** A model of the registry kept in the database; nested settings are JSON in the file's snake_case shape. */
export interface ModelsTable {
  pk: string;
  org_id: string | null;
  name: string;
  kind: string;
  /** JSON array of other names. */
  aliases: string;
  strategy: string | null;
  retry: string | null;
  fallbacks: string | null;
  /** JSON: prices as given (decimal strings); null when the model has no price. */
  pricing: string | null;
  created_at: number;
  updated_at: number;
}

export interface ModelDeploymentsTable {
  pk: string;
  model_pk: string;
  /** Order within the model. */
  position: number;
  provider_id: string;
  upstream_model: string;
  weight: number | null;
  priority: number | null;
  pricing: string | null;
  timeouts: string | null;
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
  /** Prompt tokens written to the provider's cache; optional on insert (journal lines from before 0008 lack it). */
  cache_write_tokens: ColumnType<number, number | undefined, number>;
  /** Where token counts came from: the upstream's usage, or counted by our tokenizer. */
  usage_source: 'upstream' | 'counted' | 'none';
  cost_micros: number;
  latency_ms: number;
  first_token_ms: number | null;
  status: number;
  /** `interrupted`: the process died mid-stream; the record holds what was delivered up to its last checkpoint. */
  outcome: 'success' | 'upstream_error' | 'client_disconnected' | 'error' | 'interrupted';
  error_code: string | null;
}

/** Monotonic counters other instances poll to learn that cached data went stale (e.g. a key was revoked). */
export interface CacheEpochsTable {
  name: string;
  epoch: Generated<number>;
}

export type OrgRole = 'owner' | 'admin' | 'billing' | 'member' | 'viewer';
export type TeamRole = 'admin' | 'member';

export interface OrganizationsTable {
  id: string;
  name: string;
  /** JSON: enterprise settings (default models, allowed providers, retention, SSO, body logging). */
  settings: string;
  /** Soft delete: hidden at once, purged after the retention period. */
  deleted_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface OrgMembersTable {
  org_id: string;
  user_id: string;
  role: OrgRole;
  created_at: number;
}

export interface TeamsTable {
  id: string;
  org_id: string;
  name: string;
  created_at: number;
  updated_at: number;
}

export interface TeamMembersTable {
  team_id: string;
  org_id: string;
  user_id: string;
  role: TeamRole;
  created_at: number;
}

export interface InvitationsTable {
  id: string;
  org_id: string;
  email: string;
  role: OrgRole;
  team_id: string | null;
  /** sha256 of the invitation token sent by link; the token itself is never stored. */
  token_hash: string;
  invited_by: string;
  expires_at: number;
  accepted_at: number | null;
  declined_at: number | null;
  revoked_at: number | null;
  created_at: number;
  /** The email while the invitation is unanswered and unexpired; unique per organization (one pending each). */
  pending_email: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface RefreshTokensTable {
  id: string;
  user_id: string;
  /** Every rotation stays in one family; reuse of a rotated token revokes the whole family. */
  family_id: string;
  token_hash: string;
  expires_at: number;
  revoked_at: number | null;
  replaced_by: string | null;
  user_agent: string | null;
  ip: string | null;
  created_at: number;
}

export interface UserTokensTable {
  id: string;
  user_id: string;
  purpose: 'password_reset' | 'email_verification';
  token_hash: string;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export interface AuditEventsTable {
  id: string;
  org_id: string | null;
  actor_user_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  /** JSON snapshots with secrets removed. */
  before: string | null;
  after: string | null;
  ip: string | null;
  request_id: string | null;
  created_at: number;
}

export interface IdempotencyRecordsTable {
  /** Who sent the key (user or API key id) and the route, so keys never collide across callers. */
  scope: string;
  key: string;
  request_hash: string;
  status: number | null;
  response: string | null;
  created_at: number;
  /** JSON: the permission checks the first request passed, re-run before a replay (see api/idempotency.ts). */
  authorizations: ColumnType<string | null, string | null | undefined, string | null>;
}

/** An identity at an OpenID provider (issuer + subject) linked to a user, so an email change there still maps. */
export interface SsoIdentitiesTable {
  issuer: string;
  subject: string;
  user_id: string;
  /** The email the provider last asserted; the user's own email is not changed by it. */
  email: string;
  created_at: number;
  last_login_at: number;
}

/** Rate and concurrency limits for an organization, team or member; `model` '' = every model (see 0009). */
export interface TrafficLimitsTable {
  id: string;
  org_id: string;
  subject_type: string;
  subject_id: string;
  model: string;
  rpm_limit: number | null;
  tpm_limit: number | null;
  concurrency_limit: number | null;
  created_at: number;
  updated_at: number;
}

/** A spending cap for an organization, team or member over a period. */
export interface BudgetsTable {
  id: string;
  org_id: string;
  subject_type: string;
  subject_id: string;
  amount_micros: number;
  period: string;
  /** JSON array of ascending percentages. */
  alert_thresholds: string;
  created_at: number;
  updated_at: number;
}

/** A budget threshold crossed, once per budget, period and threshold across every instance. */
export interface BudgetAlertsTable {
  id: string;
  org_id: string | null;
  /** `key:<id>` for a key's own budget, else the budget's id. */
  budget_ref: string;
  subject_type: string;
  subject_id: string;
  period_start: number;
  threshold: number;
  amount_micros: number;
  spent_micros: number;
  created_at: number;
}

/** Heartbeats of running instances, so limits can be split between the live ones. */
export interface InstancesTable {
  id: string;
  started_at: number;
  heartbeat_at: number;
}

export interface DatabaseSchema {
  users: UsersTable;
  api_keys: ApiKeysTable;
  providers: ProvidersTable;
  provider_credentials: ProviderCredentialsTable;
  models: ModelsTable;
  model_deployments: ModelDeploymentsTable;
  usage_records: UsageRecordsTable;
  cache_epochs: CacheEpochsTable;
  organizations: OrganizationsTable;
  org_members: OrgMembersTable;
  teams: TeamsTable;
  team_members: TeamMembersTable;
  invitations: InvitationsTable;
  refresh_tokens: RefreshTokensTable;
  user_tokens: UserTokensTable;
  audit_events: AuditEventsTable;
  idempotency_records: IdempotencyRecordsTable;
  sso_identities: SsoIdentitiesTable;
  traffic_limits: TrafficLimitsTable;
  budgets: BudgetsTable;
  budget_alerts: BudgetAlertsTable;
  instances: InstancesTable;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type UsageRecordInsert = Insertable<UsageRecordsTable>;
export type ProviderRow = Selectable<ProvidersTable>;
export type ProviderCredentialRow = Selectable<ProviderCredentialsTable>;
export type ModelRow = Selectable<ModelsTable>;
export type ModelDeploymentRow = Selectable<ModelDeploymentsTable>;
