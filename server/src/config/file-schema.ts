import Type from 'typebox';

/** Prices in USD per one million tokens, as decimal strings or numbers ("2.50"); parsed to integer micro-units. */
const Price = Type.Union([Type.String({ pattern: '^\\d+(\\.\\d{1,6})?$' }), Type.Number({ minimum: 0 })]);

const Milliseconds = Type.Integer({ minimum: 1, maximum: 86_400_000 });

export const TimeoutsFileSchema = Type.Object(
  {
    connect_ms: Type.Optional(Milliseconds),
    first_byte_ms: Type.Optional(Milliseconds),
    total_ms: Type.Optional(Milliseconds),
    stream_idle_ms: Type.Optional(Milliseconds),
  },
  { additionalProperties: false },
);

export const CredentialFileSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
    api_key_env: Type.String({ minLength: 1 }),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

export const PricingFileSchema = Type.Object(
  {
    input: Type.Optional(Price),
    output: Type.Optional(Price),
    cached_input: Type.Optional(Price),
    cache_write: Type.Optional(Price),
    /** USD per successful request. */
    per_request: Type.Optional(Price),
  },
  { additionalProperties: false },
);

export const RetryFileSchema = Type.Object(
  {
    max_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 })),
    backoff_base_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
    backoff_max_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    deadline_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000 })),
    /** Retries over the last 10 s may be at most this share of requests (0 to 10)... */
    budget_ratio: Type.Optional(Type.Number({ minimum: 0, maximum: 10 })),
    /** ...or this many per second, whichever allows more. */
    budget_min_per_second: Type.Optional(Type.Number({ minimum: 0, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

export const FallbacksFileSchema = Type.Object(
  {
    context_length: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    content_policy: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    unavailable: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 8 })),
  },
  { additionalProperties: false },
);

export const BreakerFileSchema = Type.Object(
  {
    consecutive_failures: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    failure_rate: Type.Optional(Type.Number({ minimum: 0.01, maximum: 1 })),
    window_ms: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
    minimum_requests: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    open_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
    half_open_probes: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  { additionalProperties: false },
);

export const ProviderFileSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
    /** Optional when `preset` is given (a preset implies openai-compatible). */
    type: Type.Optional(
      Type.Union([
        Type.Literal('openai'),
        Type.Literal('openai-compatible'),
        Type.Literal('azure-openai'),
        Type.Literal('anthropic'),
        Type.Literal('gemini'),
      ]),
    ),
    /** A known OpenAI-compatible service (deepseek, qwen, ollama, ...): default base URL and quirks. */
    preset: Type.Optional(Type.String({ minLength: 1 })),
    /** Optional when the preset or the type has a well-known endpoint. */
    base_url: Type.Optional(Type.String({ pattern: '^https?://' })),
    /** Name of the environment variable holding the credential; the secret itself never sits in the file. */
    api_key_env: Type.Optional(Type.String({ minLength: 1 })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    options: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** A credential pool: several upstream keys, rotated by weight, each with its own breaker. */
    credentials: Type.Optional(Type.Array(CredentialFileSchema, { minItems: 1, maxItems: 64 })),
    /** Connections kept per upstream origin. */
    max_connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100 })),
    timeouts: Type.Optional(TimeoutsFileSchema),
  },
  { additionalProperties: false },
);

export const DeploymentFileSchema = Type.Object(
  {
    provider: Type.String({ minLength: 1 }),
    model: Type.String({ minLength: 1 }),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    /** Tier, 1 first: a higher tier takes traffic only while every deployment of the lower ones is unavailable. */
    priority: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    pricing: Type.Optional(PricingFileSchema),
    timeouts: Type.Optional(TimeoutsFileSchema),
  },
  { additionalProperties: false },
);

export const ModelFileSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    kind: Type.Optional(Type.Union([Type.Literal('chat'), Type.Literal('embedding')])),
    aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }))),
    pricing: Type.Optional(PricingFileSchema),
    deployments: Type.Array(DeploymentFileSchema, { minItems: 1 }),
    strategy: Type.Optional(
      Type.Union([
        Type.Literal('weighted'),
        Type.Literal('least-in-flight'),
        Type.Literal('lowest-latency'),
        Type.Literal('lowest-cost'),
      ]),
    ),
    retry: Type.Optional(RetryFileSchema),
    fallbacks: Type.Optional(FallbacksFileSchema),
  },
  { additionalProperties: false },
);

// --- Identity (registration, sign-in, email) -------------------------------------------------------------------
/** The SMTP URL holds a password, so it is read from AIHUB_SMTP_URL only, never from the file. */
export const IdentityFileSchema = Type.Object(
  {
    registration: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('invite'), Type.Literal('closed')])),
    public_url: Type.Optional(Type.String({ pattern: '^https?://' })),
    email_from: Type.Optional(Type.String({ minLength: 3 })),
    require_email_verification: Type.Optional(Type.Boolean()),
    access_token_ttl_seconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 86_400 })),
    refresh_token_ttl_seconds: Type.Optional(Type.Integer({ minimum: 300, maximum: 31_536_000 })),
  },
  { additionalProperties: false },
);
// -----------------------------------------------------------------------------------------------------------------

export const ConfigFileSchema = Type.Object(
  {
    server: Type.Optional(
      Type.Object(
        {
          host: Type.Optional(Type.String({ minLength: 1 })),
          port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
          body_limit_bytes: Type.Optional(Type.Integer({ minimum: 1024 })),
          /** false, a hop count, or proxy addresses/CIDR ranges allowed to set X-Forwarded-For. */
          trust_proxy: Type.Optional(
            Type.Union([Type.Literal(false), Type.Integer({ minimum: 1, maximum: 64 }), Type.Array(Type.String())]),
          ),
          /** Off turns the built-in demo provider off even while no provider is configured. */
          demo_provider: Type.Optional(Type.Boolean()),
          shutdown_drain_delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
          shutdown_timeout_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000 })),
          purge_interval_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800_000 })),
        },
        { additionalProperties: false },
      ),
    ),
    providers: Type.Optional(Type.Array(ProviderFileSchema)),
    models: Type.Optional(Type.Array(ModelFileSchema)),
    routing: Type.Optional(
      Type.Object(
        {
          breaker: Type.Optional(BreakerFileSchema),
          /** Skip a credential its upstream reports out of requests or tokens until the reset it gives (default on). */
          respect_upstream_limits: Type.Optional(Type.Boolean()),
          retry: Type.Optional(RetryFileSchema),
          timeouts: Type.Optional(TimeoutsFileSchema),
        },
        { additionalProperties: false },
      ),
    ),
    identity: Type.Optional(IdentityFileSchema),
  },
  { additionalProperties: false },
);

export type ConfigFile = Type.Static<typeof ConfigFileSchema>;
export type ProviderFile = Type.Static<typeof ProviderFileSchema>;
export type ModelFile = Type.Static<typeof ModelFileSchema>;
export type PricingFile = Type.Static<typeof PricingFileSchema>;
export type TimeoutsFile = Type.Static<typeof TimeoutsFileSchema>;
export type RetryFile = Type.Static<typeof RetryFileSchema>;
export type BreakerFile = Type.Static<typeof BreakerFileSchema>;
export type FallbacksFile = Type.Static<typeof FallbacksFileSchema>;
export type IdentityFile = Type.Static<typeof IdentityFileSchema>;
