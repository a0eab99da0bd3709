import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load-config.ts';
import { repositoryRoot } from '../cli/cli-process.ts';

const examplePath = path.join(repositoryRoot, 'examples/aihub.yaml');
const secretKey = Buffer.alloc(32, 7);

/** A provider needs no local server to answer: its base URL is not a loopback or private address. */
function isLocal(baseUrl: string): boolean {
  const host = new URL(baseUrl).hostname;
  return host === 'localhost' || host.startsWith('127.') || host === '[::1]' || host.startsWith('192.168.');
}

describe('examples/aihub.yaml', () => {
  it('works for someone with only an OpenAI key: every deployment reaches a provider that is usable', () => {
    const config = loadConfig({
      environment: { AIHUB_CONFIG: examplePath, OPENAI_API_KEY: 'sk-only-openai' },
      overrides: { secretKey, dataDir: '/tmp/aihub-example-unused' },
    });
    const providers = new Map(config.providers.map((provider) => [provider.id, provider]));
    expect(config.models.length).toBeGreaterThan(0);
    for (const model of config.models) {
      for (const deployment of model.deployments) {
        const provider = providers.get(deployment.providerId);
        expect(provider, `${model.name} → ${deployment.providerId}`).toBeDefined();
        expect(provider!.credentials[0]?.apiKey, `${provider!.id} has its key`).toBe('sk-only-openai');
        expect(isLocal(provider!.baseUrl), `${provider!.id} needs no local server`).toBe(false);
      }
    }
    expect(config.operations.demoProvider).toBe(false);
  });

  it('keeps the opt-in Ollama section valid: uncommented, it loads and takes a quarter of gpt-4o-mini', () => {
    const text = readFileSync(examplePath, 'utf8');
    const uncommented = text.replace(/^(\s*)# (- .*(?:ollama|local-ollama).*|\s{2}(?:preset|base_url): .*)$/gm, '$1$2');
    expect(uncommented).not.toBe(text);
    const config = loadConfig({
      environment: { OPENAI_API_KEY: 'sk-only-openai' },
      overrides: { secretKey, dataDir: '/tmp/aihub-example-unused', file: parseYaml(uncommented) },
    });
    const ollama = config.providers.find((provider) => provider.id === 'local-ollama');
    expect(ollama).toMatchObject({ preset: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1' });
    const mini = config.models.find((model) => model.name === 'gpt-4o-mini');
    expect(mini?.deployments.map((deployment) => [deployment.providerId, deployment.weight])).toEqual([
      ['openai', 3],
      ['local-ollama', 1],
    ]);
  });
});
