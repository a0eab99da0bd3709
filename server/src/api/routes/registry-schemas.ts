import Type from 'typebox';
import {
  DeploymentFileSchema,
  FallbacksFileSchema,
  ModelFileSchema,
  PricingFileSchema,
  ProviderFileSchema,
  RetryFileSchema,
  TimeoutsFileSchema,
} from '../../config/file-schema.ts';
import { routingStrategies, type ModelPricing, type UpstreamTimeouts } from '../../config/config.ts';
import type { CredentialView, ModelView, ProviderView } from '../../modules/registry/index.ts';
import { microsPerUnit } from '../../lib/money.ts';

/** Request and response shapes of the registry routes: entries in the YAML file's snake_case shape. */

const nullable = <Schema extends Type.TSchema>(schema: Schema) => Type.Union([schema, Type.Null()]);
const Timestamp = nullable(Type.String({ format: 'date-time' }));
const SourceSchema = Type.Union([Type.Literal('file'), Type.Literal('database')], {
  description: 'file: defined in the YAML configuration, read-only here; database: managed through this API',
});
const ApiKeySchema = Type.String({ minLength: 1, maxLength: 4096, description: 'Write-only; stored encrypted' });
const CredentialIdSchema = ProviderFileSchema.properties.id;
const CredentialWeightSchema = Type.Integer({ minimum: 0, maximum: 1_000_000 });

export const CredentialInputSchema = Type.Object(
  {
    id: Type.Optional(CredentialIdSchema),
    api_key: ApiKeySchema,
    weight: Type.Optional(CredentialWeightSchema),
  },
  { additionalProperties: false },
);
export type CredentialInputBody = Type.Static<typeof CredentialInputSchema>;

export const CredentialPatchSchema = Type.Object(
  { api_key: Type.Optional(ApiKeySchema), weight: Type.Optional(CredentialWeightSchema) },
  { additionalProperties: false, minProperties: 1 },
);
export type CredentialPatchBody = Type.Static<typeof CredentialPatchSchema>;

const providerFields = ProviderFileSchema.properties;

export const ProviderCreateSchema = Type.Object(
  {
    id: providerFields.id,
    type: providerFields.type,
    preset: providerFields.preset,
    base_url: providerFields.base_url,
    headers: providerFields.headers,
    options: providerFields.options,
    max_connections: providerFields.max_connections,
    timeouts: Type.Optional(TimeoutsFileSchema),
    api_key: Type.Optional(Type.String({ ...ApiKeySchema, description: 'One key (credential `default`)' })),
    credentials: Type.Optional(Type.Array(CredentialInputSchema, { minItems: 1, maxItems: 64 })),
  },
  { additionalProperties: false },
);
export type ProviderCreateBody = Type.Static<typeof ProviderCreateSchema>;

const ProviderTypeSchema = Type.Union([
  Type.Literal('openai'),
  Type.Literal('openai-compatible'),
  Type.Literal('azure-openai'),
  Type.Literal('anthropic'),
  Type.Literal('gemini'),
]);
const StringMapSchema = Type.Record(Type.String(), Type.String());

export const ProviderPatchSchema = Type.Object(
  {
    type: Type.Optional(nullable(ProviderTypeSchema)),
    preset: Type.Optional(nullable(Type.String({ minLength: 1 }))),
    base_url: Type.Optional(nullable(Type.String({ pattern: '^https?://' }))),
    headers: Type.Optional(nullable(StringMapSchema)),
    options: Type.Optional(nullable(StringMapSchema)),
    max_connections: Type.Optional(nullable(Type.Integer({ minimum: 1, maximum: 4096 }))),
    timeouts: Type.Optional(nullable(TimeoutsFileSchema)),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ProviderPatchBody = Type.Static<typeof ProviderPatchSchema>;

export { ModelFileSchema as ModelCreateSchema };

export const ModelPatchSchema = Type.Object(
  {
    kind: Type.Optional(nullable(Type.Union([Type.Literal('chat'), Type.Literal('embedding')]))),
    aliases: Type.Optional(nullable(Type.Array(Type.String({ minLength: 1, maxLength: 200 })))),
    pricing: Type.Optional(nullable(PricingFileSchema)),
    deployments: Type.Optional(
      Type.Array(DeploymentFileSchema, { description: 'Replaces every deployment; a model keeps at least one' }),
    ),
    strategy: Type.Optional(nullable(Type.Enum([...routingStrategies]))),
    retry: Type.Optional(nullable(RetryFileSchema)),
    fallbacks: Type.Optional(nullable(FallbacksFileSchema)),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type ModelPatchBody = Type.Static<typeof ModelPatchSchema>;

const OrgIdSchema = Type.String({ minLength: 1, maxLength: 128 });
const ProviderIdSchema = Type.String({ minLength: 1, maxLength: 128 });
const CredentialIdParamSchema = Type.String({ minLength: 1, maxLength: 128 });
const ModelNameSchema = Type.String({ minLength: 1, maxLength: 200 });

/** Path parameters of the registry routes, with `org_id` for an organization's registry. */
export function registryParams(withOrg: boolean) {
  const org: Type.TProperties = withOrg ? { org_id: OrgIdSchema } : {};
  return {
    owner: Type.Object({ ...org }),
    provider: Type.Object({ ...org, provider_id: ProviderIdSchema }),
    credential: Type.Object({ ...org, provider_id: ProviderIdSchema, credential_id: CredentialIdParamSchema }),
    model: Type.Object({ ...org, model_name: ModelNameSchema }),
  };
}

export interface RegistryParams {
  org_id?: string;
  provider_id: string;
  credential_id: string;
  model_name: string;
}

const TimeoutsSchema = Type.Object({
  connect_ms: Type.Integer(),
  first_byte_ms: Type.Integer(),
  total_ms: Type.Integer(),
  stream_idle_ms: Type.Integer(),
});
const PartialTimeoutsSchema = Type.Partial(TimeoutsSchema);
const PriceSchema = Type.Object(
  {
    input: Type.String(),
    output: Type.String(),
    cached_input: Type.String(),
    cache_write: Type.String(),
    per_request: Type.String(),
  },
  { description: 'USD per one million tokens (per_request: USD per request), as decimal strings' },
);

export const CredentialSchema = Type.Object({
  id: Type.String(),
  weight: Type.Integer(),
  hint: nullable(Type.String({ description: "The key's last four characters; the key itself is never returned" })),
});

export const ProviderSchema = Type.Object({
  id: Type.String(),
  type: Type.String(),
  preset: nullable(Type.String()),
  base_url: Type.String(),
  header_names: Type.Array(Type.String(), { description: 'Extra request headers; their values are not shown' }),
  options: StringMapSchema,
  max_connections: Type.Integer(),
  timeouts: TimeoutsSchema,
  credentials: Type.Array(CredentialSchema),
  org_id: nullable(Type.String()),
  source: SourceSchema,
  created_at: Timestamp,
  updated_at: Timestamp,
});

export const ModelSchema = Type.Object({
  name: Type.String(),
  kind: Type.String(),
  aliases: Type.Array(Type.String()),
  pricing: nullable(PriceSchema),
  deployments: Type.Array(
    Type.Object({
      provider: Type.String(),
      model: Type.String(),
      weight: Type.Integer(),
      priority: Type.Integer(),
      pricing: nullable(PriceSchema),
      timeouts: PartialTimeoutsSchema,
    }),
  ),
  strategy: Type.String(),
  retry: Type.Object({
    max_attempts: Type.Integer(),
    backoff_base_ms: Type.Integer(),
    backoff_max_ms: Type.Integer(),
    deadline_ms: Type.Integer(),
  }),
  fallbacks: Type.Object({
    context_length: nullable(Type.String()),
    content_policy: nullable(Type.String()),
    unavailable: Type.Array(Type.String()),
  }),
  org_id: nullable(Type.String()),
  source: SourceSchema,
  warnings: Type.Array(Type.String(), { description: 'For example: no price set, so requests are metered at zero' }),
  created_at: Timestamp,
  updated_at: Timestamp,
});

const isoTime = (time: number | null): string | null => (time === null ? null : new Date(time).toISOString());

export function presentCredential(credential: CredentialView) {
  return { id: credential.id, weight: credential.weight, hint: credential.hint };
}

export function presentProvider(view: ProviderView) {
  const { config } = view;
  return {
    id: config.id,
    type: config.type,
    preset: config.preset ?? null,
    base_url: config.baseUrl,
    header_names: Object.keys(config.headers),
    options: { ...config.options },
    max_connections: config.maxConnections,
    timeouts: presentTimeouts(config.timeouts),
    credentials: view.credentials.map(presentCredential),
    org_id: config.orgId,
    source: config.source,
    created_at: isoTime(view.createdAt),
    updated_at: isoTime(view.updatedAt),
  };
}

export function presentModel(view: ModelView) {
  const { config } = view;
  return {
    name: config.name,
    kind: config.kind,
    aliases: [...config.aliases],
    pricing: presentPricing(config.pricing),
    deployments: config.deployments.map((deployment) => ({
      provider: deployment.providerId,
      model: deployment.upstreamModel,
      weight: deployment.weight,
      priority: deployment.priority,
      pricing: deployment.pricing === undefined ? null : presentPricing(deployment.pricing),
      timeouts: presentTimeouts(deployment.timeouts),
    })),
    strategy: config.strategy,
    retry: {
      max_attempts: config.retry.maxAttempts,
      backoff_base_ms: config.retry.backoffBaseMs,
      backoff_max_ms: config.retry.backoffMaxMs,
      deadline_ms: config.retry.deadlineMs,
    },
    fallbacks: {
      context_length: config.fallbacks.contextLength ?? null,
      content_policy: config.fallbacks.contentPolicy ?? null,
      unavailable: [...config.fallbacks.unavailable],
    },
    org_id: config.orgId,
    source: config.source,
    warnings: [...view.warnings],
    created_at: isoTime(view.createdAt),
    updated_at: isoTime(view.updatedAt),
  };
}

function presentTimeouts(timeouts: Partial<UpstreamTimeouts>) {
  return {
    ...(timeouts.connectMs === undefined ? {} : { connect_ms: timeouts.connectMs }),
    ...(timeouts.firstByteMs === undefined ? {} : { first_byte_ms: timeouts.firstByteMs }),
    ...(timeouts.totalMs === undefined ? {} : { total_ms: timeouts.totalMs }),
    ...(timeouts.streamIdleMs === undefined ? {} : { stream_idle_ms: timeouts.streamIdleMs }),
  } as Type.Static<typeof TimeoutsSchema>;
}

function presentPricing(pricing: ModelPricing) {
  if (!pricing.priced) return null;
  return {
    input: formatMicros(pricing.inputPerMillion),
    output: formatMicros(pricing.outputPerMillion),
    cached_input: formatMicros(pricing.cachedInputPerMillion),
    cache_write: formatMicros(pricing.cacheWritePerMillion),
    per_request: formatMicros(pricing.perRequest),
  };
}

/** Integer micro-units as a plain decimal ("2.5", "0.000075"), exact. */
export function formatMicros(micros: number): string {
  const whole = Math.floor(micros / microsPerUnit);
  const fraction = String(micros % microsPerUnit)
    .padStart(6, '0')
    .replace(/0+$/, '');
  return fraction === '' ? String(whole) : `${whole}.${fraction}`;
}
