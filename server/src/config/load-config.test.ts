import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import type { ConfigFile } from './file-schema.ts';
import { ConfigError, loadConfig } from './load-config.ts';

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'aihub-config-'));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every load gets its own data directory, so no test writes a secret key into the working directory. */
function load(environment: Record<string, string | undefined> = {}): ReturnType<typeof loadConfig> {
  return loadConfig({ environment: { AIHUB_DATA_DIR: dataDir, ...environment } });
}

/** Writes a YAML config file and returns the environment that points at it. */
function withConfigFile(content: unknown): { AIHUB_CONFIG: string } {
  const filePath = path.join(dataDir, 'aihub.yaml');
  writeFileSync(filePath, typeof content === 'string' ? content : stringifyYaml(content));
  return { AIHUB_CONFIG: filePath };
}

function catchConfigError(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but loading succeeded');
}

const validFile: ConfigFile = {
  server: { host: '0.0.0.0', port: 9090, body_limit_bytes: 2048 },
  providers: [
    {
      id: 'openai',
      type: 'openai',
      base_url: 'https://api.openai.com/v1/',
      api_key_env: 'TEST_OPENAI_KEY',
      headers: { 'x-team': 'search' },
    },
    { id: 'local', type: 'openai-compatible', base_url: 'http://127.0.0.1:11434/v1', max_connections: 8 },
  ],
  models: [
    {
      name: 'gpt-4o',
      aliases: ['gpt4', 'default'],
      pricing: { input: '2.50', output: 10, cached_input: '1.25' },
      deployments: [
        { provider: 'openai', model: 'gpt-4o-2024-08-06', weight: 3 },
        { provider: 'local', model: 'llama' },
      ],
    },
    { name: 'embed', kind: 'embedding', pricing: { input: 0.02 }, deployments: [{ provider: 'local', model: 'e5' }] },
  ],
};

describe('loadConfig from the environment', () => {
  it('uses defaults when nothing is set', () => {
    const config = load();
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      bodyLimitBytes: 16 * 1024 * 1024,
      dataDir,
      databaseUrl: undefined,
      logLevel: 'info',
      bootstrapKey: undefined,
      keyRevocationPollMs: 1000,
      metering: { flushIntervalMs: 250, maxBatchSize: 1000 },
      providers: [],
      models: [],
      configFile: undefined,
    });
  });

  it('reads every variable it knows', () => {
    const config = load({
      AIHUB_HOST: '0.0.0.0',
      AIHUB_PORT: '9000',
      AIHUB_BODY_LIMIT_BYTES: '4096',
      DATABASE_URL: 'postgresql://user@db:5432/aihub',
      AIHUB_LOG_LEVEL: 'warn',
      AIHUB_BOOTSTRAP_KEY: 'sk-aihub-bootstrap-0000000000000',
      AIHUB_KEY_REVOCATION_POLL_MS: '200',
      AIHUB_METER_FLUSH_MS: '60000',
      AIHUB_METER_BATCH: '50',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 9000,
      bodyLimitBytes: 4096,
      databaseUrl: 'postgresql://user@db:5432/aihub',
      logLevel: 'warn',
      bootstrapKey: 'sk-aihub-bootstrap-0000000000000',
      keyRevocationPollMs: 200,
      metering: { flushIntervalMs: 60_000, maxBatchSize: 50 },
    });
  });

  it('treats empty variables as unset', () => {
    const config = load({ AIHUB_PORT: '', DATABASE_URL: ' ', AIHUB_BOOTSTRAP_KEY: '' });
    expect(config.port).toBe(8080);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.bootstrapKey).toBeUndefined();
  });

  it.each([
    ['AIHUB_PORT', 'eighty'],
    ['AIHUB_PORT', '65536'],
    ['AIHUB_PORT', '80.5'],
    ['AIHUB_METER_FLUSH_MS', '5'],
    ['AIHUB_METER_BATCH', '0'],
    ['AIHUB_BODY_LIMIT_BYTES', '10'],
  ])('names %s when it is %j', (name, value) => {
    const error = catchConfigError(() => load({ [name]: value }));
    expect(error.field).toBe(name);
    expect(error.message).toMatch(new RegExp(`^${name}: must be an integer between`));
  });

  it('rejects a DATABASE_URL that is not PostgreSQL', () => {
    expect(catchConfigError(() => load({ DATABASE_URL: 'mysql://db/aihub' })).field).toBe('DATABASE_URL');
  });

  it('lets overrides win over the environment', () => {
    const config = loadConfig({
      environment: { AIHUB_DATA_DIR: dataDir, AIHUB_PORT: '9000' },
      overrides: { port: 0, host: '::1' },
    });
    expect(config.port).toBe(0);
    expect(config.host).toBe('::1');
  });
});

describe('loadConfig from a YAML file', () => {
  it('reads providers, models and server settings, with prices in integer micro-units', () => {
    const environment = { ...withConfigFile(validFile), TEST_OPENAI_KEY: 'sk-upstream' };
    const config = load(environment);

    expect(config.configFile).toBe(environment.AIHUB_CONFIG);
    expect(config).toMatchObject({ host: '0.0.0.0', port: 9090, bodyLimitBytes: 2048 });
    // A subset match, so settings added to providers later need no edit here; the list length is still exact.
    expect(config.providers).toMatchObject([
      {
        id: 'openai',
        type: 'openai',
        baseUrl: 'https://api.openai.com/v1',
        credentials: [{ id: 'default', apiKey: 'sk-upstream', weight: 1 }],
        headers: { 'x-team': 'search' },
        maxConnections: 256,
        timeouts: { connectMs: 10_000, firstByteMs: 600_000, streamIdleMs: 600_000, totalMs: 1_800_000 },
      },
      {
        id: 'local',
        type: 'openai-compatible',
        baseUrl: 'http://127.0.0.1:11434/v1',
        credentials: [{ id: 'default', apiKey: undefined, weight: 1 }],
        headers: {},
        maxConnections: 8,
        timeouts: { connectMs: 10_000, firstByteMs: 600_000, streamIdleMs: 600_000, totalMs: 1_800_000 },
      },
    ]);
    expect(config.models).toMatchObject([
      {
        name: 'gpt-4o',
        kind: 'chat',
        aliases: ['gpt4', 'default'],
        pricing: {
          inputPerMillion: 2_500_000,
          outputPerMillion: 10_000_000,
          cachedInputPerMillion: 1_250_000,
          cacheWritePerMillion: 2_500_000,
          perRequest: 0,
          priced: true,
        },
        deployments: [
          { providerId: 'openai', upstreamModel: 'gpt-4o-2024-08-06', weight: 3, priority: 1, pricing: undefined },
          { providerId: 'local', upstreamModel: 'llama', weight: 1, priority: 1, pricing: undefined },
        ],
        strategy: 'weighted',
        orgId: null,
        source: 'file',
      },
      {
        name: 'embed',
        kind: 'embedding',
        aliases: [],
        // Cached input defaults to the input price: a provider that does not discount caching charges in full.
        pricing: { inputPerMillion: 20_000, outputPerMillion: 0, cachedInputPerMillion: 20_000 },
        deployments: [{ providerId: 'local', upstreamModel: 'e5', weight: 1 }],
      },
    ]);
  });

  it('lets the environment win over the file', () => {
    const config = load({ ...withConfigFile(validFile), TEST_OPENAI_KEY: 'x', AIHUB_PORT: '7000' });
    expect(config.port).toBe(7000);
  });

  it('accepts an empty file', () => {
    expect(load(withConfigFile('')).models).toEqual([]);
  });

  it('names the field that is wrong as a path into the file', () => {
    const file = structuredClone(validFile);
    file.providers![0]!.base_url = 'ftp://example.com';
    const environment = { ...withConfigFile(file), TEST_OPENAI_KEY: 'x' };

    const error = catchConfigError(() => load(environment));

    expect(error.field).toBe(`${environment.AIHUB_CONFIG}: providers[0].base_url`);
    expect(error.message).toContain('providers[0].base_url');
  });

  it('names a nested field inside a list inside a list', () => {
    const file = structuredClone(validFile);
    file.models![0]!.deployments[1]!.weight = -1;
    const error = catchConfigError(() => load({ ...withConfigFile(file), TEST_OPENAI_KEY: 'x' }));
    expect(error.field).toContain('models[0].deployments[1].weight');
  });

  it('names an unknown field', () => {
    const file = { ...validFile, providers: [{ ...validFile.providers![1], api_key: 'sk-inline-secret' }] };
    const error = catchConfigError(() => load(withConfigFile(file)));
    expect(error.field).toContain('providers[0].api_key');
    expect(error.message).toMatch(/unknown field$/);
  });

  it('names an unknown top-level field', () => {
    const error = catchConfigError(() => load(withConfigFile({ modles: [] })));
    expect(error.field).toMatch(/: modles$/);
    expect(error.message).toContain('unknown field');
  });

  it('rejects a price with more than six decimals', () => {
    const file = structuredClone(validFile);
    file.models![0]!.pricing = { input: '0.0000001' };
    const error = catchConfigError(() => load({ ...withConfigFile(file), TEST_OPENAI_KEY: 'x' }));
    expect(error.field).toContain('models[0].pricing.input');
  });

  it('rejects a numeric price that cannot be read as a plain decimal', () => {
    const file = structuredClone(validFile);
    file.models![1]!.pricing = { input: 1e-7 };
    const error = catchConfigError(() => load({ ...withConfigFile(file), TEST_OPENAI_KEY: 'x' }));
    expect(error.field).toBe('models[1].pricing.input');
  });

  it('rejects two models with the same name', () => {
    const file = structuredClone(validFile);
    file.models![1]!.name = 'gpt-4o';
    const error = catchConfigError(() => load({ ...withConfigFile(file), TEST_OPENAI_KEY: 'x' }));
    expect(error.field).toBe('models[1].name');
    expect(error.message).toContain('"gpt-4o" is already used by gpt-4o');
  });

  it('rejects a model whose alias is another model name or alias', () => {
    const aliasIsName = structuredClone(validFile);
    aliasIsName.models![1]!.name = 'embed';
    aliasIsName.models![1]!.aliases = ['gpt-4o'];
    expect(catchConfigError(() => load({ ...withConfigFile(aliasIsName), TEST_OPENAI_KEY: 'x' })).message).toContain(
      '"gpt-4o" is already used',
    );

    const aliasIsAlias = structuredClone(validFile);
    aliasIsAlias.models![1]!.aliases = ['default'];
    expect(catchConfigError(() => load({ ...withConfigFile(aliasIsAlias), TEST_OPENAI_KEY: 'x' })).message).toContain(
      '"default" is already used',
    );
  });

  it('rejects a deployment on an unknown provider, naming where it is', () => {
    const file = structuredClone(validFile);
    file.models![0]!.deployments[1]!.provider = 'azure';
    const error = catchConfigError(() => load({ ...withConfigFile(file), TEST_OPENAI_KEY: 'x' }));
    expect(error.field).toBe('models[0].deployments[1].provider');
    expect(error.message).toContain('unknown provider "azure"');
  });

  it('rejects a provider whose credential variable is not set', () => {
    const error = catchConfigError(() => load(withConfigFile(validFile)));
    expect(error.field).toBe('providers[0].api_key_env');
    expect(error.message).toContain('TEST_OPENAI_KEY is not set');
  });

  it('reports a file that is not YAML or cannot be read', () => {
    expect(catchConfigError(() => load(withConfigFile('providers: [unclosed'))).message).toContain('not valid YAML');
    expect(catchConfigError(() => load({ AIHUB_CONFIG: path.join(dataDir, 'missing.yaml') })).field).toBe(
      'AIHUB_CONFIG',
    );
  });
});

describe('loadConfig secret key', () => {
  it('generates a key once into the data directory, readable only by its owner, and reuses it', () => {
    const first = load();
    const keyFile = path.join(dataDir, 'secret.key');

    expect(first.secretKey).toHaveLength(32);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8').trim()).toBe(first.secretKey.toString('hex'));

    const second = load();
    expect(second.secretKey.equals(first.secretKey)).toBe(true);
  });

  it('prefers AIHUB_SECRET_KEY and writes no file', () => {
    const key = randomBytes(32);
    expect(load({ AIHUB_SECRET_KEY: key.toString('base64') }).secretKey.equals(key)).toBe(true);
    expect(() => statSync(path.join(dataDir, 'secret.key'))).toThrow();
  });

  it('names AIHUB_SECRET_KEY when it is not a 32-byte key', () => {
    expect(catchConfigError(() => load({ AIHUB_SECRET_KEY: 'too-short' })).field).toBe('AIHUB_SECRET_KEY');
  });

  it('refuses to invent a key when told not to', () => {
    const error = catchConfigError(() =>
      loadConfig({ environment: { AIHUB_DATA_DIR: dataDir }, generateSecretKey: false }),
    );
    expect(error.field).toBe('AIHUB_SECRET_KEY');
  });
});

describe('loadConfig result', () => {
  it('is frozen all the way down', () => {
    const config = load({ ...withConfigFile(validFile), TEST_OPENAI_KEY: 'x' });

    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.metering)).toBe(true);
    expect(Object.isFrozen(config.providers)).toBe(true);
    expect(Object.isFrozen(config.providers[0]?.headers)).toBe(true);
    expect(Object.isFrozen(config.models[0]?.deployments[0])).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.models as unknown[]).push({});
    }).toThrow(TypeError);
    expect(config.port).toBe(9090);
  });
});
