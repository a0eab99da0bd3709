import Type from 'typebox';

/** Prices in USD per one million tokens, as decimal strings or numbers ("2.50"); parsed to integer micro-units. */
const Price = Type.Union([Type.String({ pattern: '^\\d+(\\.\\d{1,6})?$' }), Type.Number({ minimum: 0 })]);

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
    /** Connections kept per upstream origin. */
    max_connections: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
    timeout_ms: Type.Optional(Type.Integer({ minimum: 100 })),
  },
  { additionalProperties: false },
);

export const DeploymentFileSchema = Type.Object(
  {
    provider: Type.String({ minLength: 1 }),
    model: Type.String({ minLength: 1 }),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

export const ModelFileSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    kind: Type.Optional(Type.Union([Type.Literal('chat'), Type.Literal('embedding')])),
    aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }))),
    pricing: Type.Optional(
      Type.Object(
        { input: Type.Optional(Price), output: Type.Optional(Price), cached_input: Type.Optional(Price) },
        { additionalProperties: false },
      ),
    ),
    deployments: Type.Array(DeploymentFileSchema, { minItems: 1 }),
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
    identity: Type.Optional(IdentityFileSchema),
  },
  { additionalProperties: false },
);

export type ConfigFile = Type.Static<typeof ConfigFileSchema>;
export type ProviderFile = Type.Static<typeof ProviderFileSchema>;
export type ModelFile = Type.Static<typeof ModelFileSchema>;
export type IdentityFile = Type.Static<typeof IdentityFileSchema>;
