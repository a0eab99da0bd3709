import type { ProviderType } from '../providers/spec/provider-type.ts';

export type { ProviderType };

/** The typed, frozen configuration every part of the service receives. Built once by loadConfig. */

/**
 * Deadlines for one upstream call. `firstByteMs` runs from sending the request to the response headers; `streamIdleMs`
 * is the longest silence between two body chunks; `totalMs` bounds the whole call, body included.
 */
export interface UpstreamTimeouts {
  readonly connectMs: number;
  readonly firstByteMs: number;
  readonly totalMs: number;
  readonly streamIdleMs: number;
}

/** One upstream credential of a provider. A provider with several is a credential pool, rotated by weight. */
export interface CredentialConfig {
  /** Stable within the provider (`default` for the single `api_key_env` key); names the credential's breaker. */
  readonly id: string;
  readonly apiKey: string | undefined;
  readonly weight: number;
}

export interface ProviderConfig {
  readonly id: string;
  readonly type: ProviderType;
  /** A known OpenAI-compatible service (see providers/presets); only with type openai-compatible. */
  readonly preset: string | undefined;
  readonly baseUrl: string;
  /** At least one entry; a provider without a key has one credential whose apiKey is undefined. */
  readonly credentials: readonly CredentialConfig[];
  readonly headers: Readonly<Record<string, string>>;
  /** Adapter-specific settings (e.g. Azure's api_version); adapters read them through ProviderTarget.options. */
  readonly options: Readonly<Record<string, string>>;
  readonly maxConnections: number;
  readonly timeouts: UpstreamTimeouts;
  /** The organization that owns it (visible only to its keys), or null for a platform-wide provider. */
  readonly orgId: string | null;
  /** Where it was defined: the YAML file wins over the database for the same id, and cannot be edited at run time. */
  readonly source: RegistrySource;
}

export type RegistrySource = 'file' | 'database';

export interface DeploymentConfig {
  readonly providerId: string;
  readonly upstreamModel: string;
  readonly weight: number;
  /** Tier: traffic goes to the lowest tier that has an available deployment (default 1). */
  readonly priority: number;
  /** What this deployment costs; undefined means the model's pricing. Providers charge differently for one model. */
  readonly pricing: ModelPricing | undefined;
  /** Overrides of the provider's timeouts for this deployment. */
  readonly timeouts: Partial<UpstreamTimeouts>;
}

export interface ModelPricing {
  /** Integer micro-units per one million tokens. */
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
  /** Prompt tokens read from the provider's cache. */
  readonly cachedInputPerMillion: number;
  /** Prompt tokens written to the provider's cache (Anthropic `cache_creation_input_tokens`). */
  readonly cacheWritePerMillion: number;
  /** A fixed fee per successful request, in micro-units. */
  readonly perRequest: number;
  /** False when no price was given at all: such a model is metered at zero cost and flagged at start and in the API. */
  readonly priced: boolean;
}

/** How a model spreads traffic over the deployments of its best available tier. */
export const routingStrategies = ['weighted', 'least-in-flight', 'lowest-latency', 'lowest-cost'] as const;
export type RoutingStrategy = (typeof routingStrategies)[number];

export interface RetryPolicy {
  /** Attempts in all, the first included, across deployments and fallback models. */
  readonly maxAttempts: number;
  /** Exponential backoff between attempts: base × 2^(n-1) with full jitter, capped; `Retry-After` is honoured. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Deadline for the whole request, every attempt and backoff included. */
  readonly deadlineMs: number;
  /**
   * The model's retry budget: over the last ten seconds, retries (every attempt after a request's first, fallbacks
   * included) may be at most this share of the model's requests, or `budgetMinPerSecond` per second if that is more.
   * Past it, a failed attempt is answered as it is: a failing upstream is not hit with a storm of retries.
   */
  readonly budgetRatio: number;
  readonly budgetMinPerSecond: number;
}

/** Other models to try by failure class, after this model's deployments failed or could not take the request. */
export interface FallbackConfig {
  /** The request is too long for this model: a larger-context model. */
  readonly contextLength: string | undefined;
  /** The provider refused the content: a configured model. */
  readonly contentPolicy: string | undefined;
  /** Every deployment is unavailable (breakers open, 5xx, timeouts): these models, in order. */
  readonly unavailable: readonly string[];
}

export interface ModelConfig {
  readonly name: string;
  readonly kind: 'chat' | 'embedding';
  readonly aliases: readonly string[];
  readonly pricing: ModelPricing;
  readonly deployments: readonly DeploymentConfig[];
  readonly strategy: RoutingStrategy;
  readonly retry: RetryPolicy;
  readonly fallbacks: FallbackConfig;
  /** The organization that owns it (visible only to its keys, ahead of a platform model of the same name), or null. */
  readonly orgId: string | null;
  readonly source: RegistrySource;
}

/** Circuit breaker settings, one breaker per deployment credential. */
export interface BreakerConfig {
  /** Opens after this many failures in a row. */
  readonly consecutiveFailures: number;
  /** Or when the failure rate over the window reaches this (0..1) with at least `minimumRequests` calls in it. */
  readonly failureRate: number;
  readonly windowMs: number;
  readonly minimumRequests: number;
  /** How long it stays open before letting probe requests through (half-open). */
  readonly openMs: number;
  /** Probe requests allowed at once while half-open; one success closes the breaker. */
  readonly halfOpenProbes: number;
}

export interface RoutingConfig {
  readonly breaker: BreakerConfig;
  /** Defaults for models that set none. */
  readonly retry: RetryPolicy;
  readonly timeouts: UpstreamTimeouts;
  /**
   * Skip a credential while its upstream says it has no requests or tokens left (`x-ratelimit-*`, a 429's
   * `Retry-After`) until the reset it gives. On by default.
   */
  readonly respectUpstreamLimits: boolean;
  /** How often each instance checks whether the registry changed elsewhere (AIHUB_REGISTRY_POLL_MS). */
  readonly registryPollMs: number;
}

export interface MeteringConfig {
  /** Longest a usage record waits in memory before its batch is written. */
  readonly flushIntervalMs: number;
  readonly maxBatchSize: number;
  /**
   * Unwritten usage records kept in memory while the database is away (AIHUB_METER_MAX_PENDING); past it, records
   * stay only in the journal on disk and are read back from there when the database returns. Nothing is dropped.
   */
  readonly maxPendingInMemory?: number;
  /** Longest pause between retries of a failed usage batch (AIHUB_METER_RETRY_MAX_MS); retries back off up to it. */
  readonly retryMaxMs?: number;
}

/** PostgreSQL deadlines, so an unreachable database becomes a prompt 503 instead of a hang. */
export interface DatabaseTimeoutsConfig {
  /** Longest wait for a connection: connect, startup, or a free slot in the pool (AIHUB_DB_CONNECT_TIMEOUT_MS). */
  readonly connectTimeoutMs: number;
  /** Statement timeout; the client gives up 1 s after it if the server answers nothing (AIHUB_DB_QUERY_TIMEOUT_MS). */
  readonly queryTimeoutMs: number;
}

// --- Identity (registration, sign-in, email) -------------------------------------------------------------------

export type RegistrationMode = 'open' | 'invite' | 'closed';

export interface IdentityConfig {
  /** Who may create an account: anyone, only holders of an invitation, or nobody (AIHUB_REGISTRATION). */
  readonly registration: RegistrationMode;
  /** Base for links in emails (password reset, verification), without a trailing slash (AIHUB_PUBLIC_URL). */
  readonly publicUrl: string;
  /** smtp:// or smtps:// URL; undefined means emails are written to the log (development) (AIHUB_SMTP_URL). */
  readonly smtpUrl: string | undefined;
  readonly emailFrom: string;
  /** Refuse sign-in until the address is verified (AIHUB_REQUIRE_EMAIL_VERIFICATION). */
  readonly requireEmailVerification: boolean;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  /** log2 of scrypt's N for new password hashes (AIHUB_PASSWORD_HASH_COST); tests lower it. */
  readonly passwordHashCost: number;
}

// -----------------------------------------------------------------------------------------------------------------

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly bodyLimitBytes: number;
  readonly dataDir: string;
  /** PostgreSQL URL; undefined means the embedded SQLite file under dataDir. */
  readonly databaseUrl: string | undefined;
  readonly secretKey: Buffer;
  readonly logLevel: string;
  readonly bootstrapKey: string | undefined;
  /** How often each instance checks whether keys were revoked elsewhere. */
  readonly keyRevocationPollMs: number;
  /** How long an Idempotency-Key answers retries (AIHUB_IDEMPOTENCY_TTL_SECONDS); undefined means 24 hours. */
  readonly idempotencyTtlSeconds?: number | undefined;
  readonly metering: MeteringConfig;
  readonly databaseTimeouts: DatabaseTimeoutsConfig;
  readonly providers: readonly ProviderConfig[];
  readonly models: readonly ModelConfig[];
  readonly routing: RoutingConfig;
  readonly traffic: TrafficConfig;
  readonly configFile: string | undefined;
  readonly identity: IdentityConfig;
  readonly sso: SsoConfig;
  readonly operations: OperationsConfig;
}

// --- Traffic control (rate limits, concurrency, budgets) -------------------------------------------------------------

export interface TrafficConfig {
  /**
   * Output tokens reserved against budgets and token limits for a request that does not say `max_tokens`
   * (AIHUB_TRAFFIC_DEFAULT_MAX_TOKENS, 4096).
   */
  readonly defaultMaxTokens: number;
  /**
   * How long a concurrency slot or budget reservation lives without being renewed (AIHUB_TRAFFIC_LEASE_MS, 60 s):
   * running requests renew theirs every third of it, so only a crashed instance's lapse.
   */
  readonly leaseMs: number;
  /** How often each instance checks whether limits or budgets changed elsewhere (AIHUB_TRAFFIC_POLL_MS, 1 s). */
  readonly pollMs: number;
  /**
   * How often each instance records that it is alive (AIHUB_INSTANCE_HEARTBEAT_MS, 5 s); the count of live instances
   * divides limits while Redis is unreachable.
   */
  readonly heartbeatMs: number;
}

// --- Operations (first run, proxies, shutdown, housekeeping) --------------------------------------------------------

/**
 * Which peers may set X-Forwarded-For: `false` (none, the default), a hop count, or proxy addresses and CIDR ranges
 * (also `loopback`, `linklocal`, `uniquelocal`). Passed to Fastify's `trustProxy` (AIHUB_TRUST_PROXY).
 */
export type TrustProxySetting = false | number | readonly string[];

export interface OperationsConfig {
  /**
   * Serve the built-in demo provider (the mock upstream on a loopback port, model `demo`). On only while no provider
   * is configured and AIHUB_DEMO_PROVIDER is not false.
   */
  readonly demoProvider: boolean;
  readonly trustProxy: TrustProxySetting;
  /** After SIGTERM, readiness answers 503 this long before the listener closes, so load balancers drain first. */
  readonly shutdownDrainDelayMs: number;
  /** Longest in-flight requests and streams may run after the listener closed; then they are cut. */
  readonly shutdownTimeoutMs: number;
  /** How often `serve` purges organizations deleted longer ago than their retention period; 0 turns it off. */
  readonly purgeIntervalMs: number;
  /** Redis, when the installation has one (REDIS_URL); `aihub doctor` checks it answers. */
  readonly redisUrl: string | undefined;
}

/** Operator-level SSO switches (never per organization: an organization admin must not be able to relax them). */
export interface SsoConfig {
  /** Allow `http://` issuers on loopback hosts (tests, local development). Off by default. */
  readonly allowInsecureLoopback: boolean;
}
