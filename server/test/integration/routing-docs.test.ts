import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load-config.ts';
import { ModelCatalog } from '../../src/gateway/model-catalog.ts';

const repositoryRoot = path.resolve(import.meta.dirname, '../../..');

/** The worked example of docs/routing.md is a configuration AI Hub accepts, and means what the text says. */
describe('the routing guide', () => {
  it('has a worked example that loads, with the tiers, pool, prices and fallbacks the text describes', () => {
    const guide = readFileSync(path.join(repositoryRoot, 'docs/routing.md'), 'utf8');
    const block = /```yaml\n([\s\S]*?)```/.exec(guide)?.[1];
    expect(block).toBeDefined();
    const config = loadConfig({
      environment: { OPENAI_KEY_MAIN: 'sk-main', OPENAI_KEY_SPARE: 'sk-spare', AZURE_KEY: 'azure-key' },
      overrides: { file: parseYaml(block ?? ''), secretKey: Buffer.alloc(32), dataDir: '/nonexistent' },
      generateSecretKey: false,
    });
    const table = new ModelCatalog(config);
    const model = table.resolve('gpt-4o');
    expect(model?.strategy).toBe('lowest-latency');
    expect(model?.tiers.map((tier) => tier.map((deployment) => deployment.id))).toEqual([
      ['openai-east/gpt-4o-2024-08-06'],
      ['azure-west/gpt-4o'],
    ]);
    const [east, west] = model?.deployments ?? [];
    expect(east?.credentials.map((credential) => [credential.key, credential.weight])).toEqual([
      ['openai-east/gpt-4o-2024-08-06#main', 2],
      ['openai-east/gpt-4o-2024-08-06#spare', 1],
    ]);
    expect(east?.timeouts).toEqual({ connectMs: 2000, firstByteMs: 20_000, streamIdleMs: 30_000, totalMs: 300_000 });
    expect(west?.pricing.inputPerMillion).toBe(2_750_000);
    expect(east?.pricing.inputPerMillion).toBe(2_500_000);
    expect(west?.timeouts.firstByteMs).toBe(30_000);
    expect(model?.fallbacks).toEqual({
      contextLength: 'gpt-4.1',
      contentPolicy: 'gpt-4o-mini',
      unavailable: ['gpt-4o-mini'],
    });
    expect(config.routing.breaker).toMatchObject({ consecutiveFailures: 5, failureRate: 0.5, openMs: 30_000 });
  });
});
