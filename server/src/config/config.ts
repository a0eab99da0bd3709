import type { ProviderType } from '../providers/spec/provider-type.ts';

export type { ProviderType };

/** The typed, frozen configuration every part of the service receives. Built once by loadConfig. */
export interface ProviderConfig {
  readonly id: string;
  readonly type: ProviderType;
  /** A known OpenAI-compatible service (see providers/presets); only with type openai-compatible. */
  readonly preset: string | undefined;
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  /** Adapter-specific settings (e.g. Azure's api_version); adapters read them through ProviderTarget.options. */
  readonly options: Readonly<Record<string, string>>;
  readonly maxConnections: number;
  readonly timeoutMs: number;
}

export interface DeploymentConfig {
  readonly providerId: string;
  readonly upstreamModel: string;
  readonly weight: number;
}

export interface ModelPricing {
  /** Integer micro-units per one million tokens. */
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
  readonly cachedInputPerMillion: number;
}

export interface ModelConfig {
  readonly name: string;
  readonly kind: 'chat' | 'embedding';
  readonly aliases: readonly string[];
  readonly pricing: ModelPricing;
  readonly deployments: readonly DeploymentConfig[];
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
  readonly configFile: string | undefined;
  readonly identity: IdentityConfig;
  readonly sso: SsoConfig;
  readonly operations: OperationsConfig;
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
