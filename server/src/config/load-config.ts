import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import path from 'node:path';
import Value from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { parseSecretKey } from '../lib/secret-box.ts';
import {
  defaultBaseUrlByType,
  findPreset,
  presetNames,
  type ProviderPreset,
} from '../providers/presets/provider-presets.ts';
import type {
  Config,
  CredentialConfig,
  IdentityConfig,
  ModelConfig,
  OperationsConfig,
  ProviderConfig,
  ProviderType,
  RegistrationMode,
  RoutingConfig,
  TrafficConfig,
  TrustProxySetting,
  UpstreamTimeouts,
} from './config.ts';
import {
  defaultRetryPolicy,
  defaultTimeouts,
  findRegistryProblems,
  RegistryValueError,
  toBreaker,
  toModelConfig,
  toRetryPolicy,
  toTimeouts,
} from './registry-config.ts';
import {
  ConfigFileSchema,
  type ConfigFile,
  type IdentityFile,
  type ModelFile,
  type ProviderFile,
} from './file-schema.ts';

/** A configuration problem, always naming where it is: an environment variable or a path inside the file. */
export class ConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'ConfigError';
    this.field = field;
  }
}

type Environment = Readonly<Record<string, string | undefined>>;

export interface LoadConfigOptions {
  environment?: Environment;
  /** Overrides applied after env and file, for tests and the CLI. */
  overrides?: Partial<Omit<Config, 'providers' | 'models' | 'routing' | 'identity' | 'operations' | 'traffic'>> & {
    file?: unknown;
    identity?: Partial<IdentityConfig>;
    operations?: Partial<OperationsConfig>;
    traffic?: Partial<TrafficConfig>;
  };
  /**
   * Generate and keep a secret key under dataDir when none is given. Default true; instances sharing a PostgreSQL
   * database must share one key, so cluster deployments set AIHUB_SECRET_KEY.
   */
  generateSecretKey?: boolean;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const environment = options.environment ?? process.env;
  const overrides = options.overrides ?? {};
  const configFilePath = environment.AIHUB_CONFIG;
  const file =
    overrides.file !== undefined
      ? validateConfigFile(overrides.file)
      : configFilePath
        ? readConfigFile(configFilePath)
        : {};

  const dataDir = path.resolve(overrides.dataDir ?? environment.AIHUB_DATA_DIR ?? './data');
  const databaseUrl = overrides.databaseUrl ?? emptyToUndefined(environment.DATABASE_URL);
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
  }

  const routing = readRoutingConfig(environment, file.routing);
  const providers = (file.providers ?? []).map((provider, index) =>
    toProviderConfig(provider, index, environment, routing.timeouts),
  );
  const models = toModelConfigs(file.models ?? [], providers, routing);

  const host = overrides.host ?? environment.AIHUB_HOST ?? file.server?.host ?? '127.0.0.1';
  const port = overrides.port ?? readInteger(environment, 'AIHUB_PORT', 0, 65535) ?? file.server?.port ?? 8080;
  const config: Config = {
    host,
    port,
    bodyLimitBytes:
      overrides.bodyLimitBytes ??
      readInteger(environment, 'AIHUB_BODY_LIMIT_BYTES', 1024, 1 << 30) ??
      file.server?.body_limit_bytes ??
      16 * 1024 * 1024,
    dataDir,
    databaseUrl,
    secretKey: overrides.secretKey ?? readSecretKey(environment, dataDir, options.generateSecretKey !== false),
    logLevel: overrides.logLevel ?? environment.AIHUB_LOG_LEVEL ?? 'info',
    bootstrapKey: overrides.bootstrapKey ?? emptyToUndefined(environment.AIHUB_BOOTSTRAP_KEY),
    keyRevocationPollMs:
      overrides.keyRevocationPollMs ?? readInteger(environment, 'AIHUB_KEY_REVOCATION_POLL_MS', 50, 600_000) ?? 1000,
    idempotencyTtlSeconds:
      overrides.idempotencyTtlSeconds ?? readInteger(environment, 'AIHUB_IDEMPOTENCY_TTL_SECONDS', 60, 30 * 86_400),
    metering: overrides.metering ?? {
      flushIntervalMs: readInteger(environment, 'AIHUB_METER_FLUSH_MS', 10, 60_000) ?? 250,
      maxBatchSize: readInteger(environment, 'AIHUB_METER_BATCH', 1, 100_000) ?? 1000,
      maxPendingInMemory: readInteger(environment, 'AIHUB_METER_MAX_PENDING', 1000, 10_000_000) ?? 50_000,
      retryMaxMs: readInteger(environment, 'AIHUB_METER_RETRY_MAX_MS', 100, 600_000) ?? 5000,
    },
    databaseTimeouts: overrides.databaseTimeouts ?? {
      connectTimeoutMs: readInteger(environment, 'AIHUB_DB_CONNECT_TIMEOUT_MS', 100, 600_000) ?? 2000,
      queryTimeoutMs: readInteger(environment, 'AIHUB_DB_QUERY_TIMEOUT_MS', 100, 3_600_000) ?? 5000,
    },
    providers,
    models,
    routing,
    traffic: { ...readTrafficConfig(environment), ...overrides.traffic },
    configFile: overrides.configFile ?? configFilePath,
    identity: readIdentityConfig(environment, file.identity ?? {}, { host, port }, overrides.identity ?? {}),
    sso: overrides.sso ?? {
      allowInsecureLoopback: readBoolean(environment, 'AIHUB_SSO_ALLOW_INSECURE_LOOPBACK') ?? false,
    },
    operations: {
      ...readOperationsConfig(environment, file.server ?? {}, providers.length),
      ...overrides.operations,
    },
  };
  return deepFreeze(config);
}

// --- Operations (first run, proxies, shutdown, housekeeping) --------------------------------------------------------

function readOperationsConfig(
  environment: Environment,
  server: NonNullable<ConfigFile['server']>,
  providerCount: number,
): OperationsConfig {
  const demoSwitch = readBoolean(environment, 'AIHUB_DEMO_PROVIDER') ?? server.demo_provider ?? true;
  return {
    demoProvider: demoSwitch && providerCount === 0,
    trustProxy: readTrustProxy(environment) ?? toTrustProxy(server.trust_proxy, 'server.trust_proxy') ?? false,
    shutdownDrainDelayMs:
      readInteger(environment, 'AIHUB_SHUTDOWN_DRAIN_DELAY_MS', 0, 600_000) ?? server.shutdown_drain_delay_ms ?? 0,
    shutdownTimeoutMs:
      readInteger(environment, 'AIHUB_SHUTDOWN_TIMEOUT_MS', 0, 3_600_000) ?? server.shutdown_timeout_ms ?? 30_000,
    purgeIntervalMs:
      readInteger(environment, 'AIHUB_PURGE_INTERVAL_MS', 0, 604_800_000) ?? server.purge_interval_ms ?? 3_600_000,
    redisUrl: readUrl(environment, 'REDIS_URL', ['redis:', 'rediss:']),
  };
}

/** `false`/`off`, a hop count (`1`), or a comma-separated list of proxy addresses and CIDR ranges. */
function readTrustProxy(environment: Environment): TrustProxySetting | undefined {
  const text = emptyToUndefined(environment.AIHUB_TRUST_PROXY)?.trim();
  if (text === undefined) return undefined;
  if (['false', 'off', 'no', '0'].includes(text.toLowerCase())) return false;
  if (/^\d+$/.test(text)) return toTrustProxy(Number(text), 'AIHUB_TRUST_PROXY');
  return toTrustProxy(
    text.split(',').map((entry) => entry.trim()),
    'AIHUB_TRUST_PROXY',
  );
}

const namedProxyRanges = new Set(['loopback', 'linklocal', 'uniquelocal']);

function toTrustProxy(value: false | number | string[] | undefined, field: string): TrustProxySetting | undefined {
  if (value === undefined || value === false) return value;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 1 || value > 64) {
      throw new ConfigError(field, 'a hop count must be an integer between 1 and 64');
    }
    return value;
  }
  if (value.length === 0) throw new ConfigError(field, 'list at least one proxy address or CIDR range');
  for (const entry of value) {
    if (!isProxyAddress(entry)) {
      throw new ConfigError(
        field,
        `"${entry}" is not an IP address, a CIDR range or one of ${[...namedProxyRanges].join(', ')}`,
      );
    }
  }
  return value;
}

function isProxyAddress(entry: string): boolean {
  if (namedProxyRanges.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d+$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}

// --- Identity (registration, sign-in, email) -------------------------------------------------------------------

const registrationModes: readonly RegistrationMode[] = ['open', 'invite', 'closed'];

function readIdentityConfig(
  environment: Environment,
  file: IdentityFile,
  listen: { host: string; port: number },
  overrides: Partial<IdentityConfig>,
): IdentityConfig {
  const registrationText = emptyToUndefined(environment.AIHUB_REGISTRATION);
  if (registrationText !== undefined && !registrationModes.includes(registrationText as RegistrationMode)) {
    throw new ConfigError('AIHUB_REGISTRATION', `must be one of ${registrationModes.join(', ')}`);
  }
  const publicUrl = (
    overrides.publicUrl ??
    readUrl(environment, 'AIHUB_PUBLIC_URL', ['http:', 'https:']) ??
    file.public_url ??
    defaultPublicUrl(listen)
  ).replace(/\/+$/, '');
  return {
    registration:
      overrides.registration ?? (registrationText as RegistrationMode | undefined) ?? file.registration ?? 'invite',
    publicUrl,
    smtpUrl: overrides.smtpUrl ?? readUrl(environment, 'AIHUB_SMTP_URL', ['smtp:', 'smtps:']),
    emailFrom:
      overrides.emailFrom ??
      emptyToUndefined(environment.AIHUB_EMAIL_FROM) ??
      file.email_from ??
      `AI Hub <no-reply@${new URL(publicUrl).hostname}>`,
    requireEmailVerification:
      overrides.requireEmailVerification ??
      readBoolean(environment, 'AIHUB_REQUIRE_EMAIL_VERIFICATION') ??
      file.require_email_verification ??
      false,
    accessTokenTtlSeconds:
      overrides.accessTokenTtlSeconds ??
      readInteger(environment, 'AIHUB_ACCESS_TOKEN_TTL_SECONDS', 60, 86_400) ??
      file.access_token_ttl_seconds ??
      15 * 60,
    refreshTokenTtlSeconds:
      overrides.refreshTokenTtlSeconds ??
      readInteger(environment, 'AIHUB_REFRESH_TOKEN_TTL_SECONDS', 300, 31_536_000) ??
      file.refresh_token_ttl_seconds ??
      30 * 86_400,
    // Below 14 is too cheap for production; tests lower it through overrides only.
    passwordHashCost: overrides.passwordHashCost ?? readInteger(environment, 'AIHUB_PASSWORD_HASH_COST', 14, 20) ?? 15,
  };
}

/** Unspecified listen addresses are not reachable by a browser, so links point at localhost instead. */
function defaultPublicUrl({ host, port }: { host: string; port: number }): string {
  const reachable = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

function readUrl(environment: Environment, name: string, protocols: readonly string[]): string | undefined {
  const text = emptyToUndefined(environment[name]);
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((protocol) => `${protocol}//`).join(' or ')}`);
  }
  return text;
}

function readBoolean(environment: Environment, name: string): boolean | undefined {
  const text = emptyToUndefined(environment[name])?.trim().toLowerCase();
  if (text === undefined) return undefined;
  if (['true', '1', 'yes'].includes(text)) return true;
  if (['false', '0', 'no'].includes(text)) return false;
  throw new ConfigError(name, 'must be true or false');
}

/** For CLI options that name an environment variable holding a secret (`--password-env`). */
export function readSecretFromEnvironment(name: string, environment: Environment = process.env): string | undefined {
  return environment[name];
}

// -----------------------------------------------------------------------------------------------------------------

function readConfigFile(filePath: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new ConfigError('AIHUB_CONFIG', `cannot read ${filePath}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError(filePath, `not valid YAML: ${(error as Error).message}`);
  }
  return validateConfigFile(parsed, filePath);
}

/** Validates a parsed file and reports the first bad field as a readable path (providers[0].base_url). */
export function validateConfigFile(parsed: unknown, source = 'config'): ConfigFile {
  const firstError = Value.Errors(ConfigFileSchema, parsed).find((error) => error.keyword !== 'boolean');
  if (firstError) {
    const unknownKeys = (firstError.params as { additionalProperties?: string[] }).additionalProperties;
    const field =
      toDottedPath(firstError.instancePath) +
      (unknownKeys ? `${firstError.instancePath ? '.' : ''}${unknownKeys.join(',')}` : '');
    const message = unknownKeys ? 'unknown field' : firstError.message;
    throw new ConfigError(`${source}: ${field || '(root)'}`, message);
  }
  return parsed as ConfigFile;
}

function toDottedPath(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((segment, index) => (/^\d+$/.test(segment) ? `[${segment}]` : index === 0 ? segment : `.${segment}`))
    .join('');
}

function toProviderConfig(
  provider: ProviderFile,
  index: number,
  environment: Environment,
  timeoutDefaults: UpstreamTimeouts,
): ProviderConfig {
  const at = `providers[${index}]`;
  const { type, preset } = resolveProviderKind(provider, at);
  const options = provider.options ?? {};
  const baseUrl = provider.base_url ?? preset?.baseUrl ?? defaultBaseUrlByType[type];
  if (baseUrl === undefined) {
    throw new ConfigError(
      `${at}.base_url`,
      type === 'azure-openai'
        ? 'is required for azure-openai: https://<resource>.openai.azure.com'
        : `is required for type ${type} without a preset (known presets: ${presetNames.join(', ')})`,
    );
  }
  if (type === 'azure-openai' && !options.api_version) {
    throw new ConfigError(`${at}.options.api_version`, 'is required for azure-openai (for example 2024-10-21)');
  }
  if (provider.api_key_env !== undefined && provider.credentials !== undefined) {
    throw new ConfigError(`${at}.credentials`, 'give either api_key_env or credentials, not both');
  }
  if (preset?.requiresApiKey && !provider.api_key_env && !provider.credentials) {
    throw new ConfigError(
      `${at}.api_key_env`,
      `preset ${provider.preset} needs an API key: name the environment variable that holds it`,
    );
  }
  const credentials = readCredentials(provider, at, environment);
  // The single older `timeout_ms` bounded the first byte and each stream silence; explicit timeouts override it.
  const base =
    provider.timeout_ms === undefined
      ? timeoutDefaults
      : { ...timeoutDefaults, firstByteMs: provider.timeout_ms, streamIdleMs: provider.timeout_ms };
  const timeouts = toTimeouts(provider.timeouts, base);
  return {
    id: provider.id,
    type,
    preset: provider.preset,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    credentials,
    headers: provider.headers ?? {},
    options,
    maxConnections: provider.max_connections ?? 256,
    timeouts,
    orgId: null,
    source: 'file',
  };
}

function readCredentials(provider: ProviderFile, at: string, environment: Environment): CredentialConfig[] {
  if (provider.credentials === undefined) {
    const apiKey = provider.api_key_env ? environment[provider.api_key_env] : undefined;
    if (provider.api_key_env && !apiKey) {
      throw new ConfigError(`${at}.api_key_env`, `environment variable ${provider.api_key_env} is not set`);
    }
    return [{ id: 'default', apiKey, weight: 1 }];
  }
  const seen = new Set<string>();
  const credentials = provider.credentials.map((credential, index) => {
    const path = `${at}.credentials[${index}]`;
    if (seen.has(credential.id)) throw new ConfigError(`${path}.id`, `"${credential.id}" is already used`);
    seen.add(credential.id);
    const apiKey = environment[credential.api_key_env];
    if (!apiKey) {
      throw new ConfigError(`${path}.api_key_env`, `environment variable ${credential.api_key_env} is not set`);
    }
    return { id: credential.id, apiKey, weight: credential.weight ?? 1 };
  });
  if (credentials.every((credential) => credential.weight === 0)) {
    throw new ConfigError(`${at}.credentials`, 'the weights sum to zero, so no credential could be used');
  }
  return credentials;
}

/** A preset implies type openai-compatible; without one, the type must be given. */
function resolveProviderKind(
  provider: ProviderFile,
  at: string,
): { type: ProviderType; preset: ProviderPreset | undefined } {
  if (provider.preset === undefined) {
    if (provider.type === undefined) throw new ConfigError(`${at}.type`, 'is required unless a preset is given');
    return { type: provider.type, preset: undefined };
  }
  const preset = findPreset(provider.preset);
  if (!preset) {
    throw new ConfigError(
      `${at}.preset`,
      `unknown preset "${provider.preset}" (known presets: ${presetNames.join(', ')})`,
    );
  }
  if (provider.type !== undefined && provider.type !== 'openai-compatible') {
    throw new ConfigError(`${at}.type`, 'must be openai-compatible (or left out) when a preset is given');
  }
  return { type: 'openai-compatible', preset };
}

function toModelConfigs(models: ModelFile[], providers: ProviderConfig[], routing: RoutingConfig): ModelConfig[] {
  const configs = models.map((model, index) => {
    try {
      return toModelConfig(model, `models[${index}]`, routing, { orgId: null, source: 'file' });
    } catch (error) {
      if (error instanceof RegistryValueError) throw new ConfigError(error.path, error.detail);
      throw error;
    }
  });
  const problem = findRegistryProblems(providers, configs)[0];
  if (problem) throw new ConfigError(problem.path, problem.message);
  return configs;
}

function readTrafficConfig(environment: Environment): TrafficConfig {
  return {
    defaultMaxTokens: readInteger(environment, 'AIHUB_TRAFFIC_DEFAULT_MAX_TOKENS', 1, 10_000_000) ?? 4096,
    leaseMs: readInteger(environment, 'AIHUB_TRAFFIC_LEASE_MS', 1000, 3_600_000) ?? 60_000,
    pollMs: readInteger(environment, 'AIHUB_TRAFFIC_POLL_MS', 50, 600_000) ?? 1000,
    heartbeatMs: readInteger(environment, 'AIHUB_INSTANCE_HEARTBEAT_MS', 100, 600_000) ?? 5000,
  };
}

function readRoutingConfig(environment: Environment, file: ConfigFile['routing']): RoutingConfig {
  return {
    breaker: toBreaker(file?.breaker),
    respectUpstreamLimits: file?.respect_upstream_limits ?? true,
    retry: toRetryPolicy(file?.retry, defaultRetryPolicy),
    timeouts: toTimeouts(file?.timeouts, defaultTimeouts),
    registryPollMs: readInteger(environment, 'AIHUB_REGISTRY_POLL_MS', 50, 600_000) ?? 1000,
  };
}

function readSecretKey(environment: Environment, dataDir: string, generate: boolean): Buffer {
  const fromEnvironment = emptyToUndefined(environment.AIHUB_SECRET_KEY);
  if (fromEnvironment) {
    try {
      return parseSecretKey(fromEnvironment);
    } catch (error) {
      throw new ConfigError('AIHUB_SECRET_KEY', (error as Error).message);
    }
  }
  const keyFile = path.join(dataDir, 'secret.key');
  if (existsSync(keyFile)) return parseSecretKey(readFileSync(keyFile, 'utf8'));
  if (!generate) {
    throw new ConfigError('AIHUB_SECRET_KEY', `is not set and ${keyFile} does not exist`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(keyFile, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  return key;
}

function readInteger(environment: Environment, name: string, minimum: number, maximum: number): number | undefined {
  const text = emptyToUndefined(environment[name]);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    throw new ConfigError(name, `must be an integer between ${minimum} and ${maximum}`);
  }
  return value;
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
