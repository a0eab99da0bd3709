import type { Insertable } from 'kysely';
import type {
  CredentialConfig,
  ModelConfig,
  ProviderConfig,
  ProviderType,
  RoutingConfig,
} from '../../config/config.ts';
import type { FallbacksFile, ModelFile, PricingFile, RetryFile, TimeoutsFile } from '../../config/file-schema.ts';
import { RegistryValueError, toModelConfig, toTimeouts } from '../../config/registry-config.ts';
import type { DatabaseSchema } from '../../db/schema.ts';
import { AppError } from '../../errors/app-error.ts';
import { defaultBaseUrlByType, findPreset, presetNames } from '../../providers/presets/provider-presets.ts';
import type { StoredModel, StoredProvider } from './registry-repository.ts';

/**
 * Conversions between the registry's three shapes: the API's snake_case entries (a model entry is exactly a YAML model
 * entry), the stored rows, and the runtime `ProviderConfig`/`ModelConfig` the gateway routes with.
 */

/** A provider as the API takes it: a YAML provider entry without environment-variable names (keys come separately). */
export interface ProviderEntry {
  readonly id: string;
  readonly type?: ProviderType | undefined;
  readonly preset?: string | undefined;
  readonly base_url?: string | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly options?: Readonly<Record<string, string>> | undefined;
  readonly max_connections?: number | undefined;
  readonly timeouts?: TimeoutsFile | undefined;
}

const defaultMaxConnections = 256;

/** Headers the HTTP client owns: configuring them would break framing or send the request to another host. */
const reservedHeaders = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'upgrade']);

/** The provider's wire type and effective base URL; 400 naming the field when the entry cannot work. */
export function resolveProviderEntry(entry: ProviderEntry): { type: ProviderType; baseUrl: string } {
  let type: ProviderType;
  let presetBaseUrl: string | undefined;
  if (entry.preset === undefined) {
    if (entry.type === undefined) throw invalid('type', 'is required unless a preset is given');
    type = entry.type;
  } else {
    const preset = findPreset(entry.preset);
    if (!preset) {
      throw invalid('preset', `unknown preset "${entry.preset}" (known presets: ${presetNames.join(', ')})`);
    }
    if (entry.type !== undefined && entry.type !== 'openai-compatible') {
      throw invalid('type', 'must be openai-compatible (or left out) when a preset is given');
    }
    type = 'openai-compatible';
    presetBaseUrl = preset.baseUrl;
  }
  const baseUrl = entry.base_url ?? presetBaseUrl ?? defaultBaseUrlByType[type];
  if (baseUrl === undefined) {
    throw invalid(
      'base_url',
      type === 'azure-openai'
        ? 'is required for azure-openai: https://<resource>.openai.azure.com'
        : `is required for type ${type} without a preset`,
    );
  }
  const reserved = Object.keys(entry.headers ?? {}).find((name) => reservedHeaders.has(name.toLowerCase()));
  if (reserved !== undefined) {
    throw invalid(`headers.${reserved}`, 'is set by the gateway itself and cannot be configured');
  }
  if (type === 'azure-openai' && !entry.options?.api_version) {
    throw invalid('options.api_version', 'is required for azure-openai (for example 2024-10-21)');
  }
  return { type, baseUrl: baseUrl.replace(/\/+$/, '') };
}

/** Whether the preset (if any) refuses requests without a key. */
export function presetNeedsKey(entry: ProviderEntry): boolean {
  return entry.preset !== undefined && findPreset(entry.preset)?.requiresApiKey === true;
}

export function providerEntryOf(row: StoredProvider['row']): ProviderEntry {
  return {
    id: row.id,
    type: (row.type ?? undefined) as ProviderType | undefined,
    preset: row.preset ?? undefined,
    base_url: row.base_url ?? undefined,
    headers: parseJson<Record<string, string>>(row.headers) ?? {},
    options: parseJson<Record<string, string>>(row.options) ?? {},
    max_connections: row.max_connections ?? undefined,
    timeouts: parseJson<TimeoutsFile>(row.timeouts),
  };
}

export function providerRowValues(
  entry: ProviderEntry,
): Omit<Insertable<DatabaseSchema['providers']>, 'pk' | 'org_id' | 'id' | 'created_at' | 'updated_at'> {
  return {
    type: entry.type ?? null,
    preset: entry.preset ?? null,
    base_url: entry.base_url === undefined ? null : entry.base_url.replace(/\/+$/, ''),
    headers: JSON.stringify(entry.headers ?? {}),
    options: JSON.stringify(entry.options ?? {}),
    max_connections: entry.max_connections ?? null,
    timeouts: entry.timeouts === undefined ? null : JSON.stringify(entry.timeouts),
  };
}

/**
 * A stored provider as runtime configuration. `apiKeyOf` unseals a credential (the snapshot) or leaves it out (what
 * validation and listings need); a provider without credentials has one keyless credential, as in the file.
 */
export function toProviderConfig(
  stored: StoredProvider,
  routing: Pick<RoutingConfig, 'timeouts'>,
  apiKeyOf: (credential: StoredProvider['credentials'][number]) => string | undefined,
): ProviderConfig {
  const entry = providerEntryOf(stored.row);
  let resolved: { type: ProviderType; baseUrl: string };
  try {
    resolved = resolveProviderEntry(entry);
  } catch {
    // Stored entries were checked when saved; a preset removed since falls back to what is stored.
    resolved = { type: entry.type ?? 'openai-compatible', baseUrl: entry.base_url ?? '' };
  }
  const credentials: CredentialConfig[] =
    stored.credentials.length === 0
      ? [{ id: 'default', apiKey: undefined, weight: 1 }]
      : stored.credentials.map((credential) => ({
          id: credential.id,
          apiKey: apiKeyOf(credential),
          weight: credential.weight,
        }));
  const timeouts = toTimeouts(entry.timeouts, routing.timeouts);
  return {
    id: stored.row.id,
    type: resolved.type,
    preset: entry.preset,
    baseUrl: resolved.baseUrl,
    credentials,
    headers: entry.headers ?? {},
    options: entry.options ?? {},
    maxConnections: entry.max_connections ?? defaultMaxConnections,
    timeouts,
    orgId: stored.row.org_id,
    source: 'database',
  };
}

/** The stored model back in the file's entry shape, exactly as it was given. */
export function modelEntryOf(stored: StoredModel): ModelFile {
  const { row } = stored;
  return withoutUndefined({
    name: row.name,
    kind: row.kind as ModelFile['kind'],
    aliases: parseJson<string[]>(row.aliases) ?? [],
    pricing: parseJson<PricingFile>(row.pricing),
    deployments: stored.deployments.map((deployment) =>
      withoutUndefined({
        provider: deployment.provider_id,
        model: deployment.upstream_model,
        weight: deployment.weight ?? undefined,
        priority: deployment.priority ?? undefined,
        pricing: parseJson<PricingFile>(deployment.pricing),
        timeouts: parseJson<TimeoutsFile>(deployment.timeouts),
      }),
    ),
    strategy: (row.strategy ?? undefined) as ModelFile['strategy'],
    retry: parseJson<RetryFile>(row.retry),
    fallbacks: parseJson<FallbacksFile>(row.fallbacks),
  });
}

export function modelRowValues(
  entry: ModelFile,
): Omit<Insertable<DatabaseSchema['models']>, 'pk' | 'org_id' | 'created_at' | 'updated_at'> {
  return {
    name: entry.name,
    kind: entry.kind ?? 'chat',
    aliases: JSON.stringify(entry.aliases ?? []),
    strategy: entry.strategy ?? null,
    retry: entry.retry === undefined ? null : JSON.stringify(entry.retry),
    fallbacks: entry.fallbacks === undefined ? null : JSON.stringify(entry.fallbacks),
    pricing: entry.pricing === undefined ? null : JSON.stringify(entry.pricing),
  };
}

export function deploymentRows(
  entry: ModelFile,
  modelPk: string,
  newId: () => string,
): Insertable<DatabaseSchema['model_deployments']>[] {
  return entry.deployments.map((deployment, position) => ({
    pk: newId(),
    model_pk: modelPk,
    position,
    provider_id: deployment.provider,
    upstream_model: deployment.model,
    weight: deployment.weight ?? null,
    priority: deployment.priority ?? null,
    pricing: deployment.pricing === undefined ? null : JSON.stringify(deployment.pricing),
    timeouts: deployment.timeouts === undefined ? null : JSON.stringify(deployment.timeouts),
  }));
}

/** A model entry as runtime configuration; a value that cannot be read (a price with 7 decimals) is a 400 naming it. */
export function toStoredModelConfig(
  entry: ModelFile,
  orgId: string | null,
  routing: Pick<RoutingConfig, 'retry'>,
): ModelConfig {
  try {
    return toModelConfig(entry, '', routing, { orgId, source: 'database' });
  } catch (error) {
    if (error instanceof RegistryValueError) throw invalid(error.path.replace(/^\./, ''), error.detail);
    throw error;
  }
}

function invalid(param: string, message: string): AppError {
  return new AppError('invalid_request', `${param} ${message}`, { param });
}

function parseJson<T>(text: string | null): T | undefined {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, child]) => child !== undefined)) as T;
}
