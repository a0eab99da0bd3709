import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load-config.ts';

/** Loads only the providers part: the file is given inline and the secret key directly, so nothing touches disk. */
function loadProviders(providers: unknown[], environment: Record<string, string> = {}) {
  return loadConfig({ environment, overrides: { file: { providers }, secretKey: Buffer.alloc(32) } }).providers;
}

function configErrorFor(providers: unknown[], environment: Record<string, string> = {}): ConfigError {
  try {
    loadProviders(providers, environment);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but loading succeeded');
}

describe('provider presets in config', () => {
  it('takes type openai-compatible and the base URL from the preset', () => {
    const [provider] = loadProviders([{ id: 'ds', preset: 'deepseek', api_key_env: 'DS_KEY' }], { DS_KEY: 'sk-ds' });
    expect(provider).toMatchObject({
      id: 'ds',
      type: 'openai-compatible',
      preset: 'deepseek',
      baseUrl: 'https://api.deepseek.com',
      credentials: [{ id: 'default', apiKey: 'sk-ds', weight: 1 }],
    });
  });

  it('lets base_url override the preset (another region), trimming the trailing slash', () => {
    const [provider] = loadProviders(
      [
        {
          id: 'q',
          preset: 'qwen',
          base_url: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1/',
          api_key_env: 'K',
        },
      ],
      { K: 'sk' },
    );
    expect(provider).toMatchObject({
      preset: 'qwen',
      baseUrl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
    });
  });

  it('accepts an explicit type openai-compatible beside a preset', () => {
    const [provider] = loadProviders([{ id: 'o', type: 'openai-compatible', preset: 'ollama' }]);
    expect(provider).toMatchObject({
      type: 'openai-compatible',
      preset: 'ollama',
      baseUrl: 'http://127.0.0.1:11434/v1',
    });
    expect(provider?.credentials).toEqual([{ id: 'default', apiKey: undefined, weight: 1 }]);
  });

  it('names providers[i].preset for an unknown preset and lists the known ones', () => {
    const error = configErrorFor([{ id: 'x', preset: 'deepseek-v9' }]);
    expect(error.field).toBe('providers[0].preset');
    expect(error.message).toContain('unknown preset "deepseek-v9"');
    expect(error.message).toContain('deepseek, qwen');
  });

  it('rejects a preset combined with another type', () => {
    const error = configErrorFor([{ id: 'x', type: 'anthropic', preset: 'groq', api_key_env: 'K' }], { K: 'k' });
    expect(error.field).toBe('providers[0].type');
  });

  it('requires a key for cloud presets and names api_key_env', () => {
    const error = configErrorFor([{ id: 'g', preset: 'groq' }]);
    expect(error.field).toBe('providers[0].api_key_env');
    expect(error.message).toContain('preset groq needs an API key');
  });

  it('requires a type when there is no preset', () => {
    expect(configErrorFor([{ id: 'x', base_url: 'https://example.com/v1' }]).field).toBe('providers[0].type');
  });
});

describe('provider base URLs', () => {
  it.each([
    ['openai', 'https://api.openai.com/v1'],
    ['anthropic', 'https://api.anthropic.com'],
    ['gemini', 'https://generativelanguage.googleapis.com/v1beta'],
  ])('defaults base_url for type %s', (type, baseUrl) => {
    expect(loadProviders([{ id: 'p', type }])[0]).toMatchObject({ type, preset: undefined, baseUrl });
  });

  it('names base_url for openai-compatible without a preset', () => {
    const error = configErrorFor([{ id: 'b', type: 'openai-compatible' }]);
    expect(error.field).toBe('providers[0].base_url');
    expect(error.message).toContain('without a preset');
  });

  it('still rejects a base_url that is not http(s)', () => {
    expect(configErrorFor([{ id: 'p', preset: 'vllm', base_url: 'ftp://example.com' }]).field).toBe(
      'config: providers[0].base_url',
    );
  });
});

describe('azure-openai providers', () => {
  const azure = {
    id: 'azure',
    type: 'azure-openai',
    base_url: 'https://contoso.openai.azure.com',
    api_key_env: 'AZURE_KEY',
    options: { api_version: '2024-10-21' },
  };

  it('loads with its resource URL and api_version', () => {
    expect(loadProviders([azure], { AZURE_KEY: 'k' })[0]).toMatchObject({
      type: 'azure-openai',
      baseUrl: 'https://contoso.openai.azure.com',
      options: { api_version: '2024-10-21' },
    });
  });

  it('names base_url when the resource URL is missing', () => {
    const error = configErrorFor([{ ...azure, base_url: undefined }], { AZURE_KEY: 'k' });
    expect(error.field).toBe('providers[0].base_url');
    expect(error.message).toContain('https://<resource>.openai.azure.com');
  });

  it('names options.api_version when it is missing', () => {
    expect(configErrorFor([{ ...azure, options: {} }], { AZURE_KEY: 'k' }).field).toBe(
      'providers[0].options.api_version',
    );
  });
});
